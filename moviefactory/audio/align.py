"""Word timings for speech that came without them (an OpenAI-compatible speech server): the known text
spoken by espeak-ng gives each word's place in a reference reading; the reference's pauses are then
matched to the pauses silence detection finds in the real speech, and every word is moved with a
piecewise-linear map between those anchors. The words of a phrase keep their relative lengths;
the phrases land where the speaker actually paused.
"""
from __future__ import annotations

import numpy as np

from .base import WordTiming

_FRAME = 0.01  # seconds per energy frame
_MIN_PAUSE = 0.12  # seconds of quiet inside speech that count as a pause


def speech_bounds(audio: np.ndarray, sr: int) -> tuple[float, float, list[tuple[float, float]]]:
    """(first sound, last sound, pauses) of mono float audio, in seconds; a pause is (start, end)."""
    hop = max(1, int(_FRAME * sr))
    n = len(audio) // hop
    if n == 0:
        return 0.0, len(audio) / sr, []
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    level = 20 * np.log10(rms)
    loud = level > max(level.max() - 35.0, -60.0)
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return 0.0, len(audio) / sr, []
    first, last = int(idx[0]), int(idx[-1]) + 1
    pauses, k = [], first
    while k < last:
        if not loud[k]:
            j = k
            while j < last and not loud[j]:
                j += 1
            if (j - k) * _FRAME >= _MIN_PAUSE:
                pauses.append((k * _FRAME, j * _FRAME))
            k = j
        else:
            k += 1
    return first * _FRAME, last * _FRAME, pauses


def _anchors(ref: tuple[float, float, list], real: tuple[float, float, list]) -> tuple[list[float], list[float]]:
    """Matched times (reference, real): the starts and ends of speech, and the pauses both readings
    make (the longest ones of each, as many as the one with fewer has, in order)."""
    (r0, r1, rp), (s0, s1, sp) = ref, real
    k = min(len(rp), len(sp))
    longest = lambda ps: sorted(sorted(ps, key=lambda p: p[1] - p[0], reverse=True)[:k])  # noqa: E731
    xs, ys = [r0], [s0]
    for (a0, a1), (b0, b1) in zip(longest(rp), longest(sp)):
        # the pause's edges: the phrase before ends at its start, the next begins at its end
        for x, y in ((a0, b0), (a1, b1)):
            if x > xs[-1] and y > ys[-1]:
                xs.append(x)
                ys.append(y)
    if r1 > xs[-1] and s1 > ys[-1]:
        xs.append(r1)
        ys.append(s1)
    return xs, ys


def fit_words(words: tuple[WordTiming, ...], ref_audio: np.ndarray, ref_sr: int, audio: np.ndarray, sr: int,
              duration: float) -> tuple[WordTiming, ...]:
    """The reference reading's word timings moved onto the real speech."""
    xs, ys = _anchors(speech_bounds(ref_audio, ref_sr), speech_bounds(audio, sr))
    if len(xs) < 2:
        return words
    move = lambda t: float(np.interp(t, xs, ys, left=ys[0], right=ys[-1]))  # noqa: E731
    out = [WordTiming(w.text, move(w.start), move(w.end)) for w in words]
    fixed, last = [], 0.0
    for w in out:  # strictly rising, inside the stem
        start = min(max(w.start, last), duration)
        end = min(max(w.end, start + 1e-3), duration)
        fixed.append(WordTiming(w.text, start, end))
        last = start + 1e-3
    return tuple(fixed)
