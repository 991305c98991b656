"""The animatic renderer: every shot becomes a moving storyboard panel, fast on a CPU.

A procedural backdrop (backdrop.py) is painted once per shot, 1.25x larger than the frame, with a
storyboard caption band for the top of the frame. The shot file is that still and its camera move
(media/camera.py, a `.still.npz`): the film's encode plays the move straight into the film, so an
animatic shot is never encoded on its own.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import RenderError
from ..media.camera import SUFFIX, Move, even, picture_size, write_still
from ..resources import CJK_FONT_INDEX_SC, cjk_font
from ..screenplay import Shot
from .backdrop import paint_backdrop
from .base import Clip, RenderContext, register_renderer


class AnimaticRenderer:
    """Storyboard panels: procedural backdrop + camera move + caption band."""

    name = "animatic"
    suffix = SUFFIX  # the shot file is a still and its move, played by the film's encode

    def cache_token(self) -> str:
        return "animatic-2"

    def render(self, shot: Shot, ctx: RenderContext, out: Path) -> Clip:
        width, height = ctx.size
        if ctx.frames < 1:
            raise RenderError(f"shot {shot.id}: cannot render {ctx.frames} frames", stage="render", scene=ctx.scene.id)
        if width % 2 or height % 2:
            raise RenderError(f"frame size {width}x{height} must be even for yuv420p", stage="render",
                              scene=ctx.scene.id)
        fps = f"{ctx.fps.numerator}/{ctx.fps.denominator}"
        move = Move(shot.camera, shot.motion, ctx.frames, width, height, fps, ctx.seed)
        rgb = paint_backdrop(ctx.scene, shot, ctx.seed, *picture_size(width, height))
        band = np.asarray(caption_band(shot, ctx), dtype=np.uint8)
        write_still(out, rgb, move, band)
        return Clip(path=Path(out), frames=ctx.frames, fps=ctx.fps, width=width, height=height)


@register_renderer("animatic")
def create_animatic(**_options) -> AnimaticRenderer:
    return AnimaticRenderer()


# --- the storyboard caption band ----------------------------------------------------------------

_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_TOKEN = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")  # a CJK character, or a run of anything else but spaces


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font()), size, index=CJK_FONT_INDEX_SC)


def band_height(height: int) -> int:
    """The tallest the caption band gets (about 11% of the frame); short text makes it shorter."""
    return even(max(8, 0.11 * height))


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
    bh = min(bh, even(pad * 2 + hs * 1.2 + len(lines) * ds * 1.2 + 1))  # no taller than its text
    img = Image.new("RGBA", (W, bh), (8, 10, 16, 170))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, bh - max(1, bh // 50), W, bh), fill=(255, 196, 64, 200))
    draw.text((pad, pad), header, font=_font(hs), fill=(255, 204, 80, 255))
    for i, line in enumerate(lines):
        draw.text((pad, pad + hs * 1.2 + i * ds * 1.2), line, font=_font(ds), fill=(240, 240, 240, 255))
    return img
