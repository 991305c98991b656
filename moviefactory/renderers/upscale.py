"""Upscalers and frame interpolators: two seams, each a Protocol plus a registry by config name.

Built in: `ffmpeg-lanczos` (upscaler) and `ffmpeg-minterpolate` (interpolator), which need nothing
but the ffmpeg binary, and `spandrel`, a learned super-resolution network (Real-ESRGAN and kin)
loaded from a local `.pth` with the `spandrel` package and run in overlapping tiles.

Frames are (T, H, W, 3) uint8 arrays throughout. The clip-level helpers stream a file through in
chunks so a long 4K result never sits in memory whole. torch and spandrel are imported inside
the functions that need them.
"""
from __future__ import annotations

import math
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError, MissingDependencyError, ToolError
from ..media.ffmpeg import ffmpeg_binary
from ..media.files import atomic_path
from ..registry import Registry
from .base import Clip


@runtime_checkable
class Upscaler(Protocol):
    name: str

    def upscale(self, frames: np.ndarray, factor: int) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, H*factor, W*factor, 3) uint8."""
        ...


@runtime_checkable
class Interpolator(Protocol):
    name: str

    def interpolate(self, frames: np.ndarray, factor: int) -> np.ndarray:
        """(T, H, W, 3) -> (T*factor, H, W, 3): output[i*factor] is input[i]; the frames after it are
        in-betweens toward input[i+1] (after the last input frame, holds of it). Duration is kept."""
        ...


_UPSCALERS: Registry[Upscaler] = Registry("upscaler", ("moviefactory.renderers.upscale",))
register_upscaler = _UPSCALERS.register
upscaler_names = _UPSCALERS.names
create_upscaler = _UPSCALERS.create

_INTERPOLATORS: Registry[Interpolator] = Registry("interpolator", ("moviefactory.renderers.upscale",
                                                                   "moviefactory.renderers.interpolate_learned"))
register_interpolator = _INTERPOLATORS.register
interpolator_names = _INTERPOLATORS.names
create_interpolator = _INTERPOLATORS.create


# ---------------------------------------------------------------------------------------------
# Frame I/O shared by the clip-level helpers here and in renderers/diffusion (extend, connect).

def read_frames(path: Path) -> tuple[np.ndarray, Fraction]:
    """Every frame of the first video stream as (T, H, W, 3) uint8, and the stream's rate."""
    chunks = list(iter_frames(path, 64))
    if not chunks:
        raise InputError(f"{path} has no video frames", stage="read")
    return np.concatenate(chunks), clip_rate(path)


def iter_frames(path: Path, chunk: int) -> Iterator[np.ndarray]:
    """The frames of `path` in (<=chunk, H, W, 3) uint8 blocks, decoded as they are needed."""
    import av

    try:
        with av.open(str(path)) as container:
            block: list[np.ndarray] = []
            for frame in container.decode(container.streams.video[0]):
                block.append(frame.to_ndarray(format="rgb24"))
                if len(block) == chunk:
                    yield np.stack(block)
                    block = []
            if block:
                yield np.stack(block)
    except (av.FFmpegError, IndexError) as exc:
        raise InputError(f"cannot read video from {path}: {exc}", stage="read") from None


def clip_rate(path: Path) -> Fraction:
    import av

    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return Fraction(rate) if rate else Fraction(24)


class FrameWriter:
    """Encodes frames pushed to it into an H.264 mp4 (ffmpeg on a pipe; its stderr goes to a file,
    so a long encode cannot block on a full pipe). Odd sizes lose their last row/column (yuv420p)."""

    def __init__(self, out: Path, fps: Fraction, *, ffmpeg: str | None = None, crf: int = 16,
                 preset: str = "veryfast", stage: str = "encode") -> None:
        self.out, self.fps, self.ffmpeg = out, Fraction(fps), ffmpeg_binary(ffmpeg)
        self.crf, self.preset, self.stage = crf, preset, stage
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def write(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames, dtype=np.uint8)
        _, h, w, _ = frames.shape
        frames = frames[:, : h - h % 2, : w - w % 2]
        if self._proc is None:
            self.size = (frames.shape[2], frames.shape[1])
            rate = f"{self.fps.numerator}/{self.fps.denominator}"
            cmd = [self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                   "-s", f"{self.size[0]}x{self.size[1]}", "-framerate", rate, "-i", "-", "-c:v", "libx264",
                   "-preset", self.preset, "-crf", str(self.crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                   "-an", "-f", "mp4", str(self.out)]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._log)
        elif (frames.shape[2], frames.shape[1]) != self.size:
            raise InputError(f"frame size changed mid-clip: {frames.shape[2]}x{frames.shape[1]} after {self.size}")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            self._finish()  # raises with ffmpeg's own message
        self.frames += len(frames)

    def close(self) -> Clip:
        if self._proc is None:
            raise InputError("no frames to encode", stage=self.stage)
        self._finish()
        return Clip(self.out, self.frames, self.fps, *self.size)

    def _finish(self) -> None:
        self._proc.stdin.close()
        code = self._proc.wait()
        self._log.seek(0)
        stderr = self._log.read().decode("utf-8", "replace")
        self._log.close()
        if code != 0:
            raise ToolError(f"ffmpeg could not encode {self.out.name} (exit {code})", stage=self.stage, stderr=stderr)

    def abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


def write_frames(frames: np.ndarray, fps: Fraction, out: Path, *, ffmpeg: str | None = None,
                 stage: str = "encode") -> Clip:
    """Encode (T, H, W, 3) uint8 frames at `fps` to `out` (written under a temp name, then renamed)."""
    with atomic_path(out) as tmp:
        writer = FrameWriter(tmp, fps, ffmpeg=ffmpeg, stage=stage)
        try:
            writer.write(frames)
            clip = writer.close()
        except BaseException:
            writer.abort()
            raise
    return Clip(out, clip.frames, clip.fps, clip.width, clip.height)


def _filter_frames(ffmpeg: str, frames: np.ndarray, graph: str, *, rate: str = "24", stage: str) -> np.ndarray:
    """Pipe raw frames through an ffmpeg filter graph; the raw rgb24 bytes that come back (the caller knows
    the output size)."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    t, h, w, _ = frames.shape
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-framerate", rate, "-i", "-", "-vf", graph, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise ToolError(f"ffmpeg filter {graph.split('=')[0]} failed (exit {proc.returncode})", stage=stage,
                        stderr=proc.stderr.decode("utf-8", "replace"))
    return np.frombuffer(proc.stdout, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# ffmpeg entries

class FfmpegLanczos:
    """Lanczos resampling in ffmpeg's swscale: sharp, fast, invents no detail."""

    name = "ffmpeg-lanczos"

    def __init__(self, ffmpeg: str | None = None) -> None:
        self.ffmpeg = ffmpeg_binary(ffmpeg)

    def upscale(self, frames: np.ndarray, factor: int) -> np.ndarray:
        check_factor(factor)
        t, h, w, _ = frames.shape
        if factor == 1:
            return np.asarray(frames, dtype=np.uint8)
        raw = _filter_frames(self.ffmpeg, frames, f"scale={w * factor}:{h * factor}:flags=lanczos", stage="upscale")
        return raw.reshape(t, h * factor, w * factor, 3)


class FfmpegMinterpolate:
    """Motion-compensated interpolation (`minterpolate=mi_mode=mci`): block motion estimation in ffmpeg."""

    name = "ffmpeg-minterpolate"

    def __init__(self, ffmpeg: str | None = None, mode: str = "mci") -> None:
        self.ffmpeg = ffmpeg_binary(ffmpeg)
        self.mode = mode  # mci (motion compensated) | blend | dup

    def interpolate(self, frames: np.ndarray, factor: int) -> np.ndarray:
        check_factor(factor)
        t, h, w, _ = frames.shape
        if factor == 1 or t < 2:
            return np.repeat(np.asarray(frames, dtype=np.uint8), factor, axis=0)
        # The rate is nominal: only the ratio matters. minterpolate stops at the second-to-last input
        # frame, so two clones of the last one go in after it (and the holds after it come out).
        graph = f"tpad=stop_mode=clone:stop=2,minterpolate=fps={24 * factor}:mi_mode={self.mode}"
        raw = _filter_frames(self.ffmpeg, frames, graph, rate="24", stage="interpolate")
        out = raw.reshape(-1, h, w, 3)
        return _exact_length(out, t * factor)


def _exact_length(frames: np.ndarray, n: int) -> np.ndarray:
    if len(frames) >= n:
        return frames[:n]
    return np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), axis=0)])


def check_factor(factor: int) -> None:
    """The factor every upscaler and interpolator takes: a whole number >= 1 (InputError otherwise)."""
    if not isinstance(factor, int) or factor < 1:
        raise InputError(f"the factor must be a whole number >= 1, not {factor!r}")


# ---------------------------------------------------------------------------------------------
# Learned super-resolution in tiles

class TiledModelUpscaler:
    """Runs an image super-resolution network over frames in overlapping tiles, a few frames at a time.

    `model` is called the way spandrel's `ImageModelDescriptor` is: NCHW float in [0, 1] in,
    NCHW float ×`scale` out. Tiles overlap by `overlap` input pixels; where they meet, each tile's
    weight ramps from 0 to 1 across the shared band (skipping the quarter nearest its own edge, where
    zero padding corrupts a network's output), so seams do not show and memory stays bounded by
    `tile` whatever the frame size.
    """

    def __init__(self, model: Callable[[Any], Any], scale: int, *, name: str = "model", tile: int = 256,
                 overlap: int = 16, frame_batch: int = 2, device: str = "cpu", dtype: str = "float32") -> None:
        if not 0 <= overlap < tile // 2:
            raise InputError(f"tile overlap must be in [0, tile/2): overlap={overlap}, tile={tile}")
        self.model, self.scale, self.name = model, int(scale), name
        self.tile, self.overlap, self.frame_batch = tile, overlap, max(1, frame_batch)
        self.device, self.dtype = device, dtype

    def upscale(self, frames: np.ndarray, factor: int) -> np.ndarray:
        import torch

        check_factor(factor)
        t, h, w, _ = frames.shape
        passes = max(1, math.ceil(math.log(factor, self.scale) - 1e-9)) if factor > 1 else 0
        out = np.empty((t, h * factor, w * factor, 3), dtype=np.uint8)
        with torch.inference_mode():
            for i in range(0, t, self.frame_batch):
                x = torch.from_numpy(np.ascontiguousarray(frames[i:i + self.frame_batch])).permute(0, 3, 1, 2)
                x = x.float() / 255.0
                for _ in range(passes):
                    x = self.run_tiled(x)
                if x.shape[-2:] != (h * factor, w * factor):  # a ×4 model asked for ×2: resample down
                    x = torch.nn.functional.interpolate(x, size=(h * factor, w * factor), mode="bicubic",
                                                        antialias=True, align_corners=False)
                out[i:i + len(x)] = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return out

    def run_tiled(self, x):
        """One pass of the network over NCHW float `x` (CPU), tile by tile; returns NCHW ×scale on the CPU."""
        import torch

        n, c, h, w = x.shape
        s = self.scale
        acc = torch.zeros((n, c, h * s, w * s), dtype=torch.float32)
        weight = torch.zeros((1, 1, h * s, w * s), dtype=torch.float32)
        ys, xs = _tile_starts(h, self.tile, self.overlap), _tile_starts(w, self.tile, self.overlap)
        th, tw = min(self.tile, h), min(self.tile, w)
        dtype = getattr(torch, self.dtype)
        for iy, y0 in enumerate(ys):
            wy = _axis_weights(ys, iy, th, s)
            for ix, x0 in enumerate(xs):
                wx = _axis_weights(xs, ix, tw, s)
                tile = x[:, :, y0:y0 + th, x0:x0 + tw].to(self.device, dtype)
                y = self.model(tile).float().cpu()
                if y.shape[-2:] != (th * s, tw * s):
                    raise InputError(f"the upscaling model returned {tuple(y.shape[-2:])} for a {th}x{tw} tile; "
                                     f"expected ×{s}")
                wt = torch.from_numpy(np.outer(wy, wx)).float()[None, None]
                acc[:, :, y0 * s:(y0 + th) * s, x0 * s:(x0 + tw) * s] += y * wt
                weight[:, :, y0 * s:(y0 + th) * s, x0 * s:(x0 + tw) * s] += wt
        return acc / weight


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: a regular step, the last tile flush with the far edge."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _axis_weights(starts: list[int], i: int, tile: int, scale: int) -> np.ndarray:
    """Blend weights along one axis of tile `i`, in output pixels: 1 in its own middle, ramps where it
    shares pixels with its neighbours, 1 at the frame's borders (no neighbour to hand over to)."""
    n = tile * scale
    w = np.ones(n)
    if i > 0:
        band = (starts[i - 1] + tile - starts[i]) * scale
        w[:band] = _ramp(band)
    if i < len(starts) - 1:
        band = (starts[i] + tile - starts[i + 1]) * scale
        w[n - band:] = np.minimum(w[n - band:], _ramp(band)[::-1])
    return np.maximum(w, 1e-4)  # never 0: every pixel keeps a defined average


def _ramp(band: int) -> np.ndarray:
    margin = band // 4
    span = max(1, band - 2 * margin)
    return np.clip((np.arange(band) + 0.5 - margin) / span, 0.0, 1.0)


def load_spandrel(weights: str | Path | None = None, *, tile: int = 256, overlap: int = 16, frame_batch: int = 2,
                  device: str | None = None, half: bool = False) -> TiledModelUpscaler:
    """A Real-ESRGAN-family (or any spandrel-supported) super-resolution model from a local file."""
    if weights is None or not Path(weights).is_file():
        where = f" ({weights} does not exist)" if weights else ""
        raise MissingDependencyError(
            f"the spandrel upscaler needs a model file{where}: download one once, e.g. RealESRGAN_x4plus.pth "
            "from the Real-ESRGAN releases, and pass its path (--upscale-weights PATH, or --weights PATH)",
            stage="upscale")
    try:
        import torch
        from spandrel import ImageModelDescriptor, ModelLoader
    except ImportError:
        raise MissingDependencyError("the spandrel upscaler needs the spandrel package: pip install spandrel",
                                     stage="upscale") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        model = ModelLoader().load_from_file(str(weights))
    except Exception as exc:  # spandrel raises several types for files it does not recognise
        raise InputError(f"spandrel cannot load {weights}: {exc}", stage="upscale") from None
    if not isinstance(model, ImageModelDescriptor):
        raise InputError(f"{weights} is not a single-image model (spandrel found {type(model).__name__})",
                         stage="upscale")
    dtype = "float16" if half and device.startswith("cuda") else "float32"
    model.to(device).eval()
    if dtype == "float16":
        model.half()
    return TiledModelUpscaler(model, model.scale, name="spandrel", tile=tile, overlap=overlap,
                              frame_batch=frame_batch, device=device, dtype=dtype)


register_upscaler("ffmpeg-lanczos")(FfmpegLanczos)
register_upscaler("spandrel")(load_spandrel)
register_interpolator("ffmpeg-minterpolate")(FfmpegMinterpolate)


# ---------------------------------------------------------------------------------------------
# File-level helpers

def upscale_clip(path: Path, factor: int, out: Path, upscaler: Upscaler, *, ffmpeg: str | None = None,
                 chunk: int = 16) -> Clip:
    """Upscale every frame of a clip by `factor`, streaming it through in `chunk`-frame blocks."""
    check_factor(factor)
    fps = clip_rate(path)
    with atomic_path(out) as tmp:
        writer = FrameWriter(tmp, fps, ffmpeg=ffmpeg, stage="upscale")
        try:
            for block in iter_frames(path, chunk):
                writer.write(upscaler.upscale(block, factor))
            clip = writer.close()
        except BaseException:
            writer.abort()
            raise
    return Clip(out, clip.frames, clip.fps, clip.width, clip.height)


def interpolate_clip(path: Path, factor: int, out: Path, interpolator: Interpolator, *,
                     ffmpeg: str | None = None, chunk: int = 48) -> Clip:
    """Multiply a clip's frame rate by `factor`, same duration. Blocks overlap by one frame so the
    in-betweens at a block's end see the next block's first frame."""
    check_factor(factor)
    fps = clip_rate(path) * factor
    with atomic_path(out) as tmp:
        writer = FrameWriter(tmp, fps, ffmpeg=ffmpeg, stage="interpolate")
        try:
            pending: np.ndarray | None = None
            for block in iter_frames(path, chunk):
                if pending is not None:
                    run = np.concatenate([pending, block[:1]])
                    writer.write(interpolator.interpolate(run, factor)[: len(pending) * factor])
                pending = block
            if pending is not None:
                writer.write(interpolator.interpolate(pending, factor))
            clip = writer.close()
        except BaseException:
            writer.abort()
            raise
    return Clip(out, clip.frames, clip.fps, clip.width, clip.height)
