"""Mora's two video-editing moves that sit between shots.

- connect (Mora / SEINE): a transition clip that starts on clip A's last frame and ends on clip B's
  first. A first-and-last-frame model (`flf2v`) invents the motion between them when one is given;
  otherwise ffmpeg crossfades A's last frame, held, into B's first frame, held.
- restyle (Mora's video-to-video): SDEdit. Each frame is pushed part-way into noise and denoised
  toward the new prompt; `strength` is how far, so a low strength keeps the layout and motion and
  changes the look. Every frame gets the SAME noise (the same seed), so the restyle does not
  shimmer from frame to frame.
"""
from __future__ import annotations

import inspect
import math
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from ...errors import InputError
from ...media.ffmpeg import ffmpeg_binary, run_ffmpeg, x264_args
from ...media.files import atomic_path
from ...media.frames import clip_rate, iter_frames, read_frames, write_frames
from ..base import Clip
from .base import to_uint8_frames
from .extend import resize_frames


@runtime_checkable
class FirstLastFrameGenerator(Protocol):
    def generate(self, prompt: str, *, first: np.ndarray, last: np.ndarray, frames: int, seed: int) -> np.ndarray:
        """`frames` frames (T, H, W, 3) uint8 that open on `first` and close on `last` (each (H, W, 3) uint8)."""
        ...


class DiffusersFirstLastFrameGenerator:
    """A `FirstLastFrameGenerator` over a diffusers pipeline that takes `image` and `last_image`
    (WanImageToVideoPipeline with the Wan2.1 FLF2V weights, SkyReels-V2 I2V)."""

    def __init__(self, pipe, *, size: tuple[int, int], steps: int = 30,
                 legal_frames: Callable[[int], int] | None = None, call_kwargs: dict[str, Any] | None = None) -> None:
        params = inspect.signature(pipe.__call__).parameters
        if "last_image" not in params:
            raise InputError(f"{type(pipe).__name__} takes no last frame; connect needs a first-and-last-frame "
                             "(flf2v) pipeline such as WanImageToVideoPipeline")
        self.pipe, self.size, self.steps = pipe, size, steps
        self.legal_frames = legal_frames or (lambda n: n)
        self.call_kwargs = dict(call_kwargs or {})

    def cache_token(self) -> str:
        name = getattr(getattr(self.pipe, "config", None), "_name_or_path", "") or type(self.pipe).__name__
        return f"flf2v:{name}:{self.size[0]}x{self.size[1]}:steps={self.steps}:{sorted(self.call_kwargs.items())}"

    def generate(self, prompt: str, *, first: np.ndarray, last: np.ndarray, frames: int, seed: int) -> np.ndarray:
        import torch
        from PIL import Image

        w, h = self.size
        result = self.pipe(
            image=Image.fromarray(first).resize((w, h), Image.LANCZOS),
            last_image=Image.fromarray(last).resize((w, h), Image.LANCZOS),
            prompt=prompt, height=h, width=w, num_frames=self.legal_frames(frames),
            num_inference_steps=self.steps, output_type="np",
            generator=torch.Generator(device="cpu").manual_seed(seed), **self.call_kwargs,
        )
        frames_out = to_uint8_frames(result.frames)
        # A model's frame rule may make a few more: drop from the middle, so both ends stay exact.
        keep = np.round(np.linspace(0, len(frames_out) - 1, frames)).astype(int)
        return frames_out[keep]


def load_first_last(model: str = "wan2.1-flf2v", *, clip_size: tuple[int, int], model_path: str | Path | None = None,
                    offline: bool = False, device: str | None = None,
                    vram_gb: float | None = None) -> DiffusersFirstLastFrameGenerator:
    """The catalogue's first-and-last-frame (flf2v) model as a generator for clips of `clip_size`
    (width, height), loaded at the GPU's memory tier. `model_path`: that model's own folder."""
    from ...config import Format
    from .base import entry, generation_size, load_for_device

    m = entry(model)
    if m.task != "flf2v":
        raise InputError(f"{m.name} is a {m.task} model; connect needs a first-and-last-frame (flf2v) model "
                         "such as wan2.1-flf2v")
    pipe, _, _ = load_for_device(m, source=str(model_path) if model_path else None, offline=offline, device=device,
                                 vram_gb=vram_gb)
    w, h = clip_size
    size = generation_size(m, Format(name="clip", width=max(16, w), height=max(16, h), fps=max(1, m.fps)))
    return DiffusersFirstLastFrameGenerator(pipe, size=size, steps=m.steps, legal_frames=m.legal_frames,
                                            call_kwargs={"guidance_scale": m.guidance})


def connect(a: Path, b: Path, seconds: float, out: Path, *, generator: FirstLastFrameGenerator | None = None,
            ffmpeg: str | None = None, prompt: str = "", seed: int = 0, transition: str = "fade") -> Clip:
    """A clip of round(seconds * A's rate) frames, at A's size and rate, from A's last frame to B's first."""
    fps = clip_rate(Path(a))
    frames = max(2, round(seconds * fps))
    first = _last_frame(Path(a))
    last = next(iter_frames(Path(b), 1))[0]
    if last.shape != first.shape:
        last = resize_frames(last[None], first.shape[:2])[0]
    if generator is not None:
        return _generated(generator, first, last, frames, fps, Path(out), prompt=prompt, seed=seed, ffmpeg=ffmpeg)
    return _crossfade_stills(first, last, frames, fps, Path(out), ffmpeg_binary(ffmpeg), transition)


def bridge(a: Path, a_frame: int, b: Path, b_frame: int, frames: int, fps: Fraction, out: Path,
           generator: FirstLastFrameGenerator, *, prompt: str = "", seed: int = 0, ffmpeg: str | None = None) -> Clip:
    """A generated transition of exactly `frames` frames at `fps` and A's size, opening on frame
    `a_frame` of A and closing on frame `b_frame` of B (a film's scenes overlap by it)."""
    first, last = _frame_at(Path(a), a_frame), _frame_at(Path(b), b_frame)
    if last.shape != first.shape:
        last = resize_frames(last[None], first.shape[:2])[0]
    return _generated(generator, first, last, frames, fps, Path(out), prompt=prompt, seed=seed, ffmpeg=ffmpeg)


def _generated(generator: FirstLastFrameGenerator, first: np.ndarray, last: np.ndarray, frames: int, fps: Fraction,
               out: Path, *, prompt: str, seed: int, ffmpeg: str | None) -> Clip:
    made = to_uint8_frames(generator.generate(prompt, first=first, last=last, frames=frames, seed=seed))
    if made.shape[1:3] != first.shape[:2]:
        made = resize_frames(made, first.shape[:2])
    if len(made) < frames:  # a model that made fewer: hold its last frame (it is B's)
        made = np.concatenate([made, np.repeat(made[-1:], frames - len(made), axis=0)])
    return write_frames(made[:frames], fps, out, ffmpeg=ffmpeg, stage="connect")


def _frame_at(path: Path, index: int) -> np.ndarray:
    for k, block in enumerate(iter_frames(path, 32)):
        if index < (k + 1) * 32:
            if index - k * 32 < len(block):
                return block[index - k * 32]
            break
    raise InputError(f"{path} has no frame {index}", stage="connect")


def _last_frame(path: Path) -> np.ndarray:
    last = None
    for block in iter_frames(path, 32):
        last = block[-1]
    if last is None:
        raise InputError(f"{path} has no video frames", stage="connect")
    return last


def _crossfade_stills(first: np.ndarray, last: np.ndarray, frames: int, fps: Fraction, out: Path, ffmpeg: str,
                      transition: str) -> Clip:
    """xfade between two held stills over the whole clip: frame 0 is `first`, the last frame is `last`."""
    from PIL import Image

    h, w = first.shape[:2]
    rate = f"{fps.numerator}/{fps.denominator}"
    # xfade reaches B fully only after `duration`; one frame of slack makes the last frame B exactly.
    fade = (frames - 1) / fps
    held = str(float((frames + 1) / fps))
    with tempfile.TemporaryDirectory() as tmp, atomic_path(out) as part:
        stills = [Path(tmp) / "a.png", Path(tmp) / "b.png"]
        Image.fromarray(first).save(stills[0])
        Image.fromarray(last).save(stills[1])
        run_ffmpeg(ffmpeg, [
            "-loop", "1", "-framerate", rate, "-t", held, "-i", str(stills[0]),
            "-loop", "1", "-framerate", rate, "-t", held, "-i", str(stills[1]),
            "-filter_complex", f"[0:v][1:v]xfade=transition={transition}:duration={float(fade):.6f}:offset=0,"
                               f"crop={w - w % 2}:{h - h % 2}:0:0,format=yuv420p[v]",
            "-map", "[v]", "-frames:v", str(frames), "-c:v", "libx264", *x264_args(), "-preset", "veryfast", "-crf", "16",
            "-movflags", "+faststart", "-an", "-f", "mp4", str(part),
        ], stage="connect")
    return Clip(out, frames, fps, w - w % 2, h - h % 2)


def restyle(frames: np.ndarray, prompt: str, *, pipe, strength: float = 0.5, seed: int = 0, steps: int = 25,
            guidance: float = 7.5, negative_prompt: str | None = None, batch: int = 8,
            size: tuple[int, int] | None = None) -> np.ndarray:
    """SDEdit video -> video. `pipe` is a diffusers pipeline that takes either a whole `video`
    (AnimateDiffVideoToVideoPipeline: temporally aware, run `batch` frames per call) or an `image`
    batch (StableDiffusionImg2ImgPipeline and kin: `batch` frames per call, every frame with the
    same seeded noise). Returns frames at the input's size. `size` (width, height) is the model's
    working size; default: the input's, rounded down to a multiple of 8."""
    import torch
    from PIL import Image

    # 1. Check inputs
    if not 0.0 < strength <= 1.0:
        raise InputError(f"strength must be in (0, 1], not {strength}")
    steps = max(steps, math.ceil(1 / strength))  # img2img runs int(steps * strength) steps: at least one
    frames = to_uint8_frames(frames)
    t, h, w, _ = frames.shape
    width, height = size or (max(8, w // 8 * 8), max(8, h // 8 * 8))
    params = inspect.signature(pipe.__call__).parameters
    takes_video = "video" in params
    if not takes_video and "image" not in params:
        raise InputError(f"{type(pipe).__name__} takes neither a video nor an image to restyle")

    # 2. Run the frames through in batches, the same noise for each
    common: dict[str, Any] = {"strength": strength, "num_inference_steps": steps, "guidance_scale": guidance,
                              "output_type": "np"}
    out = []
    for i in range(0, t, batch):
        images = [Image.fromarray(f).resize((width, height), Image.LANCZOS) for f in frames[i:i + batch]]
        if takes_video:
            result = pipe(video=images, prompt=prompt, negative_prompt=negative_prompt, height=height, width=width,
                          generator=torch.Generator(device="cpu").manual_seed(seed), **common)
            out.append(to_uint8_frames(result.frames))
        else:
            n = len(images)
            kwargs = dict(common)
            if negative_prompt:
                kwargs["negative_prompt"] = [negative_prompt] * n
            result = pipe(prompt=[prompt] * n, image=images,
                          generator=[torch.Generator(device="cpu").manual_seed(seed) for _ in range(n)], **kwargs)
            out.append(to_uint8_frames(result.images))
    restyled = np.concatenate(out)[:t]
    # 3. Back to the input's size
    return restyled if restyled.shape[1:3] == (h, w) else resize_frames(restyled, (h, w))


def edit_clip(path_in: Path, prompt: str, out: Path, pipe, strength: float = 0.5, *, seed: int = 0,
              steps: int = 25, guidance: float = 7.5, ffmpeg: str | None = None) -> Clip:
    """`moviefactory edit clip.mp4 "make it look like the 1920s, keep the car red"`: the clip restyled
    at the same size, rate and length."""
    frames, fps = read_frames(Path(path_in))
    edited = restyle(frames, prompt, pipe=pipe, strength=strength, seed=seed, steps=steps, guidance=guidance)
    return write_frames(edited, fps, Path(out), ffmpeg=ffmpeg, stage="edit")
