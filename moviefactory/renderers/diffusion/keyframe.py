"""Text -> keyframe -> video ("sdxl+svd"), the Mora recipe: a text-to-image model paints the shot's
keyframe with the character bible in its prompt, an instruction-edit model may adjust it, and an
image-to-video model animates it under motion control (VideoCrafter1-style: the shot's motion
strength becomes SVD's motion bucket, beside the model's fps conditioning).

The models are arguments, so tests give tiny pipelines and the factory loads real ones. torch and
diffusers are imported inside functions only.
"""
from __future__ import annotations

import inspect
import math
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Mapping

from ...config import Format, load_format
from ...errors import InputError, MissingDependencyError, MovieFactoryError, RenderError
from ...screenplay import Scene, Screenplay, Shot, Voice
from ..base import Clip, Prompts, RenderContext, keyframe_prompts, register_renderer  # noqa: F401 - keyframe_prompts: this module's API
from .adapters import AdapterSpec, adapters_for, apply_adapter
from .base import ModelEntry, entry, generation_size, load_pipeline, model_frames, to_uint8_frames, write_clip
from .memory import apply_memory, detect_vram_gb, free_gpu_memory, is_out_of_memory

VERSION = 2  # bump when the same inputs would render differently
IMAGE_GUIDANCE = 1.5  # InstructPix2Pix: how closely the edit keeps to the keyframe


def motion_bucket(model: ModelEntry, motion: float) -> int:
    """Shot motion 0..1 onto the model's motion-bucket range (SVD: low buckets move little)."""
    low, high = model.motion["bucket_range"]
    return int(round(low + min(max(motion, 0.0), 1.0) * (high - low)))


def _generator(seed: int, stream: int):
    """A CPU generator per step (keyframe, edit, video), so adding an edit leaves the video's noise alone.
    CPU generators give the same noise on any device."""
    import torch

    return torch.Generator("cpu").manual_seed((seed * 3 + stream) % 2**63)


def _fit(image, size: tuple[int, int]):
    """Cover-resize and centre-crop to `size`, so a still of another aspect is framed, not squashed."""
    from PIL import ImageOps

    image = image.convert("RGB")
    return image if image.size == size else ImageOps.fit(image, size)


class KeyframeVideoRenderer:
    """Keyframe with a text-to-image pipe, optional instruction edit, animation with an image-to-video pipe."""

    name = "sdxl+svd"

    def __init__(self, image_pipe, video_pipe, *, edit_pipe=None, image_model: ModelEntry, video_model: ModelEntry,
                 edit_model: ModelEntry | None = None, device: str = "cpu",
                 adapters: Mapping[str, AdapterSpec | Mapping | str] | None = None,
                 decode_chunk_size: int | None = None, edit_loader: Callable[[], Any] | None = None,
                 offline: bool = False) -> None:
        self.image_pipe, self.video_pipe, self.edit_pipe = image_pipe, video_pipe, edit_pipe
        # Loads the instruction-edit pipe the first time a shot asks for an edit (None: never).
        self._edit_loader = edit_loader if edit_pipe is None else None
        self.image_model, self.video_model = image_model, video_model
        self.edit_model = edit_model or (entry("instruct-pix2pix") if edit_pipe is not None or edit_loader else None)
        self.device, self.offline = device, offline
        # format name -> the domain adapter applied to the keyframe pipe for shots of that format
        self.adapters = {fmt: AdapterSpec.parse(spec, fmt) for fmt, spec in (adapters or {}).items()}
        self.decode_chunk_size = decode_chunk_size  # frames the VAE decodes at once (memory tier); None: all
        # Shots render on worker threads; a pipeline (and its active adapter) serves one call at a time.
        self._lock = threading.Lock()

    def cache_token(self) -> str:
        # everything that changes the frames: models, steps, guidance, precision, frames decoded at once
        parts = [f"{self.name}-{VERSION}", self.image_model.id, str(self.image_model.steps),
                 f"{self.image_model.guidance:g}", self.video_model.id, str(self.video_model.steps),
                 f"{self.video_model.guidance:g}", str(getattr(self.video_pipe, "dtype", "")),
                 f"decode={self.decode_chunk_size}"]
        if self.edit_model is not None:
            parts.append(self.edit_model.id)
        parts += [f"{fmt}={spec.token()}" for fmt, spec in sorted(self.adapters.items())]
        return "|".join(parts)

    def render(self, shot: Shot, ctx: RenderContext, out: Path, *, edit_instruction: str | None = None,
               keyframe=None) -> Clip:
        """Render `shot`; `keyframe` (a PIL image) skips painting, `edit_instruction` (default: the
        shot's own `edit`) edits the keyframe."""
        # 1. Check inputs
        edit_instruction = (edit_instruction or shot.edit).strip() or None
        self.check_inputs(shot, ctx, edit_instruction, keyframe)
        with self._lock:
            if edit_instruction and self.edit_pipe is None:
                self.edit_pipe, self._edit_loader = self._edit_loader(), None
            frames = None
            try:
                frames = self._generate(shot, ctx, edit_instruction, keyframe)
            except Exception as exc:  # noqa: BLE001 - out of memory retries once, leaner; the rest is an error
                self._raise_unless_oom(exc, shot, ctx)
                exc.__traceback__ = None  # its frames hold the failed call's GPU tensors
            if frames is None:  # retried outside the handler, so the failed attempt's memory can be freed
                self._leaner()
                try:
                    frames = self._generate(shot, ctx, edit_instruction, keyframe)
                except Exception as again:  # noqa: BLE001
                    self._raise_unless_oom(again, shot, ctx)
                    raise RenderError(
                        f"{self.name} ran out of GPU memory on shot {shot.id}, also with CPU offload and "
                        f"decode_chunk_size={self.decode_chunk_size}: use a lower tier (--vram 12) or render at draft "
                        "size (--draft)", stage="render", scene=ctx.scene.id,
                        stderr=str(again).splitlines()[0] if str(again) else None) from None
        # 6. Encode: the film's size and rate, exactly ctx.frames frames
        return write_clip(frames, self.video_model.fps, ctx, out)

    def _generate(self, shot: Shot, ctx: RenderContext, edit_instruction: str | None, keyframe):
        """Steps 2-5 of `render`: the shot's frames at the video model's rate (fresh generators each time)."""
        fmt = ctx.format
        # 2. Prompts: the character bible, verbatim, keeps people the same from shot to shot
        prompts = keyframe_prompts(shot, ctx)
        # 3. Keyframe at the format's aspect, in the domain adapter's look
        if keyframe is None:
            apply_adapter(self.image_pipe, self.adapters.get(fmt.name), offline=self.offline)
            keyframe = self.paint(prompts, fmt, ctx.seed)
        # 4. Optional instruction edit ("make it night")
        if edit_instruction:
            keyframe = self.edit(keyframe, edit_instruction, ctx.seed)
        # 5. Animate under motion control
        seconds = ctx.frames / ctx.fps
        frames = self.animate_keyframe(keyframe, shot.motion, seconds, fmt, ctx.seed, prompt=prompts.prompt,
                                       upscale=ctx.upscale)
        # 5b. Long shot (StreamingT2V): the video model continues its own last frames, chunk by chunk
        wanted = math.ceil(float(seconds) * self.video_model.fps)
        if wanted > len(to_uint8_frames(frames)):
            frames = self.extend_frames(frames, wanted, shot.motion, prompts, ctx.seed)
        return frames

    def _raise_unless_oom(self, exc: Exception, shot: Shot, ctx: RenderContext) -> None:
        if isinstance(exc, MovieFactoryError):
            raise exc  # already says what is wrong (a missing adapter, an edit without a model)
        if not is_out_of_memory(exc):
            raise RenderError(f"{self.name} failed on shot {shot.id}: {type(exc).__name__}: {exc}", stage="render",
                              scene=ctx.scene.id) from exc

    def _leaner(self) -> None:
        """After running out of memory: free what is cached, decode a quarter as many frames at once,
        and (on a GPU) keep each model on the CPU until it runs. Later shots stay lean too."""
        free_gpu_memory()
        self.decode_chunk_size = max(1, (self.decode_chunk_size or 8) // 4)
        if self.device.startswith("cuda"):
            for pipe in (self.image_pipe, self.video_pipe, self.edit_pipe):
                if pipe is not None and hasattr(pipe, "enable_model_cpu_offload"):
                    pipe.enable_model_cpu_offload()

    def release(self) -> None:
        """Give the GPU back after the shots (scene bridges load next): each model waits on the CPU
        until it runs again."""
        with self._lock:
            if self.device.startswith("cuda"):
                for pipe in (self.image_pipe, self.video_pipe, self.edit_pipe):
                    if pipe is not None and hasattr(pipe, "enable_model_cpu_offload"):
                        pipe.enable_model_cpu_offload(device=self.device)
                free_gpu_memory()

    def check_inputs(self, shot: Shot, ctx: RenderContext, edit_instruction: str | None, keyframe) -> None:
        where = {"stage": "render", "scene": ctx.scene.id}
        if ctx.frames < 1:
            raise RenderError(f"shot {shot.id}: cannot render {ctx.frames} frames", **where)
        if ctx.format.width % 2 or ctx.format.height % 2:
            raise RenderError(f"frame size {ctx.format.width}x{ctx.format.height} must be even for yuv420p", **where)
        if keyframe is None and self.image_pipe is None:
            raise RenderError(f"shot {shot.id}: no text-to-image pipeline to paint its keyframe "
                              "(this renderer was made to animate given stills only)", **where)
        if edit_instruction and self.edit_pipe is None and self._edit_loader is None:
            raise RenderError(f"shot {shot.id}: edit instruction {edit_instruction!r} needs an instruction-edit "
                              "pipeline (create the renderer with edit=True, or pass edit_pipe)", **where)

    def extend_frames(self, frames, wanted: int, motion: float, prompts: Prompts, seed: int):
        """Continue an animated keyframe to `wanted` frames with the same video model, each chunk
        starting from the last frames so far and held to the first chunk by its anchor frame."""
        from .extend import DiffusersImageToVideoGenerator, continuation_overlap, extend

        first = to_uint8_frames(frames)
        chunk = self.video_model.max_frames
        gen = DiffusersImageToVideoGenerator(
            self.video_pipe, size=(first.shape[2], first.shape[1]), steps=self.video_model.steps,
            multiple=self.video_model.multiple, legal_frames=self.video_model.legal_frames,
            negative_prompt=prompts.negative or None, device=self.device,
            call_kwargs=self._video_call(motion, chunk))
        return extend(gen, prompts.prompt, wanted, chunk_frames=chunk, overlap=continuation_overlap(chunk),
                      seed=seed + 3, first=first)

    def _video_call(self, motion: float, frames: int) -> dict[str, Any]:
        """The video model's guidance, decode chunk and motion controls (bucket, fps) for a call."""
        model, controls = self.video_model, self.video_model.motion
        kwargs: dict[str, Any] = {"max_guidance_scale": model.guidance,
                                  "decode_chunk_size": min(self.decode_chunk_size or frames, frames)}
        if "bucket_range" in controls:
            kwargs[controls.get("bucket_argument", "motion_bucket_id")] = motion_bucket(model, motion)
        if controls.get("fps_argument"):
            kwargs[controls["fps_argument"]] = model.fps
        return kwargs

    def paint(self, prompts: Prompts, fmt: Format, seed: int):
        width, height = generation_size(self.image_model, fmt)
        result = self.image_pipe(
            prompt=prompts.prompt, negative_prompt=prompts.negative or None, width=width, height=height,
            num_inference_steps=self.image_model.steps, guidance_scale=self.image_model.guidance,
            generator=_generator(seed, 0), output_type="pil")
        return result.images[0]

    def edit(self, image, instruction: str, seed: int):
        result = self.edit_pipe(
            prompt=instruction, image=image, num_inference_steps=self.edit_model.steps,
            guidance_scale=self.edit_model.guidance, image_guidance_scale=IMAGE_GUIDANCE,
            generator=_generator(seed, 1), output_type="pil")
        return result.images[0]

    def animate_keyframe(self, image, motion: float, seconds: float | Fraction, fmt: Format, seed: int, *,
                         prompt: str = "", upscale: int = 1):
        """(T, H, W, 3) frames at the video model's rate, covering `seconds` (one call's worth at most)."""
        width, height = generation_size(self.video_model, fmt, upscale)
        num_frames = model_frames(self.video_model, float(seconds))
        kwargs: dict[str, Any] = dict(
            image=_fit(image, (width, height)), width=width, height=height, num_frames=num_frames,
            num_inference_steps=self.video_model.steps, generator=_generator(seed, 2), output_type="np",
            **self._video_call(motion, num_frames))
        if prompt and "prompt" in inspect.signature(self.video_pipe).parameters:
            kwargs["prompt"] = prompt  # image-to-video models with text conditioning; SVD has none
        return self.video_pipe(**kwargs).frames


def _source(model_path: str | Path | Mapping[str, str | Path] | None, model: ModelEntry) -> str | None:
    """Where a model's weights are: model_path/<catalogue name>, a per-model mapping, or the hub id."""
    if model_path is None:
        return None
    if isinstance(model_path, Mapping):
        where = model_path.get(model.name)
        return str(where) if where else None
    return str(Path(model_path) / model.name)


def load_models(models: list[ModelEntry], *, model_path=None, offline: bool = False, device: str = "cpu",
                vram_gb: float | None = None) -> list[tuple[Any, dict[str, Any]]]:
    """Load each model's pipeline at its memory tier; missing weights name every download needed."""
    loaded = []
    for model in models:
        _, settings = model.settings_for(vram_gb)
        try:
            pipe = load_pipeline(model, source=_source(model_path, model), offline=offline,
                                 dtype=settings.get("dtype"))
        except MissingDependencyError as exc:
            if len(models) > 1:
                needed = "; ".join(f"{m.name}: hf download {m.id} (about {m.download_gb:g} GB)"
                                   for m in models)
                exc = MissingDependencyError(f"{exc.message}. This renderer needs {needed}", stage=exc.stage)
            raise exc from None
        apply_memory(pipe, settings, device)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        loaded.append((pipe, settings))
    return loaded


@register_renderer("sdxl+svd")
def create_keyframe_video(*, image_pipe=None, video_pipe=None, edit_pipe=None, model_path=None, offline: bool = False,
                          device: str | None = None, vram_gb: float | None = None, edit: bool = False,
                          text_to_image: bool = True, image_model: str | ModelEntry = "sdxl",
                          video_model: str | ModelEntry = "svd", edit_model: str | ModelEntry = "instruct-pix2pix",
                          adapters: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None,
                          decode_chunk_size: int | None = None, **_options) -> KeyframeVideoRenderer:
    """Given pipes are used as they are (tests); the others load from the catalogue at the GPU's tier.

    `model_path`: a folder with one sub-folder per catalogue name (sdxl/, svd/, instruct-pix2pix/),
    or a mapping name -> folder. `edit`: also load the instruction-edit model. `text_to_image=False`
    loads no keyframe model (animating given stills). `config`: the run config, whose
    `adapters`/`adapter` keys name per-format LoRA adapters (`adapters` gives them directly).
    """
    image_entry, video_entry, edit_entry = (m if isinstance(m, ModelEntry) else entry(m)
                                            for m in (image_model, video_model, edit_model))
    if vram_gb is None and device is None:
        vram_gb = detect_vram_gb()
    device = device or ("cuda" if vram_gb else "cpu")
    wanted = [m for m, pipe, needed in ((image_entry, image_pipe, text_to_image), (video_entry, video_pipe, True),
                                        (edit_entry, edit_pipe, edit)) if needed and pipe is None]
    loaded = dict(zip((m.name for m in wanted), load_models(wanted, model_path=model_path, offline=offline,
                                                            device=device, vram_gb=vram_gb)))
    if image_entry.name in loaded:
        image_pipe = loaded[image_entry.name][0]
    if video_entry.name in loaded:
        video_pipe, video_settings = loaded[video_entry.name]
        decode_chunk_size = decode_chunk_size or video_settings.get("decode_chunk_size")
    if edit_entry.name in loaded:
        edit_pipe = loaded[edit_entry.name][0]
    if adapters is None:  # the run config's per-format LoRAs, else the format presets' for the keyframe model
        adapters = adapters_for(image_entry.name, config)

    def load_edit():  # a shot with an `edit` instruction loads the instruction-edit model then, once
        return load_models([edit_entry], model_path=model_path, offline=offline, device=device, vram_gb=vram_gb)[0][0]

    return KeyframeVideoRenderer(image_pipe, video_pipe, edit_pipe=edit_pipe, image_model=image_entry,
                                 video_model=video_entry, edit_model=edit_entry, device=device, adapters=adapters,
                                 decode_chunk_size=decode_chunk_size, edit_loader=load_edit, offline=offline)


def _still_format(size: tuple[int, int], fps: int, longest: int = 1920) -> Format:
    """A format with the still's own aspect (even sides, long side at most `longest`)."""
    w, h = size
    scale = min(1.0, longest / max(w, h))
    even = lambda v: max(16, int(round(v * scale / 2)) * 2)  # noqa: E731
    return Format(name="still", description="the still's own frame", width=even(w), height=even(h), fps=fps)


def animate(image, prompt: str, seconds: float, out: Path, *, renderer: KeyframeVideoRenderer | None = None,
            fmt: Format | str | None = None, fps: int = 24, motion: float = 0.5, seed: int = 7,
            edit_instruction: str | None = None, ffmpeg: str | None = None, **options) -> Clip:
    """Animate a still (a path or PIL image) into a video-only clip of `seconds` at `out`.

    The same path as a film's shots (render steps 4-6), with the still as the keyframe. SVD is
    conditioned on the image alone: `prompt` describes the shot and reaches models that take text;
    `motion` (0..1) sets how much moves. `fmt` defaults to the still's own frame at `fps`.
    `options` go to the "sdxl+svd" factory when no renderer is given (model_path, offline, ...).
    """
    from PIL import Image

    from ...media.ffmpeg import ffmpeg_binary

    if not 0.5 < seconds <= 60:
        raise InputError(f"seconds must be more than 0.5 and at most 60, got {seconds}")
    if not 0.0 <= motion <= 1.0:
        raise InputError(f"motion must be between 0 and 1, got {motion}")
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as opened:
                image = opened.convert("RGB")
        except OSError as exc:
            raise InputError(f"cannot read image {image}: {exc}") from None
    fmt = load_format(fmt) if isinstance(fmt, str) else fmt or _still_format(image.size, fps)
    shot = Shot(id="still", description=prompt.strip() or "a still comes to life", motion=motion, duration=seconds)
    scene = Scene(id="s01", heading="STILL", setting=shot.description, shots=(shot,))
    screenplay = Screenplay(title="still", logline=shot.description, narrator=Voice(id="en"), scenes=(scene,))
    ctx = RenderContext(screenplay=screenplay, scene=scene, format=fmt, seed=seed, ffmpeg=ffmpeg_binary(ffmpeg),
                        frames=max(1, round(seconds * fmt.fps)))
    renderer = renderer or create_keyframe_video(text_to_image=False, edit=bool(edit_instruction), **options)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return renderer.render(shot, ctx, out, keyframe=image, edit_instruction=edit_instruction)
