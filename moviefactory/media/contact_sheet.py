"""contact_sheet.png: one thumbnail per shot, in cut order, labelled with the shot id and where it
starts in the film, so a person sees the whole film at a glance before (or instead of) watching it.

Thumbnails are each shot's middle frame as the film's encode played it (the picture without
captions): the assembler keeps them as it goes, so nothing is decoded twice. The sheet is drawn
with Pillow and written under a temp name, then renamed.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..timeline.model import Timeline
from .camera import rgb_from_yuv420
from .files import atomic_path

THUMB_LONG_SIDE = 320  # pixels
LABEL = 22  # pixels under each thumbnail
GAP = 6


def thumb_size(width: int, height: int) -> tuple[int, int]:
    scale = THUMB_LONG_SIDE / max(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def write_contact_sheet(timeline: Timeline, middles: dict[int, bytes], out: Path, *,
                        columns: int | None = None) -> Path:
    """`middles[k]`: clip k's middle frame, raw yuv420p at the timeline's size."""
    from PIL import Image, ImageDraw, ImageFont

    clips = list(timeline.video)
    tw, th = thumb_size(timeline.width, timeline.height)
    cols = columns or max(1, min(len(clips), 6 if timeline.width >= timeline.height else 8))
    rows = math.ceil(len(clips) / cols)
    sheet = Image.new("RGB", (GAP + cols * (tw + GAP), GAP + rows * (th + LABEL + GAP)), (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for k, clip in enumerate(clips):
        x = GAP + (k % cols) * (tw + GAP)
        y = GAP + (k // cols) * (th + LABEL + GAP)
        if k in middles:
            rgb = rgb_from_yuv420(middles[k], timeline.width, timeline.height)
            sheet.paste(Image.fromarray(rgb).resize((tw, th), Image.LANCZOS, reducing_gap=2.0), (x, y))
        start = float(clip.start)
        draw.text((x + 2, y + th + 3), f"{clip.shot}  {int(start // 60)}:{start % 60:04.1f}", fill=(220, 220, 220),
                  font=font)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
