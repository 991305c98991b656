"""Captions from word timings: group spoken words into cues and wrap them to the safe area.

Pure functions. Text width comes from a `measure` callable (pixels at the caption font size),
so wrapping is exact for proportional Latin and for CJK text, which has no spaces to break at.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Callable, Sequence

from ..config import CaptionStyle
from .model import Cue, Word

Measure = Callable[[str], float]
CLAUSE_END = tuple(",;:，、；：")
SENTENCE_END = tuple(".!?。！？…")
CJK_TRIM = "，。、；：！？…,.;:"
_ATTACHED = re.compile(r"[^\w\s]*")
HOLD = Fraction(1, 4)  # a cue lingers this long after its last word, if nothing follows


def ms(seconds: float) -> Fraction:
    """Quantise seconds to whole milliseconds (what subtitle formats can express)."""
    return Fraction(round(seconds * 1000), 1000)


def wrap(words: Sequence[str], joiner: str, max_width: float, measure: Measure) -> list[str]:
    """Greedy wrap of `words` (for CJK: characters) into lines no wider than `max_width` pixels."""
    lines: list[str] = []
    current: list[str] = []
    for w in words:
        trial = joiner.join([*current, w])
        if current and measure(trial) > max_width:
            lines.append(joiner.join(current))
            current = [w]
        else:
            current.append(w)
    if current:
        lines.append(joiner.join(current))
    return lines


def _units(text: str, language: str) -> list[str]:
    # Chinese wraps between any two characters; other languages at spaces.
    return list(text) if language == "zh" else text.split()


def caption_cues(
    words: Sequence[tuple[str, float, float]],
    *,
    offset: Fraction,
    line_end: Fraction,
    language: str,
    style: CaptionStyle,
    max_width: float,
    measure: Measure,
    text: str = "",
    speaker: str = "",
    ref: str = "",
) -> list[Cue]:
    """Cues for one spoken line. `words` are (text, start, end) seconds from the line's start.

    `text` is the line as written: TTS word lists drop punctuation, and the punctuation is what
    says where a caption may break.
    """
    joiner = "" if language == "zh" else " "
    spelled = with_punctuation(text, [t for t, _, _ in words]) if text else [t.strip() for t, _, _ in words]
    timed = [(Word(_display(raw, style, language), offset + ms(s), offset + ms(e)), raw)
             for raw, (_, s, e) in zip(spelled, words)]
    chunks: list[list[Word]] = []
    current: list[Word] = []
    for word, raw in timed:
        if not word.text:
            if current and raw.endswith(SENTENCE_END + CLAUSE_END):
                chunks.append(current)
                current = []
            continue
        trial = [*current, word]
        too_many = language != "zh" and len(trial) > style.max_words
        too_wide = len(wrap(_units(_text(trial, joiner, language), language), joiner, max_width, measure)) > style.max_lines
        if current and (too_many or too_wide):
            chunks.append(current)
            trial = [word]
        current = trial
        if raw.endswith(SENTENCE_END) or (raw.endswith(CLAUSE_END) and _breaks_at_clause(current, style)):
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)

    cues = []
    for i, chunk in enumerate(chunks):
        start = chunk[0].start
        next_start = chunks[i + 1][0].start if i + 1 < len(chunks) else line_end
        end = min(chunk[-1].end + HOLD, max(next_start, chunk[-1].end), line_end)
        if end <= start:
            continue
        text = _text(chunk, joiner, language)
        lines = tuple(wrap(_units(text, language), joiner, max_width, measure))
        cues.append(Cue(start, end, lines, tuple(chunk), speaker, ref))
    return cues


def with_punctuation(text: str, words: Sequence[str]) -> list[str]:
    """Each word as written in `text`, with the punctuation that follows it ('sea' -> 'sea,')."""
    found, pos = [], 0
    for w in words:
        w = w.strip()
        at = text.find(w, pos) if w else -1
        found.append((at, at + len(w)) if at >= 0 else None)
        if at >= 0:
            pos = at + len(w)
    out = []
    for i, (w, span) in enumerate(zip(words, found)):
        if span is None:
            out.append(w.strip())
            continue
        nxt = next((f[0] for f in found[i + 1:] if f is not None), len(text))
        # Only punctuation touching the word belongs to it ('sea,' but not the dash in 'sea — and').
        out.append(w.strip() + _ATTACHED.match(text, span[1], nxt).group(0))
    return out


def _breaks_at_clause(current: list[Word], style: CaptionStyle) -> bool:
    # Short word-by-word cues break at every comma; long subtitles only once they have some words.
    return style.style == "karaoke" or len(current) >= 4


def _display(text: str, style: CaptionStyle, language: str) -> str:
    # Chinese captions carry no punctuation; the pause between cues says it.
    text = text.strip().strip(CJK_TRIM) if language == "zh" else text.strip()
    return text.upper() if style.uppercase else text


def _text(chunk: Sequence[Word], joiner: str, language: str) -> str:
    return joiner.join(w.text for w in chunk)
