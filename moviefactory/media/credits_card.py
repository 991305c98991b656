"""The end card of `--credits end`: the film's title, then who made its pictures and under which
licence, on a dark still, played like any still shot (camera.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Format
from .camera import Move, picture_size, write_still


def card_lines(credits: list[dict]) -> list[str]:
    """One line per author and library, in the order the film first shows them."""
    seen: dict[tuple[str, str], None] = {}
    for c in credits:
        seen.setdefault((c.get("author") or "unknown", f"{c.get('source', '').capitalize()} · {c.get('licence', '')}"))
    return [f"{author} — {where}" for author, where in seen]


def write_end_card(out: Path, title: str, credits: list[dict], fmt: Format, frames: int) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    from ..resources import CJK_FONT_INDEX_SC, cjk_font

    pw, ph = picture_size(fmt.width, fmt.height)
    img = Image.new("RGB", (pw, ph), (12, 12, 16))
    draw = ImageDraw.Draw(img)
    lines = card_lines(credits)
    big = max(10, round(fmt.height * 0.045))
    small = max(8, min(round(fmt.height * 0.028), round(fmt.height * 0.6 / max(len(lines) + 3, 1) / 1.4)))
    font_big = ImageFont.truetype(str(cjk_font()), big, index=CJK_FONT_INDEX_SC)
    font_small = ImageFont.truetype(str(cjk_font()), small, index=CJK_FONT_INDEX_SC)
    rows = [(title, font_big, (255, 255, 255)), ("", font_small, None), ("Pictures", font_small, (255, 196, 64))]
    rows += [(line, font_small, (220, 220, 220)) for line in lines]
    height = sum(round(f.size * 1.4) for _, f, _ in rows)
    y = (ph - height) / 2
    for text, font, colour in rows:
        while text and font.getlength(text) > fmt.width * 0.86:  # long names: shortened, never off the card
            text = text[:-2] + "…"
        if text and colour:
            draw.text((pw / 2, y), text, font=font, fill=colour, anchor="ma")
        y += round(font.size * 1.4)
    rgb = np.asarray(img, np.float32) / 255.0
    move = Move("static", 0.0, frames, fmt.width, fmt.height, f"{fmt.frame_rate.numerator}/{fmt.frame_rate.denominator}")
    return write_still(out, rgb, move)
