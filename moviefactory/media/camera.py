"""A still and a camera move over it, played as frames: how the animatic (and any renderer of stills)
makes a shot without encoding it. The shot file is a `.still.npz`: the picture (1.25x the frame, as
BT.601 Y/U/V planes), an optional fixed overlay band, and the move (camera, motion, frames, size,
rate, seed). The film's encode plays it straight into its picture; nothing is encoded twice.

Playing is ffmpeg moving a camera over the picture:

* pans, tilts and the slow drift of a static shot are a per-frame `crop`, which costs nothing.
  To make them sub-pixel smooth, the strip the camera travels over is pre-shifted by 2k/n px
  (n = 4..16 copies) and the copies are stacked into one raw yuv420p image; each frame's crop picks
  the copy and an even integer offset, so the camera advances in 1/2..1/8 px steps, no jitter.
* push-ins and pull-outs are `scale` (eval=frame) + `crop`, going between a wider view and a 1:1
  view of the picture (never upscaled).

The picture goes to ffmpeg as raw yuv420p and is looped with the `loop` filter, so per frame there
is only the crop (and the scale for zooms) and the overlay.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import RenderError

MARGIN = 1.25  # the picture is this much larger than the frame, so the camera can move
VERSION = 1  # bump when the same still and move would play different frames
SUFFIX = ".still.npz"
CAMERAS = ("static", "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down")


@dataclass(frozen=True)
class Move:
    camera: str  # one of CAMERAS
    motion: float  # 0..1: share of the available travel / zoom
    frames: int
    width: int  # the frame's size
    height: int
    fps: str  # "num/den"
    seed: int = 0  # a static shot's drift direction

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps)


def picture_size(width: int, height: int) -> tuple[int, int]:
    """The picture a move over a width x height frame needs (MARGIN larger, even sides)."""
    return even(width * MARGIN), even(height * MARGIN)


def write_still(out: Path, rgb: np.ndarray, move: Move, band: np.ndarray | None = None) -> Path:
    """Save a still shot: `rgb` float (H, W, 3) in [0, 1] at picture_size, `band` an RGBA uint8
    overlay at the top of the frame (width = the frame's)."""
    if move.frames < 1:
        raise RenderError(f"cannot make a shot of {move.frames} frames", stage="render")
    if move.width % 2 or move.height % 2:
        raise RenderError(f"frame size {move.width}x{move.height} must be even for yuv420p", stage="render")
    if move.camera not in CAMERAS:
        raise RenderError(f"unknown camera move {move.camera!r}", stage="render")
    y, u, v = (u8(p) for p in yuv420(rgb))
    empty = np.zeros((0, move.width, 4), np.uint8)
    with open(out, "wb") as fh:  # a file object: np.savez would add its own suffix to a path
        np.savez(fh, y=y, u=u, v=v, band=empty if band is None else band,
                 move=np.frombuffer(json.dumps({**asdict(move), "version": VERSION}).encode(), np.uint8))
    return Path(out)


def read_still(path: Path) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, Move]:
    with np.load(path) as data:
        recipe = json.loads(bytes(data["move"]).decode())
        recipe.pop("version", None)
        return (data["y"], data["u"], data["v"]), data["band"], Move(**recipe)


def is_still(path: Path | str) -> bool:
    return str(path).endswith(SUFFIX)


def preview_path(path: str) -> str:
    """Where a still shot's preview picture goes (a JPEG of its middle frame, for editors and people):
    scenes/s01/s01-sh01.still.npz -> scenes/s01/s01-sh01.jpg."""
    return path[: -len(SUFFIX)] + ".jpg"


def still_command(path: Path, scratch: Path, ffmpeg: str, *, pix_fmt: str = "yuv420p") -> list[str]:
    """The ffmpeg arguments that play the still at `path` as raw `pix_fmt` frames on stdout. Its inputs
    (the shifted copies of the picture, the band) are written into `scratch` first."""
    planes, band, move = read_still(path)
    (raw_w, raw_h, raw), chain = camera_plan(tuple(p.astype(np.float32) for p in planes), move)
    scratch.mkdir(parents=True, exist_ok=True)
    raw_path, band_path = scratch / "picture.yuv", scratch / "band.rgba"
    with open(raw_path, "wb") as fh:
        for plane in raw:
            plane.tofile(fh)
    fps = f"{move.rate.numerator}/{move.rate.denominator}"
    inputs = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{raw_w}x{raw_h}", "-framerate", fps,
              "-i", str(raw_path)]
    graph = f"[0:v]loop=loop=-1:size=1,setpts=N/(({fps})*TB),{chain},setsar=1"
    if band.shape[0]:
        band.tofile(band_path)
        inputs += ["-f", "rawvideo", "-pix_fmt", "rgba", "-video_size", f"{band.shape[1]}x{band.shape[0]}",
                   "-i", str(band_path)]
        graph += "[bg];[1:v]format=yuva420p[band];[bg][band]overlay=x=0:y=0:format=yuv420:eof_action=repeat"
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *inputs, "-filter_complex", graph + f",format={pix_fmt}",
            "-frames:v", str(move.frames), "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]


# --- pixels -------------------------------------------------------------------------------------

def even(v: float) -> int:
    return max(2, int(round(v / 2)) * 2)


def _even_floor(v: float) -> int:
    return max(0, int(v // 2) * 2)


_BT601 = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float32)


def yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float RGB in [0, 1] (even height/width) -> float32 Y, U, V planes, BT.601 limited range like swscale."""
    y = rgb @ _BT601[0]
    y += 16
    chroma = []
    for row in _BT601[1:]:
        c = rgb @ row
        c = c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]  # 2x2 average
        c *= 0.25
        c += 128
        chroma.append(c)
    return y, chroma[0], chroma[1]


def rgb_from_yuv420(frame: bytes | np.ndarray, width: int, height: int) -> np.ndarray:
    """One raw yuv420p frame (BT.601 limited range) -> (H, W, 3) uint8 RGB, for thumbnails."""
    data = np.frombuffer(frame, np.uint8) if isinstance(frame, (bytes, bytearray, memoryview)) else frame.ravel()
    n = width * height
    y = data[:n].reshape(height, width).astype(np.float32) - 16
    u = data[n:n + n // 4].reshape(height // 2, width // 2).astype(np.float32) - 128
    v = data[n + n // 4:n + n // 2].reshape(height // 2, width // 2).astype(np.float32) - 128
    u, v = (np.repeat(np.repeat(c, 2, axis=0), 2, axis=1) for c in (u, v))
    rgb = np.stack([1.164 * y + 1.596 * v, 1.164 * y - 0.392 * u - 0.813 * v, 1.164 * y + 2.017 * u], axis=-1)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def _phases(plane: np.ndarray, step: float, n: int, axis: int) -> np.ndarray:
    """`n` copies of `plane` sampled k*step px further along `axis` (Catmull-Rom cubic, so every copy
    is equally sharp), stacked on axis 0, each 2 (luma) or 1 (chroma) samples shorter along `axis`."""
    shape = list(plane.shape)
    shape[axis] -= 2 if step * (n - 1) > 1 else 1
    size = shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (1, 2)
    padded = np.pad(plane, pad, mode="edge")
    take = (lambda i: padded[:, i:i + size]) if axis == 1 else (lambda i: padded[i:i + size])
    out = np.empty((n * shape[0], shape[1]), np.uint8)
    for k in range(n):
        i, f = divmod(k * step, 1.0)
        i = int(i)
        if not f:
            mix = take(i + 1) + 0.5
        else:
            w = ((-f ** 3 + 2 * f * f - f) / 2, (3 * f ** 3 - 5 * f * f + 2) / 2,
                 (-3 * f ** 3 + 4 * f * f + f) / 2, (f ** 3 - f * f) / 2)
            mix = take(i) * w[0]
            for j in (1, 2, 3):
                mix += take(i + j) * w[j]
            mix += 0.5
            np.clip(mix, 0, 255, out=mix)
        np.copyto(out[k * shape[0]:(k + 1) * shape[0]], mix, casting="unsafe")
    return out


# --- the camera ---------------------------------------------------------------------------------

def _ease(frames: int) -> str:
    """Progress 0 -> 1 over the shot as an ffmpeg expression of n: half linear, half smoothstep
    (gentle start and end, never stopping, so consecutive frames always differ a little)."""
    if frames < 2:
        return "0"
    p = f"(n/{frames - 1})"
    return f"(0.5*{p}+0.5*{p}*{p}*(3-2*{p}))"


def camera_plan(planes, move: Move):
    """What ffmpeg gets for the move: ((raw width, raw height, [Y, U, V uint8 planes]), filter chain).
    `planes` is the picture (MARGIN x the frame) as float Y, U, V."""
    W, H = move.width, move.height
    PH, PW = planes[0].shape
    amount = 0.1 + 0.9 * move.motion  # share of the available travel/zoom; a named move always moves a bit
    ease = _ease(move.frames)
    if move.camera in ("push_in", "pull_out"):
        far = 1 + (MARGIN - 1) * amount  # the wide view shows `far` x the frame, scaled down
        rw, rh = min(PW, even(W * far)), min(PH, even(H * far))
        x0, y0 = _even_floor((PW - rw) / 2), _even_floor((PH - rh) / 2)
        raw = [u8(p[y0 // s:(y0 + rh) // s, x0 // s:(x0 + rw) // s]) for p, s in zip(planes, (1, 2, 2))]
        a, b = (far, 1.0) if move.camera == "push_in" else (1.0, far)
        zoom = f"({a:.6f}+({b - a:.6f})*{ease})"
        # grow by 2 px at a time so the crop stays exactly centred (no half-pixel wobble)
        mx, my = f"max(0,round(({rw}/{zoom}-{W})/2))", f"max(0,round(({rh}/{zoom}-{H})/2))"
        chain = (f"scale=w='{W}+2*{mx}':h='{H}+2*{my}':eval=frame:flags=bilinear,"
                 f"crop=w={W}:h={H}:x='{mx}':y='{my}':exact=1")
        return (rw, rh, raw), chain
    horizontal = move.camera in ("pan_left", "pan_right", "static")
    span = (PW - W - 2) if horizontal else (PH - H - 2)  # room to travel (2 px kept for the shift)
    if move.camera == "static":  # a very slow drift, direction from the seed
        travel = min(span, W * 0.006 * (0.5 + move.motion)) * (1 if move.seed % 2 else -1)
    else:
        travel = span * amount * (1 if move.camera in ("pan_right", "tilt_down") else -1)
    start = (span - travel) / 2
    # the strip the camera travels over, in `n` copies shifted by 2k/n px, stacked vertically;
    # n is doubled (up to 16, ~40 MB) until a step is at most half the slowest per-frame move
    if horizontal:
        y0 = _even_floor((PH - H) / 2)
        strips = [p[y0 // s:(y0 + H) // s] for p, s in zip(planes, (1, 2, 2))]
    else:
        x0 = _even_floor((PW - W) / 2)
        strips = [p[:, x0 // s:(x0 + W) // s] for p, s in zip(planes, (1, 2, 2))]
    slowest = 0.5 * abs(travel) / max(1, move.frames - 1)
    n = 4
    while n < 16 and 2 / n > slowest / 2 and 2 * n * strips[0].size * 1.5 <= 40e6:
        n *= 2
    axis = 1 if horizontal else 0
    raw = [_phases(p, 2 / n / s, n, axis) for p, s in zip(strips, (1, 2, 2))]
    q = f"floor(({start:.4f}+({travel:.4f})*{ease})*{n / 2}+0.5)"  # position in 2/n px steps
    whole, phase = f"2*floor({q}/{n})", f"({q}-{n}*floor({q}/{n}))"
    if horizontal:
        return (PW - 2, n * H, raw), f"crop=w={W}:h={H}:x='{whole}':y='{H}*{phase}'"
    return (W, n * (PH - 2), raw), f"crop=w={W}:h={H}:x=0:y='{PH - 2}*{phase}+{whole}'"
