"""Captions from word timings: group spoken words into cues and wrap them to the safe area.

Pure functions. Text width comes from a `measure` callable (pixels at the caption font size),
so wrapping is exact for proportional Latin and for CJK text, which has no spaces to break at.

Every cue can be read: its characters over the seconds it is shown stay within the reading speed
`moviefactory eval` checks (moviefactory/reading.py). A cue that would be too fast stays on into the
pause after it (never past the next cue or the end of its line), and otherwise gives words to or
takes words from its neighbours, or merges with one; the style's `max_words` gives way for that, the
safe area and `max_lines` never do. When a whole line is spoken faster than anyone can read, no
layout of its words can fix it: the cues are the least fast ones possible, and the line itself
(its length, the voice's rate) is what to change.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Callable, Sequence

from ..config import CaptionStyle
from ..languages import language as film_language
from ..reading import cps_limit, reading_chars
from .model import Cue, Word

Measure = Callable[[str], float]
Chunk = tuple[int, ...]  # positions of a cue's words in its line
CLAUSE_END = tuple(",;:，、；：")
SENTENCE_END = tuple(".!?。！？…")
CJK_TRIM = "，。、；：！？…,.;:「」『』"
_ATTACHED = re.compile(r"[^\w\s]*")
HOLD = Fraction(1, 4)  # a cue lingers this long after its last word, if nothing follows
# Subtitle files round a cue's start and end (.ass to centiseconds): a cue kept on to be read stays
# this much longer, so the rounded times still give it its reading time.
ROUNDING = Fraction(1, 100)


def ms(seconds: float) -> Fraction:
    """Quantise seconds to whole milliseconds (what subtitle formats can express)."""
    return Fraction(round(seconds * 1000), 1000)


def wrap(words: Sequence[str], joiner: str, max_width: float, measure: Measure) -> list[str]:
    """Greedy wrap of `words` (for unspaced scripts: phrases) into lines no wider than `max_width`
    pixels. An unspaced phrase wider than a line is broken between its characters."""
    lines: list[str] = []
    current: list[str] = []
    pieces = [c for w in words for c in (list(w) if not joiner and measure(w) > max_width else [w])]
    for w in pieces:
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
    # Where a line may break: spaces, or the phrases of a script written without them (zh, ja, th).
    return film_language(language).script.phrases(text)


def _joiner(language: str) -> str:
    return " " if film_language(language).spaced else ""


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
    joiner = _joiner(language)
    spelled = with_punctuation(text, [t for t, _, _ in words]) if text else [t.strip() for t, _, _ in words]
    line = _Line([Word(_display(raw, style, language), offset + ms(s), offset + ms(e))
                  for raw, (_, s, e) in zip(spelled, words)], spelled, line_end, joiner, language, style,
                 max_width, measure)
    chunks = line.readable(_group(line))
    cues = []
    for chunk, (start, end) in zip(chunks, line.times(chunks)):
        if end <= start:
            continue
        lines = tuple(wrap(_units(line.text(chunk), language), joiner, max_width, measure))
        cues.append(Cue(start, end, lines, tuple(line.words[i] for i in chunk), speaker, ref))
    return cues


def _group(line: _Line) -> list[Chunk]:
    """Words into cues in speaking order: at most `max_words`, within the safe area, broken at
    sentence ends (and clause ends, for short word-by-word cues)."""
    style = line.style
    chunks: list[Chunk] = []
    current: Chunk = ()
    for i, (word, raw) in enumerate(zip(line.words, line.spelled)):
        if not word.text:
            if current and raw.endswith(SENTENCE_END + CLAUSE_END):
                chunks.append(current)
                current = ()
            continue
        trial = (*current, i)
        too_many = bool(line.joiner) and len(trial) > style.max_words
        if current and (too_many or not line.fits(trial)):
            chunks.append(current)
            trial = (i,)
        current = trial
        if raw.endswith(SENTENCE_END) or (raw.endswith(CLAUSE_END) and _breaks_at_clause(current, style)):
            chunks.append(current)
            current = ()
    if current:
        chunks.append(current)
    return chunks


class _Line:
    """One spoken line's words, and what a cue made of some of them would be: whether it fits the
    safe area, how long it is shown, how fast it reads."""

    def __init__(self, words: list[Word], spelled: list[str], end: Fraction, joiner: str, language: str,
                 style: CaptionStyle, max_width: float, measure: Measure):
        self.words, self.spelled, self.end, self.joiner, self.language = words, spelled, end, joiner, language
        self.style, self.max_width, self.measure = style, max_width, measure
        self.shown = [i for i, w in enumerate(words) if w.text]  # words a cue can hold
        # Reading speed is judged by the script: the same rule eval applies to a film's captions.
        self.limit = Fraction(cps_limit(joiner.join(w.text for w in words)))
        # A sentence ends at its last shown word, also when TTS gave its full stop as a word of its own.
        self.sentence_ends = {max((j for j in self.shown if j <= i), default=-1)
                              for i, raw in enumerate(spelled) if raw.endswith(SENTENCE_END)}
        self._fits: dict[Chunk, bool] = {}

    def text(self, chunk: Chunk) -> str:
        return self.joiner.join(self.words[i].text for i in chunk)

    def fits(self, chunk: Chunk) -> bool:
        if chunk not in self._fits:
            wrapped = wrap(_units(self.text(chunk), self.language), self.joiner, self.max_width, self.measure)
            self._fits[chunk] = len(wrapped) <= self.style.max_lines
        return self._fits[chunk]

    def span(self, chunk: Chunk, after: Fraction) -> tuple[Fraction, Fraction]:
        """A cue is shown from its first word until HOLD after its last, or longer if it needs the time
        to be read; never past `after` (where the next cue starts) or the end of the line."""
        start, last = self.words[chunk[0]].start, self.words[chunk[-1]].end
        need = Fraction(math.ceil(reading_chars(self.text(chunk)) / self.limit * 1000), 1000)
        readable = start + need + ROUNDING
        return start, min(max(last + HOLD, readable), after, self.end)

    def times(self, chunks: Sequence[Chunk]) -> list[tuple[Fraction, Fraction]]:
        afters = [self.words[c[0]].start for c in chunks[1:]] + [self.end]
        return [self.span(chunk, after) for chunk, after in zip(chunks, afters)]

    def excess(self, chunk: Chunk, after: Fraction) -> Fraction:
        """Characters per second over the limit (0 for a readable cue, or one with no time at all,
        which is not shown)."""
        start, end = self.span(chunk, after)
        return max(Fraction(0), reading_chars(self.text(chunk)) / (end - start) - self.limit) if end > start \
            else Fraction(0)

    def readable(self, chunks: list[Chunk]) -> list[Chunk]:
        """`chunks` if each of them can be read in its time. Otherwise the layout of the line whose
        fastest cue is slowest (none too fast, whenever the speech allows it), and among those: the
        fewest cues that run on past a sentence end, then the fewest words beyond max_words, then the
        fewest breaks moved from `chunks`. Exact: a cue's time depends only on its own words and where
        the next cue starts, so the best layout is found over break positions (dynamic programming)."""
        if not any(self.excess(c, e) for c, (_, e) in zip(chunks, self.times(chunks))):
            return chunks
        shown, n = self.shown, len(self.shown)
        breaks = {shown.index(c[0]) for c in chunks[1:]}  # where the given cues start, as positions in `shown`
        ending_at: dict[int, list[tuple[int, Fraction]]] = {b: [] for b in range(1, n + 1)}  # b -> [(a, excess)]
        for a in range(n):
            for b in range(a + 1, n + 1):
                chunk = tuple(shown[a:b])
                if b - a > 1 and not self.fits(chunk):
                    break  # adding words never makes a cue narrower
                after = self.words[shown[b]].start if b < n else self.end
                ending_at[b].append((a, self.excess(chunk, after)))
        # 1. How slow the fastest cue can be made (a single word always fits, so every b is reachable).
        fastest = [Fraction(0)] * (n + 1)
        for b in range(1, n + 1):
            fastest[b] = min(max(fastest[a], over) for a, over in ending_at[b])
        # 2. The layout nearest to `chunks` among those no faster than that.
        best: list[tuple[int, int, int] | None] = [(0, 0, 0)] + [None] * n
        came_from = [0] * (n + 1)
        for b in range(1, n + 1):
            for a, over in ending_at[b]:
                if over > fastest[n] or best[a] is None:
                    continue
                cost = tuple(x + y for x, y in zip(best[a], self._penalty(a, b, breaks)))
                if best[b] is None or cost < best[b]:
                    best[b], came_from[b] = cost, a
        out, b = [], n
        while b:
            out.append(tuple(shown[came_from[b]:b]))
            b = came_from[b]
        return out[::-1]

    def _penalty(self, a: int, b: int, breaks: set[int]) -> tuple[int, int, int]:
        """What a cue of shown words a..b-1 costs: (runs past a sentence end, extra words, breaks moved)."""
        words = self.shown[a:b]
        crosses = int(any(i in self.sentence_ends for i in words[:-1]))
        moved = int(b < len(self.shown) and b not in breaks) + sum(1 for k in breaks if a < k < b)
        extra = max(0, len(words) - self.style.max_words) if self.joiner else 0
        return crosses, extra, moved


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


def _breaks_at_clause(current: Sequence[int], style: CaptionStyle) -> bool:
    # Short word-by-word cues break at every comma; long subtitles only once they have some words.
    return style.style == "karaoke" or len(current) >= 4


def _display(text: str, style: CaptionStyle, language: str) -> str:
    # Captions in unspaced scripts (zh, ja, th) carry no punctuation at their ends; the pause between
    # cues says it.
    text = text.strip() if film_language(language).spaced else text.strip().strip(CJK_TRIM)
    return text.upper() if style.uppercase else text
