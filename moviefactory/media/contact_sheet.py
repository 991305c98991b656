"""contact_sheet.png: one thumbnail per shot, in cut order, labelled with the shot id and where it
starts in the film, so a person sees the whole film at a glance before (or instead of) watching it.

Thumbnails are the middle frame of each rendered shot file (the picture without captions), read
with PyAV; the sheet is drawn with Pillow and written under a temp name, then renamed.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..timeline.model import Timeline
from .files import atomic_path

THUMB_LONG_SIDE = 320  # pixels
LABEL = 22  # pixels under each thumbnail
GAP = 6


def middle_frame(path: Path, frames: int) -> np.ndarray:
    """Frame frames//2 of a shot file as (H, W, 3) uint8 (decoding stops there)."""
    import av

    want = frames // 2
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: half the time on two cores
        last = None
        for k, frame in enumerate(container.decode(stream)):
            last = frame
            if k >= want:
                break
        if last is None:
            raise ValueError(f"{path} has no video frames")
        return last.to_ndarray(format="rgb24")


def thumb_size(width: int, height: int) -> tuple[int, int]:
    scale = THUMB_LONG_SIDE / max(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def write_contact_sheet(timeline: Timeline, run_dir: Path, out: Path, *, columns: int | None = None) -> Path:
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
        picture = Image.fromarray(middle_frame(run_dir / clip.path, clip.frames)).resize((tw, th), Image.LANCZOS, reducing_gap=2.0)
        sheet.paste(picture, (x, y))
        start = float(clip.start)
        draw.text((x + 2, y + th + 3), f"{clip.shot}  {int(start // 60)}:{start % 60:04.1f}", fill=(220, 220, 220),
                  font=font)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
