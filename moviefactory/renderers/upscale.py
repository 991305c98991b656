"""Upscalers and frame interpolators: two seams, each a Protocol plus a registry by config name.

Built in: `ffmpeg-lanczos` (upscaler) and `ffmpeg-minterpolate` (interpolator), which need nothing
but the ffmpeg binary, and `spandrel`, a learned super-resolution network (Real-ESRGAN and kin)
loaded from a local `.pth` with the `spandrel` package and run in overlapping tiles.

Frames are (T, H, W, 3) uint8 arrays throughout. The clip-level helpers stream a file through in
chunks (media/frames decodes and encodes), so a long 4K result never sits in memory whole. torch and
spandrel are imported inside the functions that need them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError, MissingDependencyError
from ..media.ffmpeg import ffmpeg_binary
from ..media.frames import clip_rate, filter_frames, iter_frames, write_blocks
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
override_upscaler = _UPSCALERS.override

_INTERPOLATORS: Registry[Interpolator] = Registry("interpolator", ("moviefactory.renderers.upscale",
                                                                   "moviefactory.renderers.interpolate_learned"))
register_interpolator = _INTERPOLATORS.register
interpolator_names = _INTERPOLATORS.names
create_interpolator = _INTERPOLATORS.create
override_interpolator = _INTERPOLATORS.override


# ---------------------------------------------------------------------------------------------
# ffmpeg entries

class FfmpegLanczos:
    """Lanczos resampling in ffmpeg's swscale: sharp, fast, invents no detail."""

    name = "ffmpeg-lanczos"

    def __init__(self, ffmpeg: str | None = None) -> None:
        self.ffmpeg = ffmpeg_binary(ffmpeg)

    def upscale(self, frames: np.ndarray, factor: int) -> np.ndarray:
        check_factor(factor)
        _, h, w, _ = frames.shape
        if factor == 1:
            return np.asarray(frames, dtype=np.uint8)
        return filter_frames(frames, f"scale={w * factor}:{h * factor}:flags=lanczos", ffmpeg=self.ffmpeg,
                             size=(w * factor, h * factor), stage="upscale")


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
        out = filter_frames(frames, graph, ffmpeg=self.ffmpeg, rate=24, stage="interpolate")
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
    blocks = (upscaler.upscale(block, factor) for block in iter_frames(path, chunk))
    return write_blocks(blocks, clip_rate(path), out, ffmpeg=ffmpeg, stage="upscale")


def interpolate_clip(path: Path, factor: int, out: Path, interpolator: Interpolator, *,
                     ffmpeg: str | None = None, chunk: int = 48) -> Clip:
    """Multiply a clip's frame rate by `factor`, same duration. Blocks overlap by one frame so the
    in-betweens at a block's end see the next block's first frame."""
    check_factor(factor)

    def blocks() -> Iterator[np.ndarray]:
        pending: np.ndarray | None = None
        for block in iter_frames(path, chunk):
            if pending is not None:
                run = np.concatenate([pending, block[:1]])
                yield interpolator.interpolate(run, factor)[: len(pending) * factor]
            pending = block
        if pending is not None:
            yield interpolator.interpolate(pending, factor)

    return write_blocks(blocks(), clip_rate(path) * factor, out, ffmpeg=ffmpeg, stage="interpolate")
