"""The animatic renderer: every shot becomes a moving storyboard panel, fast on a CPU.

A procedural backdrop (render/backdrop.py) is painted once per shot, 1.25x larger than the frame.
ffmpeg then moves a camera over it and overlays a static storyboard caption band at the top:

* pans, tilts and the slow drift of a static shot are a per-frame `crop`, which costs nothing.
  To make them sub-pixel smooth, the strip the camera travels over is pre-shifted by 2k/n px
  (n = 4..16 copies) and the copies are stacked into one raw yuv420p image; each frame's crop picks
  the copy and an even integer offset, so the camera advances in 1/2..1/8 px steps, no jitter.
* push-ins and pull-outs are `scale` (eval=frame) + `crop`, going between a wider view and a 1:1
  view of the painting (never upscaled).

The painting goes to ffmpeg as raw yuv420p (no PNG encode/decode) and is looped with the `loop`
filter, so per frame there is only the crop (and the scale for zooms), the overlay and libx264.
"""
from __future__ import annotations

import re
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import RenderError
from ..media.ffmpeg import run_ffmpeg
from ..resources import CJK_FONT_INDEX_SC, cjk_font
from ..screenplay import Shot
from .backdrop import paint_backdrop
from .base import Clip, RenderContext, register_renderer

MARGIN = 1.25  # the painting is this much larger than the frame, so the camera can move


class AnimaticRenderer:
    """Storyboard panels: procedural backdrop + camera move + caption band, via numpy and ffmpeg."""

    name = "animatic"

    def cache_token(self) -> str:
        return "animatic-1"

    def render(self, shot: Shot, ctx: RenderContext, out: Path) -> Clip:
        width, height = ctx.size
        if ctx.frames < 1:
            raise RenderError(f"shot {shot.id}: cannot render {ctx.frames} frames", stage="render", scene=ctx.scene.id)
        if width % 2 or height % 2:
            raise RenderError(f"frame size {width}x{height} must be even for yuv420p", stage="render",
                              scene=ctx.scene.id)
        pw, ph = _even(width * MARGIN), _even(height * MARGIN)
        rgb = paint_backdrop(ctx.scene, shot, ctx.seed, pw, ph)
        planes = yuv420(rgb)
        del rgb
        (raw_w, raw_h, raw), camera = camera_plan(planes, shot, ctx)
        fps = f"{ctx.fps.numerator}/{ctx.fps.denominator}"
        graph = (f"[0:v]loop=loop=-1:size=1,setpts=N/(({fps})*TB),{camera},setsar=1[bg];"
                 f"[1:v]format=yuva420p[band];[bg][band]overlay=x=0:y=0:format=yuv420:eof_action=repeat[v]")
        # Scratch files live beside the output, inside the run directory, never in /tmp.
        with tempfile.TemporaryDirectory(prefix=".animatic-", dir=out.parent) as tmp:
            raw_path, band_path = Path(tmp) / "backdrop.yuv", Path(tmp) / "band.png"
            with open(raw_path, "wb") as fh:
                for plane in raw:
                    plane.tofile(fh)
            caption_band(shot, ctx).save(band_path, compress_level=1)
            args = [
                "-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{raw_w}x{raw_h}", "-framerate", fps,
                "-i", str(raw_path), "-i", str(band_path),
                "-filter_complex", graph, "-map", "[v]", "-frames:v", str(ctx.frames),
                "-fps_mode", "cfr", "-r", fps, "-an",
                "-c:v", "libx264", "-preset", ctx.format.intermediate.preset, "-crf", str(ctx.format.intermediate.crf),
                "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out),
            ]
            run_ffmpeg(ctx.ffmpeg, args, stage="render", scene=ctx.scene.id)
        return Clip(path=Path(out), frames=ctx.frames, fps=ctx.fps, width=width, height=height)


@register_renderer("animatic")
def create_animatic(**_options) -> AnimaticRenderer:
    return AnimaticRenderer()


# --- pixels -------------------------------------------------------------------------------------

def _even(v: float) -> int:
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


def _u8(a: np.ndarray) -> np.ndarray:
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


def camera_plan(planes, shot: Shot, ctx: RenderContext):
    """What ffmpeg gets for the shot's camera move: ((raw width, raw height, [Y, U, V uint8 planes]),
    filter chain). `planes` is the painting (MARGIN x the frame) as float Y, U, V."""
    W, H = ctx.size
    PH, PW = planes[0].shape
    amount = 0.1 + 0.9 * shot.motion  # share of the available travel/zoom; a named move always moves a bit
    ease = _ease(ctx.frames)
    if shot.camera in ("push_in", "pull_out"):
        far = 1 + (MARGIN - 1) * amount  # the wide view shows `far` x the frame, scaled down
        rw, rh = min(PW, _even(W * far)), min(PH, _even(H * far))
        x0, y0 = _even_floor((PW - rw) / 2), _even_floor((PH - rh) / 2)
        raw = [_u8(p[y0 // s:(y0 + rh) // s, x0 // s:(x0 + rw) // s]) for p, s in zip(planes, (1, 2, 2))]
        a, b = (far, 1.0) if shot.camera == "push_in" else (1.0, far)
        zoom = f"({a:.6f}+({b - a:.6f})*{ease})"
        # grow by 2 px at a time so the crop stays exactly centred (no half-pixel wobble)
        mx, my = f"max(0,round(({rw}/{zoom}-{W})/2))", f"max(0,round(({rh}/{zoom}-{H})/2))"
        chain = (f"scale=w='{W}+2*{mx}':h='{H}+2*{my}':eval=frame:flags=bilinear,"
                 f"crop=w={W}:h={H}:x='{mx}':y='{my}':exact=1")
        return (rw, rh, raw), chain
    horizontal = shot.camera in ("pan_left", "pan_right", "static")
    span = (PW - W - 2) if horizontal else (PH - H - 2)  # room to travel (2 px kept for the shift)
    if shot.camera == "static":  # a very slow drift, direction from the seed
        travel = min(span, W * 0.006 * (0.5 + shot.motion)) * (1 if ctx.seed % 2 else -1)
    else:
        travel = span * amount * (1 if shot.camera in ("pan_right", "tilt_down") else -1)
    start = (span - travel) / 2
    # the strip the camera travels over, in `n` copies shifted by 2k/n px, stacked vertically;
    # n is doubled (up to 16, ~40 MB) until a step is at most half the slowest per-frame move
    if horizontal:
        y0 = _even_floor((PH - H) / 2)
        strips = [p[y0 // s:(y0 + H) // s] for p, s in zip(planes, (1, 2, 2))]
    else:
        x0 = _even_floor((PW - W) / 2)
        strips = [p[:, x0 // s:(x0 + W) // s] for p, s in zip(planes, (1, 2, 2))]
    slowest = 0.5 * abs(travel) / max(1, ctx.frames - 1)
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


# --- the storyboard caption band ----------------------------------------------------------------

_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_TOKEN = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")  # a CJK character, or a run of anything else but spaces


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font()), size, index=CJK_FONT_INDEX_SC)


def band_height(height: int) -> int:
    """The tallest the caption band gets (about 11% of the frame); short text makes it shorter."""
    return _even(max(8, 0.11 * height))


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> tuple[list[str], bool]:
    """Lines of `text` no wider than `width` (words, or single CJK characters); True if it all fit."""
    lines, cur = [], ""
    for tok in _TOKEN.findall(" ".join(text.split())):
        glue = " " if cur and tok.isascii() and cur[-1].isascii() else ""
        if font.getlength(cur + glue + tok) <= width or not cur:
            cur += glue + tok
        else:
            lines.append(cur)
            cur = tok
        while font.getlength(cur) > width and len(cur) > 1:  # a token wider than the line: hard break
            cut = next(i for i in range(len(cur), 0, -1) if font.getlength(cur[:i]) <= width or i == 1)
            lines.append(cur[:cut])
            cur = cur[cut:]
    if cur:
        lines.append(cur)
    if len(lines) <= max_lines:
        return lines, True
    last = lines[max_lines - 1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    return lines[:max_lines - 1] + [last.rstrip() + "…"], False


def caption_band(shot: Shot, ctx: RenderContext) -> Image.Image:
    """An RGBA strip (frame width x up to 11% of the height): 'SC 2 · SH 1 · PUSH IN' and the description."""
    W, H = ctx.size
    bh = band_height(H)
    pad = max(2, round(bh * 0.09))
    avail = bh - 2 * pad
    header = f"SC {ctx.scene_index + 1} · SH {ctx.shot_index + 1} · {shot.camera.replace('_', ' ').upper()}"
    hs = max(6, round(avail * 0.24))
    for n in (1, 2, 3):  # the biggest text that fits in 1, 2 or 3 lines
        ds = max(6, int(min(hs * 0.95, (avail - hs * 1.2) / (n * 1.2))))
        lines, fits = wrap(shot.description, _font(ds), W - 2 * pad, n)
        if fits:
            break
    bh = min(bh, _even(pad * 2 + hs * 1.2 + len(lines) * ds * 1.2 + 1))  # no taller than its text
    img = Image.new("RGBA", (W, bh), (8, 10, 16, 170))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, bh - max(1, bh // 50), W, bh), fill=(255, 196, 64, 200))
    draw.text((pad, pad), header, font=_font(hs), fill=(255, 204, 80, 255))
    for i, line in enumerate(lines):
        draw.text((pad, pad + hs * 1.2 + i * ds * 1.2), line, font=_font(ds), fill=(240, 240, 240, 255))
    return img
