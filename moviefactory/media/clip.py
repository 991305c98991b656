"""A rendered shot on disk, as the rest of the pipeline sees it."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    """A rendered shot on disk: a video-only file (or a still and its camera move) of exactly `frames`
    frames."""

    path: Path
    frames: int
    fps: Fraction
    width: int
    height: int

    @property
    def duration(self) -> Fraction:
        return self.frames / self.fps
