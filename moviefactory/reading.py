"""How fast a caption may be read: one rule shared by the cue builder and by `moviefactory eval`.

A cue's reading speed is its non-whitespace characters over the seconds it is on screen. The limits
are Netflix's timed-text guidance: 11 characters a second for Chinese/Japanese/Korean, 21 for other
scripts (their adult-programme figures for English and most Latin languages).
"""
from __future__ import annotations

import re

CJK_CPS = 11.0  # characters per second a reader can follow in CJK text
LATIN_CPS = 21.0  # ... and in other scripts
CJK_SHARE = 0.3  # text with more than this share of CJK characters is read at CJK_CPS

_SPACE = re.compile(r"\s+")


def reading_chars(text: str) -> int:
    """Characters a reader reads: everything but whitespace (line breaks included)."""
    return len(_SPACE.sub("", text))


def cps_limit(text: str) -> float:
    """The reading-speed limit for captions written in `text`'s script."""
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return CJK_CPS if text and cjk / len(text) > CJK_SHARE else LATIN_CPS
