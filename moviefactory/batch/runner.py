"""Run a batch: every film through the chosen executor, a failed film never stopping the others,
and a summary (`<output>/<name>/batch.json`) a person or a scheduler can read."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..media.files import write_text
from .executors import Job, Outcome, create_executor, make_one
from .spec import BatchSpec


@dataclass(frozen=True)
class FilmOutcome:
    theme: str
    status: str  # made | failed
    run_id: str | None = None
    video: str | None = None
    duration: float | None = None
    error: str | None = None
    exit_code: int = 0
    worker: str | None = None  # host:pid that made it


@dataclass(frozen=True)
class BatchResult:
    name: str
    films: tuple[FilmOutcome, ...]
    summary: Path
    wall_seconds: float
    executor: str

    @property
    def failed(self) -> list[FilmOutcome]:
        return [f for f in self.films if f.status != "made"]

    @property
    def exit_code(self) -> int:
        """0 when every film was made; otherwise the worst failure's code (input errors are 2)."""
        return max((f.exit_code or 1 for f in self.failed), default=0)


def run_batch(spec: BatchSpec, *, folder: Path | None = None,
              on_film: Callable[[int, int, FilmOutcome], None] | None = None,
              make: Callable[[Job], Outcome] = make_one, executor: str | None = None) -> BatchResult:
    """Make every film of `spec` with its run directory in `folder` (default: output/name), and write
    folder/batch.json. Films already made there with the same settings are returned, not made again."""
    started = time.perf_counter()
    folder = Path(folder or spec.folder)
    jobs = spec.jobs(folder)
    runner = create_executor(executor or spec.executor, workers=spec.workers, ray=spec.ray)
    outcomes: list[FilmOutcome | None] = [None] * len(jobs)
    for done, (i, outcome) in enumerate(runner.run(jobs, make), 1):
        known = {k: outcome.get(k) for k in ("run_id", "video", "duration", "error", "worker")}
        outcomes[i] = FilmOutcome(jobs[i]["theme"], outcome["status"], exit_code=int(outcome.get("exit_code", 0)),
                                  **known)
        if on_film:
            on_film(done, len(jobs), outcomes[i])
    result = BatchResult(spec.name, tuple(o for o in outcomes if o is not None), folder / "batch.json",
                         round(time.perf_counter() - started, 3), runner.name)
    summary: dict[str, Any] = {"name": spec.name, "executor": runner.name, "workers": spec.workers,
                               "wall_seconds": result.wall_seconds, "made": len(result.films) - len(result.failed),
                               "failed": len(result.failed), "films": [asdict(f) for f in result.films]}
    write_text(result.summary, json.dumps(summary, ensure_ascii=False, indent=1))
    return result
