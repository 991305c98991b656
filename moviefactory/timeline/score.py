"""Music and sound effects on the timeline: pure placement rules.

The music bed is fitted to the film: trimmed with a fade-out when it is long enough, otherwise
looped on bar boundaries, each repeat starting exactly on the downbeat where the last one's bar
ends while the last one's tail fades out over it. Sound effects sit at their cue times.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .captions import ms
from .model import AudioClip

MUSIC_GAIN_DB = -10.0  # the bed under everything; ducking takes it further down under speech
SFX_GAIN_DB = -8.0
FADE_IN = 1.0  # seconds, at the film's start
FADE_OUT = 2.5  # seconds, at the film's end
LOOP_TAIL = 0.75  # seconds a loop's tail overlaps the next repeat


@dataclass(frozen=True)
class TrackRef:
    path: str  # relative to the run directory
    duration: float  # measured seconds
    tempo_bpm: float | None = None
    beats_per_bar: int | None = None
    ref: str = "music"


@dataclass(frozen=True)
class SfxRef:
    path: str
    duration: float
    ref: str  # the cue id, e.g. 's02-c01'


def loop_length(track: TrackRef) -> Fraction:
    """The longest whole number of bars that still leaves a tail to fade out over the next repeat."""
    usable = max(0.5, track.duration - LOOP_TAIL)
    if track.tempo_bpm and track.beats_per_bar:
        bar = Fraction(60) / Fraction(track.tempo_bpm).limit_denominator(1000) * track.beats_per_bar
        bars = math.floor(Fraction(usable) / bar)
        if bars >= 1:
            return bar * bars
    return ms(usable)


def music_clips(track: TrackRef, film: Fraction) -> list[AudioClip]:
    if Fraction(track.duration) >= film:
        return [AudioClip(track.path, "music", track.ref, Fraction(0), film, MUSIC_GAIN_DB, FADE_IN,
                          min(FADE_OUT, float(film) / 3))]
    loop = loop_length(track)
    clips, start = [], Fraction(0)
    while start < film:
        last = start + loop >= film
        length = film - start if last else min(loop + ms(LOOP_TAIL), film - start)
        clips.append(AudioClip(track.path, "music", track.ref, start, length, MUSIC_GAIN_DB,
                               FADE_IN if start == 0 else 0.05,
                               min(FADE_OUT, float(length) / 3) if last else LOOP_TAIL))
        start += loop
    return clips


def sfx_clip(ref: SfxRef, at: Fraction, wanted: float, film: Fraction) -> AudioClip | None:
    length = min(ms(wanted), ms(ref.duration), film - at)
    if at >= film or length <= Fraction(1, 10):
        return None
    return AudioClip(ref.path, "sfx", ref.ref, at, length, SFX_GAIN_DB, 0.05, min(0.4, float(length) / 3))
