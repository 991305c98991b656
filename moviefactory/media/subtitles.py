"""Subtitle files from the Timeline's cues: .srt, .vtt and a styled .ass for burning in with libass."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pysubs2

from ..config import CaptionStyle, Format
from ..languages import language as film_language
from ..timeline.captions import Measure
from ..timeline.model import Cue, Timeline
from .files import atomic_path

_ASS_COLOUR = re.compile(r"^&H([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})$")


def font_pixels(fmt: Format) -> int:
    return max(8, round(fmt.caption.font_size * fmt.height))


def ass_font_size(fmt: Format, language: str) -> int:
    """The style's font size for the language's script: letters as big as the format's Latin ones
    (libass sizes a font by its line height, which differs from script to script: see Script.line_height)."""
    return round(font_pixels(fmt) * film_language(language).script.line_height / _latin_line_height())


def _latin_line_height() -> float:
    from ..languages import scripts

    return scripts()["latin"].line_height


def caption_measure(fmt: Format, language: str = "en") -> Measure:
    """Width in pixels of a caption string as libass will draw it (the language's font, size and
    weight, shaped by HarfBuzz as libass shapes it)."""
    # Pillow sizes a font by its em: the em libass draws at ass_font_size
    font = _font(language, round(font_pixels(fmt) / _latin_line_height()))
    # libass emboldens synthetically and strokes an outline on both sides: leave room for both.
    extra = 2 * fmt.caption.outline * fmt.height
    scale = 1.06 if fmt.caption.bold else 1.0
    return lambda text: font.getlength(text) * scale + extra


@lru_cache(maxsize=8)
def _font(language: str, size: int):
    from PIL import ImageFont

    script = film_language(language).script
    return ImageFont.truetype(str(script.font_file()), size, index=script.index)


def _colour(value: str) -> pysubs2.Color:
    m = _ASS_COLOUR.match(value)
    if not m:
        return pysubs2.Color(255, 255, 255)
    a, b, g, r = (int(x, 16) for x in m.groups())
    return pysubs2.Color(r, g, b, a)


def _clean(text: str) -> str:
    # Braces and backslashes would be read by libass as override tags.
    return text.replace("{", "(").replace("}", ")").replace("\\", "/")


def _ms(t) -> int:
    return round(float(t) * 1000)


def _style(fmt: Format, language: str) -> pysubs2.SSAStyle:
    c: CaptionStyle = fmt.caption
    return pysubs2.SSAStyle(
        fontname=film_language(language).script.font, fontsize=ass_font_size(fmt, language), bold=c.bold,
        primarycolor=_colour(c.primary_colour), secondarycolor=_colour(c.secondary_colour),
        outlinecolor=pysubs2.Color(0, 0, 0, 0), backcolor=pysubs2.Color(0, 0, 0, 128),
        outline=round(c.outline * fmt.height, 1), shadow=round(c.shadow * fmt.height, 1),
        alignment=pysubs2.Alignment(c.alignment),
        marginl=round(c.safe_area.left * fmt.width), marginr=round(c.safe_area.right * fmt.width),
        marginv=round(c.safe_area.bottom * fmt.height),
        # -1: libass finds each line's base direction from its text (else it is left to right, and an
        # Arabic line's full stop lands at its right end); kept at 1 for left-to-right scripts.
        encoding=-1 if film_language(language).script.rtl else 1,
    )


def _karaoke(cue: Cue, joiner: str) -> str:
    """ASS text with a \\kf sweep per word, timed from the cue's start, broken where the cue wraps."""
    targets = [len(ln.replace(" ", "")) for ln in cue.lines]
    out: list[str] = []
    t, line_i, filled = cue.start, 0, 0
    for n, word in enumerate(cue.words):
        if line_i < len(targets) - 1 and filled >= targets[line_i]:
            out.append("\\N")
            line_i, filled = line_i + 1, 0
        elif n:
            out.append(joiner)
        gap = _ms(word.start - t) // 10
        if gap > 0:
            out.append(f"{{\\k{gap}}}")
        out.append(f"{{\\kf{max(1, _ms(word.end - max(word.start, t)) // 10)}}}{_clean(word.text)}")
        filled += len(word.text.replace(" ", ""))
        t = max(t, word.end)
    return "".join(out)


def write_subtitles(timeline: Timeline, fmt: Format, stem: Path) -> dict[str, Path]:
    """Write <stem>.srt, <stem>.vtt and <stem>.ass; return them by extension."""
    plain = pysubs2.SSAFile()
    styled = pysubs2.SSAFile()
    styled.info.update({"PlayResX": str(fmt.width), "PlayResY": str(fmt.height), "WrapStyle": "2",
                        "ScaledBorderAndShadow": "yes", "Title": timeline.title})
    styled.styles["Default"] = _style(fmt, timeline.language)
    pos = ""
    if fmt.caption.position_y is not None:
        pos = f"{{\\an{fmt.caption.alignment}\\pos({fmt.width // 2},{round(fmt.caption.position_y * fmt.height)})}}"
    for cue in timeline.cues:
        start, end = _ms(cue.start), _ms(cue.end)
        plain.append(pysubs2.SSAEvent(start=start, end=end, text="\\N".join(_clean(ln) for ln in cue.lines)))
        body = _karaoke(cue, " " if film_language(timeline.language).spaced else "") if fmt.caption.style == "karaoke" and cue.words else "\\N".join(
            _clean(ln) for ln in cue.lines)
        styled.append(pysubs2.SSAEvent(start=start, end=end, text=pos + body))
    written = {}
    for ext, doc in (("srt", plain), ("vtt", plain), ("ass", styled)):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            doc.save(str(tmp), format_=ext if ext != "vtt" else "vtt", encoding="utf-8")
        written[ext] = path
    return written
