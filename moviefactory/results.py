"""What the API hands back: typed results with the paths a run wrote."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .screenplay import Screenplay


@dataclass(frozen=True)
class FilmResult:
    run_id: str
    run_dir: Path
    video: Path
    subtitles: dict[str, Path]
    screenplay: Path
    timeline: Path
    report: Path
    title: str
    duration: float  # seconds, probed from the film
    stage_seconds: dict[str, float] = field(default_factory=dict)
    resumed: bool = False
    extras: dict[str, Path] = field(default_factory=dict)  # contact_sheet, otio

    @property
    def paths(self) -> list[Path]:
        return [self.video, *self.subtitles.values(), *self.extras.values(), self.screenplay, self.timeline,
                self.report]


@dataclass(frozen=True)
class PlanResult:
    run_id: str
    run_dir: Path
    screenplay: Screenplay
