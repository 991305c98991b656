"""Progress events from the pipeline, and a clock of the wall time each stage took."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

STAGES = ("plan", "narrate", "render", "sound", "connect", "timeline", "assemble")


@dataclass(frozen=True)
class Event:
    stage: str  # one of STAGES
    kind: str  # 'start' | 'step' | 'done' | 'cached' | 'note' (a one-line message for the user)
    done: int = 0  # steps finished so far (shots, lines)
    total: int = 0  # steps in the stage (0 when it has none)
    detail: str = ""  # e.g. the scene and shot just finished
    artifact: str = ""  # run-relative path of what the step made (a shot's clip), for thumbnails


Progress = Callable[[Event], None]


def no_progress(event: Event) -> None:
    pass


@dataclass
class StageClock:
    """First start and last end of each stage (shots run in parallel, so sums would mislead)."""

    spans: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, stage: str) -> None:
        now = time.perf_counter()
        with self._lock:
            span = self.spans.setdefault(stage, [now, now])
            span[0] = min(span[0], now)

    def stop(self, stage: str) -> None:
        now = time.perf_counter()
        with self._lock:
            self.spans.setdefault(stage, [now, now])[1] = now

    def seconds(self) -> dict[str, float]:
        return {k: round(v[1] - v[0], 3) for k, v in self.spans.items()}
