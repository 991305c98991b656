"""Run a batch: every distinct film once through the chosen executor, a failed film never stopping
the others, and a summary (`<folder>/batch.json`) a person or a scheduler can read at any moment.

Two films of one batch with the same theme and settings are one run directory: they are made once,
and the duplicate shares the outcome (`same_as` its first). batch.json is written before the first
film starts, after every film, and at the end, also when the batch is interrupted, so it always
holds what was made; films not made yet are `pending`.
"""
from __future__ import annotations

import json
import time
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..errors import MovieFactoryError
from ..media.files import write_text
from .executors import Job, Outcome, create_executor, make_one
from .spec import BatchSpec


@dataclass(frozen=True)
class FilmOutcome:
    index: int  # the film's place in the batch file
    theme: str
    status: str  # made | failed | pending
    run_id: str | None = None
    video: str | None = None
    duration: float | None = None
    error: str | None = None
    exit_code: int = 0
    worker: str | None = None  # host:pid that made it
    same_as: int | None = None  # a duplicate: the index of the film that was made for both


@dataclass(frozen=True)
class BatchResult:
    name: str
    films: tuple[FilmOutcome, ...]  # every film of the file, in its order
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
    """Make every film of `spec` with its run directory in `folder` (default: output/name). Films already
    made there with the same settings are returned, not made again. `on_film(done, total, outcome)` is
    called as each film ends, after batch.json says so."""
    folder = Path(folder or spec.folder)
    jobs = spec.jobs(folder)
    runner = create_executor(executor or spec.executor, workers=spec.workers, ray=spec.ray)
    book = Ledger(spec, jobs, runner.name, folder / "batch.json")
    state = "interrupted"
    try:
        book.write("running")
        for index in book.refused:  # films refused before making (a bad name or file): known at once
            book.announce(index, on_film)
        with closing(runner.run([jobs[i] for i in book.todo], make)) as films:
            for k, outcome in films:
                ended = book.record(book.todo[k], outcome)
                book.write("running")
                for index in ended:
                    book.announce(index, on_film)
        state = "done"
    finally:
        book.write(state)
    return book.result()


class Ledger:
    """Every film's outcome so far, and which films are the same run."""

    def __init__(self, spec: BatchSpec, jobs: list[Job], executor: str, path: Path) -> None:
        self.spec, self.jobs, self.executor, self.path = spec, jobs, executor, path
        self.started = time.perf_counter()
        self.films = [FilmOutcome(i, job["theme"], "pending") for i, job in enumerate(jobs)]
        self.copies: dict[int, list[int]] = {}  # the film made -> its duplicates
        self.done = 0
        first: dict[str, int] = {}
        for i, job in enumerate(jobs):
            try:
                run_id = _run_id(job)
            except MovieFactoryError as exc:  # this film's failure, found before making anything
                self.films[i] = self._outcome(i, {"status": "failed", "error": exc.one_line(),
                                                  "exit_code": exc.exit_code})
                continue
            if run_id in first:  # one run directory, one film process: never two making it at once
                self.films[i] = replace(self.films[i], run_id=run_id, same_as=first[run_id])
                self.copies[first[run_id]].append(i)
            else:
                first[run_id] = i
                self.copies[i] = []
        self.refused = [f.index for f in self.films if f.status == "failed"]
        self.todo = list(self.copies)  # the films to make: one per run id

    def record(self, index: int, outcome: Outcome) -> list[int]:
        """The film's outcome, and its duplicates'; the indices that ended."""
        self.films[index] = self._outcome(index, outcome)
        for copy in self.copies[index]:
            self.films[copy] = replace(self.films[index], index=copy, theme=self.films[copy].theme, same_as=index)
        return [index, *self.copies[index]]

    def announce(self, index: int, on_film: Callable[[int, int, FilmOutcome], None] | None) -> None:
        self.done += 1
        if on_film:
            on_film(self.done, len(self.films), self.films[index])

    def _outcome(self, index: int, outcome: Outcome) -> FilmOutcome:
        known = {k: outcome.get(k) for k in ("run_id", "video", "duration", "error", "worker")}
        return FilmOutcome(index, self.films[index].theme, outcome["status"],
                           exit_code=int(outcome.get("exit_code", 0)), **known)

    def wall_seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def write(self, state: str) -> None:
        """batch.json, replaced whole (a reader never sees half of it)."""
        counts = {status: sum(f.status == status for f in self.films) for status in ("made", "failed", "pending")}
        summary: dict[str, Any] = {"name": self.spec.name, "state": state, "executor": self.executor,
                                   "workers": self.spec.workers, "wall_seconds": self.wall_seconds(), **counts,
                                   "films": [asdict(f) for f in self.films]}
        write_text(self.path, json.dumps(summary, ensure_ascii=False, indent=1))

    def result(self) -> BatchResult:
        return BatchResult(self.spec.name, tuple(self.films), self.path, self.wall_seconds(), self.executor)


def _run_id(job: Job) -> str:
    from ..api import run_id  # the run id make_film will use: `auto` values resolved, names checked

    return run_id(job["theme"], **job["options"])
