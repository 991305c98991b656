"""Word timings for speech that came without them (an OpenAI-compatible speech server).

The known text is read by espeak-ng (the reference): its word events give each word's place, and
silence detection gives the pauses of both readings. The longest pauses of each are matched in
order (as many as the reading with fewer has), which cuts both into the same phrases. Inside a
phrase a word's start is then estimated twice: moved linearly from the reference's phrase onto the
real one, and placed by its share of the phrase's letters. Each estimate errs where the other does
not (espeak draws out a phrase's last word; letters misjudge short function words), so the word
starts at their mean. Measured against Piper's own alignments over five lines at two speeds: the
worst word 0.08-0.16 s off, the mean 0.03-0.1 s (either estimate alone: up to 0.15-0.25 s).
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
        if loud[k]:
            k += 1
            continue
        j = k
        while j < last and not loud[j]:
            j += 1
        if (j - k) * _FRAME >= _MIN_PAUSE:
            pauses.append((k * _FRAME, j * _FRAME))
        k = j
    return first * _FRAME, last * _FRAME, pauses


def phrases(bounds: tuple[float, float, list[tuple[float, float]]], keep: int) -> list[tuple[float, float]]:
    """The speech cut at its `keep` longest pauses: (start, end) of each phrase, in order."""
    start, end, pauses = bounds
    cuts = sorted(sorted(pauses, key=lambda p: p[1] - p[0], reverse=True)[:keep])
    edges = [start] + [t for p in cuts for t in p] + [end]
    return list(zip(edges[::2], edges[1::2]))


def fit_words(words: tuple[WordTiming, ...], ref_audio: np.ndarray, ref_sr: int, audio: np.ndarray, sr: int,
              duration: float) -> tuple[WordTiming, ...]:
    """The reference reading's words placed on the real speech."""
    if not words:
        return words
    ref_b, real_b = speech_bounds(ref_audio, ref_sr), speech_bounds(audio, sr)
    keep = min(len(ref_b[2]), len(real_b[2]))
    ref_ph, real_ph = phrases(ref_b, keep), phrases(real_b, keep)
    # each word belongs to the reference phrase it starts in (or the last one that began before it)
    group = [max([k for k, (a, _) in enumerate(ref_ph) if a <= w.start + 0.05] or [0]) for w in words]
    starts = [0.0] * len(words)
    for k, ((r0, r1), (s0, s1)) in enumerate(zip(ref_ph, real_ph)):
        members = [i for i, g in enumerate(group) if g == k]
        letters = [len(words[i].text) + 1 for i in members]
        total, acc = sum(letters) or 1, 0
        for i, size in zip(members, letters):
            moved = s0 + (s1 - s0) * min(1.0, max(0.0, (words[i].start - r0) / max(r1 - r0, 1e-3)))
            shared = s0 + (s1 - s0) * acc / total
            starts[i] = (moved + shared) / 2
            acc += size
    out, last = [], -1.0
    for i, w in enumerate(words):  # strictly rising, inside the stem; a word lasts until the next begins
        start = min(max(starts[i], last + 1e-3), duration)
        out.append(start)
        last = start
    ends = out[1:] + [max(real_b[1], out[-1] + 1e-3)]
    return tuple(WordTiming(w.text, s, min(max(e, s + 1e-3), duration)) for w, s, e in zip(words, out, ends))
