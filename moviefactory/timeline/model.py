"""The Timeline: the one representation between decisions and media.

Times are exact fractions of a second (video positions are whole frames at the timeline's
rate), so nothing drifts however long the film. The assembler, the subtitle writers and the
report read the Timeline, never the Screenplay.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class VideoClip:
    path: str  # relative to the run directory
    scene: str
    shot: str
    start: Fraction  # seconds on the timeline (a whole number of frames)
    frames: int
    transition: str = "cut"  # how this clip joins the one before it: cut | crossfade | fade_black
    overlap_frames: int = 0  # frames shared with the clip before (0 for a cut)
    bridge: str = ""  # a generated transition of overlap_frames frames shown over the overlap instead of a fade


@dataclass(frozen=True)
class AudioClip:
    path: str  # relative to the run directory
    role: str  # narration | music | sfx
    ref: str  # what it voices, e.g. the narration line id
    start: Fraction
    duration: Fraction
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    offset: Fraction = Fraction(0)  # in-point: where in the source file the clip starts

    @property
    def end(self) -> Fraction:
        return self.start + self.duration


@dataclass(frozen=True)
class Word:
    text: str
    start: Fraction
    end: Fraction


@dataclass(frozen=True)
class Cue:
    """One caption on screen. `lines` are already wrapped to the safe area."""

    start: Fraction
    end: Fraction
    lines: tuple[str, ...]
    words: tuple[Word, ...] = ()
    speaker: str = ""
    ref: str = ""  # narration line id this cue belongs to

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Timeline:
    title: str
    language: str
    width: int
    height: int
    fps: Fraction
    duration: Fraction
    video: tuple[VideoClip, ...]
    audio: tuple[AudioClip, ...] = ()
    cues: tuple[Cue, ...] = ()
    loudness_lufs: float = -23.0
    true_peak_db: float = -1.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(self.duration * self.fps)

    def to_json(self) -> str:
        return json.dumps(_encode(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Timeline":
        data = json.loads(text)
        return _decode(cls, data)


def _encode(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


_NESTED = {"video": VideoClip, "audio": AudioClip, "cues": Cue, "words": Word}


def _decode(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.name in _NESTED:
            kwargs[f.name] = tuple(_decode(_NESTED[f.name], item) for item in raw)
        elif f.type in ("Fraction",):
            kwargs[f.name] = Fraction(raw)
        elif f.name == "lines":
            kwargs[f.name] = tuple(raw)
        else:
            kwargs[f.name] = raw
    return cls(**kwargs)


__all__ = ["AudioClip", "Cue", "Timeline", "VideoClip", "Word", "asdict"]
