"""`moviefactory batch schedule batch.yaml`: run the batch at every time its cron `schedule` names.

The batch file is read again at each firing (edit the themes; the next firing makes them), and each
firing's films go under output/name/<firing time>/, so every firing makes its own films even when
the themes repeat. Time and sleep are parameters, so tests (and dry runs) need not wait.
"""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InputError
from .runner import BatchResult, run_batch
from .spec import BatchSpec, load_batch


def next_firing(cron: str, after: datetime) -> datetime:
    """The first time the cron expression names strictly after `after`."""
    from croniter import croniter

    return croniter(cron, after).get_next(datetime)


def run_schedule(path: Path, *, max_firings: int | None = None, now: Callable[[], datetime] = datetime.now,
                 sleep: Callable[[float], None] = time.sleep,
                 on_firing: Callable[[datetime, BatchResult], None] | None = None,
                 on_wait: Callable[[datetime], None] | None = None, flags: Mapping[str, Any] | None = None,
                 output: Path | None = None, config: Path | None = None, **run_options) -> list[BatchResult]:
    """Fire the batch at each scheduled time (up to `max_firings`; None: until interrupted). A firing
    that overruns the next slot is not followed by a burst of missed ones: the next firing is the
    first scheduled time after it ends. `flags`, `output`, `config`: as for load_batch, at every firing."""
    def load() -> BatchSpec:
        return load_batch(path, flags=flags, output=output, config=config)

    spec = load()
    results: list[BatchResult] = []
    last: datetime | None = None
    while max_firings is None or len(results) < max_firings:
        if not spec.schedule:
            raise InputError(f"{path}: no `schedule:` (a cron expression such as \"0 9 * * *\") to run on")
        when = next_firing(spec.schedule, max(now(), last) if last else now())
        if on_wait:
            on_wait(when)
        while (left := (when - now()).total_seconds()) > 0:
            sleep(min(left, 60.0))  # wake at least every minute: clocks jump (suspend, DST)
        spec = load()  # this firing makes what the file says now
        result = run_batch(spec, folder=spec.folder / when.strftime("%Y%m%d-%H%M"), **run_options)
        results.append(result)
        last = when
        if on_firing:
            on_firing(when, result)
    return results
