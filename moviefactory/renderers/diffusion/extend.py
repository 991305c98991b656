"""Long shots by extension (the idea of StreamingT2V): a model that makes a few seconds at a time is
run chunk after chunk, each chunk conditioned on

- the last `overlap` frames of the chunk before it (short-term memory: motion carries on), and
- an anchor frame from the first chunk (long-term memory: the rider keeps her coat and the sky its
  colour, instead of drifting a little more with every chunk),

and the overlapping frames are blended with StreamingT2V's randomised blending, so no seam shows.

The chunk loop is generic over `ConditionedGenerator`; `DiffusersImageToVideoGenerator` adapts an
image-to-video diffusers pipeline (StableVideoDiffusionPipeline, LTXImageToVideoPipeline, …) and
`DiffusersVideoToVideoGenerator` a video-to-video one (WanVideoToVideoPipeline,
CogVideoXVideoToVideoPipeline), for text-to-video models whose weights have no image-to-video twin.
"""
from __future__ import annotations

import inspect
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, runtime_checkable

import numpy as np

from ...config import Format
from ...errors import ConfigError, InputError
from ...media.frames import read_frames, write_frames
from ..base import Clip
from .base import ModelEntry, entry, generation_size, load_for_device, to_uint8_frames
from .motion import generation_rate, motion_controls


@runtime_checkable
class ConditionedGenerator(Protocol):
    def generate(self, prompt: str, *, frames: int, condition: np.ndarray | None, anchor: np.ndarray | None,
                 seed: int) -> np.ndarray:
        """About `frames` frames (T, H, W, 3) uint8. With `condition` (the previous chunk's last frames,
        (T, H, W, 3) uint8) the chunk starts *at* those frames: its first len(condition) frames re-render
        them, and the rest continue. `anchor` is one frame from the first chunk, to hold appearance."""
        ...


def extend(generator: ConditionedGenerator, prompt: str, total_frames: int, *, chunk_frames: int, overlap: int,
           seed: int, first: np.ndarray | None = None, blend: bool = True, jitter: float = 0.5) -> np.ndarray:
    """A shot of exactly `total_frames` frames, made chunk by chunk.

    Without `first`, chunk 1 comes from the prompt alone; with it (an existing clip, (T, H, W, 3)
    uint8), the result starts with those frames and continues them (its last `overlap` frames are
    blended toward the continuation, as every overlap is). Every later chunk adds
    `chunk_frames - overlap` new frames. `blend=False` butts chunks together without blending (for
    comparison); `jitter` moves each overlap's crossover point by up to that fraction of its half-width.
    """
    # 1. Check inputs
    if total_frames < 1:
        raise InputError(f"total_frames must be >= 1, not {total_frames}")
    if not 1 <= overlap < chunk_frames:
        raise InputError(f"overlap must be in [1, chunk_frames): overlap={overlap}, chunk_frames={chunk_frames}")

    # 2. The first chunk, and the anchor that holds appearance for the rest of the shot
    if first is None:
        shot = _chunk(generator, prompt, chunk_frames, None, None, seed, None)
        anchor_from = shot
    else:
        shot = to_uint8_frames(first)
        anchor_from = shot[-chunk_frames:]  # the part of the given clip the continuation must still match
    anchor = anchor_from[len(anchor_from) // 2]
    size = shot.shape[1:3]
    rng = np.random.default_rng(seed)

    # 3. Later chunks, each overlapping the tail of the shot so far
    k = 0
    while len(shot) < total_frames:
        k += 1
        window = shot[-overlap:] if len(shot) >= overlap else shot
        chunk = _chunk(generator, prompt, chunk_frames, window, anchor, seed + k, size)
        o = len(window)
        if len(chunk) <= o:
            raise InputError(f"the generator returned {len(chunk)} frames for a chunk that overlaps {o}: "
                             "nothing new to add", stage="render")
        if blend:
            weights = blend_weights(o, rng, jitter)[:, None, None, None]
            mixed = (1 - weights) * shot[-o:].astype(np.float32) + weights * chunk[:o].astype(np.float32)
            shot = np.concatenate([shot[:-o], mixed.round().astype(np.uint8), chunk[o:]])
        else:
            shot = np.concatenate([shot, chunk[o:]])
    return shot[:total_frames]


def continuation_overlap(chunk_frames: int) -> int:
    """Frames each continuation chunk shares with the shot so far. Short: an image-to-video chunk is
    conditioned on the window's first frame only, so a long window would blend two diverging motions."""
    return max(2, min(8, chunk_frames // 4))


def blend_weights(overlap: int, rng: np.random.Generator, jitter: float = 0.5) -> np.ndarray:
    """StreamingT2V's randomised blending, per frame: weight of the NEW chunk for each overlap frame.

    A ramp from the old chunk to the new one whose crossover point is moved at random (seeded) by
    up to `jitter` of the half-width, so seams do not all sit at the same place in every overlap;
    strictly between 0 and 1, never decreasing.
    """
    centre = (overlap + 1) / 2 + rng.uniform(-jitter, jitter) * (overlap - 1) / 2
    positions = np.arange(1, overlap + 1)
    return np.clip(0.5 + (positions - centre) / (overlap + 1), 0.02, 0.98).astype(np.float32)


def _chunk(generator: ConditionedGenerator, prompt: str, frames: int, condition: np.ndarray | None,
           anchor: np.ndarray | None, seed: int, size: tuple[int, int] | None) -> np.ndarray:
    chunk = to_uint8_frames(generator.generate(prompt, frames=frames, condition=condition, anchor=anchor, seed=seed))
    if size is not None and chunk.shape[1:3] != tuple(size):
        chunk = resize_frames(chunk, size)
    return chunk


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, size[0], size[1], 3), Lanczos (height, width order, like the arrays)."""
    from PIL import Image

    h, w = size
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.LANCZOS)) for f in frames])


class DiffusersImageToVideoGenerator:
    """A `ConditionedGenerator` over an image-to-video diffusers pipeline.

    Short-term memory: the pipeline's conditioning image is the FIRST frame of the overlap window,
    so the chunk's opening frames re-render the window (which `extend` then blends across) and the
    rest continue it.

    Long-term memory (the anchor), two ways, chosen by what the pipeline offers:
    - pipelines that encode the image twice, a CLIP image embedding for appearance (cross-attention)
      and a VAE latent for layout (StableVideoDiffusionPipeline's `_encode_image`), get the anchor's
      CLIP embedding and the window frame's latent: StreamingT2V's appearance-preservation module
      does the same with the anchor's CLIP features. The embedding is swapped for the one call only.
    - others (LTXImageToVideoPipeline conditions through latents alone) get `anchor_weight` of the
      anchor mixed into the conditioning image's pixels: enough to pull colour and light back toward
      the first chunk, too little to ghost its layout in.
    """

    def __init__(self, pipe, *, size: tuple[int, int] | None = None, steps: int = 25, multiple: int = 8,
                 anchor_weight: float = 0.25, legal_frames: Callable[[int], int] | None = None,
                 negative_prompt: str | None = None, device: str | None = None,
                 call_kwargs: Mapping[str, Any] | None = None) -> None:
        self.pipe = pipe
        self.size = size  # (width, height) to generate at; None: the condition's size, rounded to `multiple`
        self.steps, self.multiple = steps, multiple
        self.anchor_weight = anchor_weight
        self.legal_frames = legal_frames or (lambda n: n)  # e.g. ModelEntry.legal_frames (LTX: 8k+1)
        self.negative_prompt = negative_prompt
        self.device = device or "cpu"
        self.call_kwargs = dict(call_kwargs or {})  # e.g. {"fps": 7, "motion_bucket_id": 127, "decode_chunk_size": 8}
        self._params = set(inspect.signature(pipe.__call__).parameters)
        self.anchor_mode = "embedding" if hasattr(pipe, "_encode_image") and getattr(pipe, "image_encoder", None) \
            else "pixels"

    def generate(self, prompt: str, *, frames: int, condition: np.ndarray | None, anchor: np.ndarray | None,
                 seed: int) -> np.ndarray:
        import torch
        from PIL import Image

        if condition is None:
            raise InputError("an image-to-video model needs a frame to start from: give extend() a first clip "
                             "or keyframe", stage="render")
        start = to_uint8_frames(condition)[0]
        width, height = self.size or self._rounded(start.shape[1], start.shape[0])
        image = start
        if anchor is not None and self.anchor_mode == "pixels":
            image = ((1 - self.anchor_weight) * start.astype(np.float32)
                     + self.anchor_weight * _fit(anchor, start.shape[:2]).astype(np.float32)).round().astype(np.uint8)
        kwargs: dict[str, Any] = {
            "image": Image.fromarray(image).resize((width, height), Image.LANCZOS),
            "height": height, "width": width, "num_frames": self.legal_frames(frames),
            "num_inference_steps": self.steps, "output_type": "np",
            "generator": torch.Generator(device="cpu").manual_seed(seed),
        }
        if "prompt" in self._params:
            kwargs["prompt"] = prompt
        if self.negative_prompt and "negative_prompt" in self._params:
            kwargs["negative_prompt"] = self.negative_prompt
        kwargs.update(self.call_kwargs)
        with self._anchor_embedding(anchor, width, height):
            result = self.pipe(**kwargs)
        return to_uint8_frames(result.frames)[:frames]

    @contextmanager
    def _anchor_embedding(self, anchor: np.ndarray | None, width: int, height: int) -> Iterator[None]:
        if anchor is None or self.anchor_mode != "embedding":
            yield
            return
        from PIL import Image

        encode = self.pipe._encode_image
        anchor_image = Image.fromarray(to_uint8_frames(anchor)[0]).resize((width, height), Image.LANCZOS)
        self.pipe._encode_image = lambda _image, *args, **kwargs: encode(anchor_image, *args, **kwargs)
        try:
            yield
        finally:
            del self.pipe._encode_image  # back to the class's own method

    def _rounded(self, w: int, h: int) -> tuple[int, int]:
        m = self.multiple
        return max(m, w // m * m), max(m, h // m * m)


class DiffusersVideoToVideoGenerator:
    """A `ConditionedGenerator` over a video-to-video (SDEdit) diffusers pipeline.

    The chunk's input video is the overlap window followed by its last frame held (with
    `anchor_weight` of the anchor mixed in: long-term memory); the pipeline denoises it from
    `strength` toward the prompt, so the opening frames stay close to the window (short-term memory,
    which `extend` blends across) and the held tail is given motion. Weaker than a model trained to
    continue from frames, but it needs no other weights than the text-to-video model's own.
    """

    def __init__(self, pipe, *, size: tuple[int, int], steps: int = 30, strength: float = 0.8,
                 anchor_weight: float = 0.25, legal_frames: Callable[[int], int] | None = None,
                 negative_prompt: str | None = None, call_kwargs: Mapping[str, Any] | None = None) -> None:
        if not 0 < strength <= 1:
            raise ConfigError(f"video-to-video strength must be in (0, 1], not {strength}")
        self.pipe, self.size, self.steps, self.strength = pipe, size, steps, strength
        self.anchor_weight = anchor_weight
        self.legal_frames = legal_frames or (lambda n: n)
        self.negative_prompt = negative_prompt
        params = set(inspect.signature(pipe.__call__).parameters)
        # what the text-to-video call took that the video-to-video one also takes (guidance, fps, …)
        self.call_kwargs = {k: v for k, v in (call_kwargs or {}).items() if k in params}

    def generate(self, prompt: str, *, frames: int, condition: np.ndarray | None, anchor: np.ndarray | None,
                 seed: int) -> np.ndarray:
        import torch
        from PIL import Image

        if condition is None:
            raise InputError("continuing a shot video-to-video needs its last frames", stage="render")
        w, h = self.size
        held = _held_window(condition, anchor, (h, w), self.legal_frames(frames), self.anchor_weight)
        video = [Image.fromarray(f) for f in held]
        result = self.pipe(video=video, prompt=prompt, negative_prompt=self.negative_prompt, height=h, width=w,
                           num_inference_steps=self.steps, strength=self.strength, output_type="np",
                           generator=torch.Generator(device="cpu").manual_seed(seed), **self.call_kwargs)
        return to_uint8_frames(result.frames)[:frames]


class FlowLatentVideoToVideoGenerator(DiffusersVideoToVideoGenerator):
    """A `ConditionedGenerator` for a flow-matching text-to-video pipeline with no image- or
    video-to-video sibling but `latents=` and `sigmas=` arguments (HunyuanVideoPipeline): SDEdit in
    latent space. The chunk's input video (the overlap window, then its last frame held with some of
    the anchor mixed in, as `DiffusersVideoToVideoGenerator` builds it) is encoded with the
    pipeline's own VAE, noised to the first sigma of a schedule that starts at `strength`, and
    denoised from there by the same pipeline call a text-to-video shot makes.
    """

    def __init__(self, pipe, *, size: tuple[int, int], steps: int = 30, strength: float = 0.8, **options) -> None:
        params = set(inspect.signature(pipe.__call__).parameters)
        if not {"latents", "sigmas"} <= params or not hasattr(getattr(pipe, "vae", None), "encode"):
            raise ConfigError(f"{type(pipe).__name__} takes no starting latents and sigmas: it cannot continue a shot")
        super().__init__(pipe, size=size, steps=steps, strength=strength, **options)
        self.steps = max(2, round(steps * strength))  # SDEdit runs the part of the schedule it starts in
        if "negative_prompt" not in params:
            self.negative_prompt = None

    def generate(self, prompt: str, *, frames: int, condition: np.ndarray | None, anchor: np.ndarray | None,
                 seed: int) -> np.ndarray:
        import torch

        if condition is None:
            raise InputError("continuing a shot in latent space needs its last frames", stage="render")
        w, h = self.size
        video = _held_window(condition, anchor, (h, w), self.legal_frames(frames), self.anchor_weight)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        vae = self.pipe.vae
        pixels = torch.from_numpy(video).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0  # (1, 3, T, H, W)
        # where the pipeline runs (with CPU offload the VAE's own parameters may sit on the CPU or on meta)
        device = getattr(self.pipe, "_execution_device", None) or vae.device
        with torch.no_grad():
            encoded = vae.encode(pixels.to(device=device, dtype=vae.dtype)).latent_dist.sample(generator)
        latents = encoded.float().cpu() * vae.config.scaling_factor
        sigmas = np.linspace(self._unshifted(self.strength), 0.0, self.steps + 1)[:-1].tolist()
        # The scheduler may shift the sigmas it is given: noise to the level it will really start at.
        scheduler = type(self.pipe.scheduler).from_config(self.pipe.scheduler.config)
        scheduler.set_timesteps(sigmas=sigmas)
        first = float(scheduler.sigmas[0])
        noise = torch.randn(latents.shape, generator=generator)
        start = (1.0 - first) * latents + first * noise
        result = self.pipe(prompt=prompt, height=h, width=w, num_frames=len(video), num_inference_steps=self.steps,
                           sigmas=sigmas, latents=start, output_type="np", generator=generator,
                           **({"negative_prompt": self.negative_prompt} if self.negative_prompt else {}),
                           **self.call_kwargs)
        return to_uint8_frames(result.frames)[:frames]

    def _unshifted(self, sigma: float) -> float:
        """The sigma to give a scheduler that shifts its sigmas (s -> shift*s / (1 + (shift-1)*s)) so that
        it really starts at `sigma`: with Hunyuan's shift of 7, 0.8 given would start at 0.97 and keep
        almost nothing of the window."""
        config = self.pipe.scheduler.config
        shift = float(config.get("shift", 1.0) or 1.0)
        if config.get("use_dynamic_shifting") or shift == 1.0:
            return sigma
        return sigma / (shift - (shift - 1.0) * sigma)


def _held_window(condition: np.ndarray, anchor: np.ndarray | None, shape: tuple[int, int], frames: int,
                 anchor_weight: float) -> np.ndarray:
    """The overlap window at `shape` (height, width), then its last frame (with `anchor_weight` of the
    anchor mixed in) held to `frames` frames in all (at least one held frame)."""
    window = resize_frames(to_uint8_frames(condition), shape)
    n = max(frames, len(window) + 1)
    hold = window[-1].astype(np.float32)
    if anchor is not None:
        hold = (1 - anchor_weight) * hold + anchor_weight * _fit(anchor, shape).astype(np.float32)
    held = np.repeat(hold.round().astype(np.uint8)[None], n - len(window), axis=0)
    return np.concatenate([window, held])


def continuation(model: ModelEntry) -> str | None:
    """How `model` continues frames: 'i2v' (image-to-video pipeline), 'v2v' (video-to-video pipeline),
    'latents' (its own pipeline takes starting latents and sigmas), or None (it cannot)."""
    if model.task == "i2v" or model.i2v_pipeline:
        return "i2v"
    if model.v2v_pipeline:
        return "v2v"
    if model.task != "t2v":
        return None
    import diffusers

    call = getattr(diffusers, model.pipeline).__call__
    return "latents" if {"latents", "sigmas"} <= set(inspect.signature(call).parameters) \
        else None


def load_image_to_video(model: str | ModelEntry = "svd", *, clip_size: tuple[int, int], fps: Fraction | float,
                        model_path: str | Path | None = None, offline: bool = False, device: str | None = None,
                        vram_gb: float | None = None) -> ConditionedGenerator:
    """The catalogue's model as a `ConditionedGenerator` for clips of `clip_size` (width, height) at
    `fps`: its image-to-video pipeline, or else its video-to-video one (Wan, CogVideoX), or else the
    text-to-video pipeline itself started from encoded frames (HunyuanVideo); loaded at the GPU's
    memory tier, generating at the clip's aspect near the model's native pixel count, with the
    model's steps, guidance and frame rule. `model_path`: that model's own folder (as for `make`)."""
    m = model if isinstance(model, ModelEntry) else entry(model)
    kind = continuation(m)
    if kind is None:
        raise ConfigError(f"{m.name} cannot continue a clip; extending needs a video model that starts from frames "
                          "(svd, ltx-video, wan2.1-t2v, cogvideox, hunyuanvideo)")
    pipe, settings, device = load_for_device(m, source=str(model_path) if model_path else None, offline=offline,
                                             device=device, vram_gb=vram_gb, image_to_video=kind == "i2v",
                                             video_to_video=kind == "v2v")
    params = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = motion_controls(m, 0.5, generation_rate(m, Fraction(fps)))
    kwargs["max_guidance_scale" if "max_guidance_scale" in params else "guidance_scale"] = m.guidance
    if settings.get("decode_chunk_size") and "decode_chunk_size" in params:
        kwargs["decode_chunk_size"] = settings["decode_chunk_size"]
    w, h = clip_size
    size = generation_size(m, Format(name="clip", width=max(16, w), height=max(16, h), fps=max(1, round(fps))))
    if kind != "i2v":
        cls = DiffusersVideoToVideoGenerator if kind == "v2v" else FlowLatentVideoToVideoGenerator
        return cls(pipe, size=size, steps=m.steps, legal_frames=m.legal_frames, call_kwargs={**m.call, **kwargs})
    return DiffusersImageToVideoGenerator(pipe, size=size, steps=m.steps, multiple=m.multiple,
                                          legal_frames=m.legal_frames, device=device, call_kwargs=kwargs)


def _fit(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return frame if frame.shape[:2] == tuple(shape) else resize_frames(frame[None], shape)[0]


def extend_clip(path_in: Path, prompt: str, seconds: float, out: Path, generator: ConditionedGenerator, *,
                chunk_frames: int = 25, overlap: int = 8, seed: int = 0, ffmpeg: str | None = None) -> Clip:
    """`moviefactory extend clip.mp4 "the rider keeps going into the dusk" --seconds 20`: the clip,
    then `seconds` more of it, at the clip's own size and frame rate, written to `out`."""
    if seconds <= 0:
        raise InputError(f"--seconds must be positive, not {seconds}")
    frames, fps = read_frames(Path(path_in))
    total = len(frames) + max(1, round(seconds * fps))
    shot = extend(generator, prompt, total, chunk_frames=chunk_frames, overlap=min(overlap, chunk_frames - 1),
                  seed=seed, first=frames)
    return write_frames(shot, fps, Path(out), ffmpeg=ffmpeg, stage="extend")
