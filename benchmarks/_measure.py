"""What the benchmarks measure: wall time, CPU time of this process and its children, and the peak
resident memory of the whole process tree, sampled from /proc (Linux).

CPU of children comes from RUSAGE_CHILDREN, which counts only children that were waited for: a
measured block that leaves a child running (or a zombie) has that child's CPU missing, so
`measured` reports the children still there when it ends.
"""
from __future__ import annotations

import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator


def _children(pid: int) -> list[int]:
    """Every child of `pid`, whichever of its threads started it (a child started from a thread is
    listed under that thread's task, not the process's main one)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return found


def tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")), 0)
        except (OSError, ValueError):
            continue
        stack += _children(p)
    return total


class TreeMemory:
    """Samples the process tree's resident memory every `interval` seconds; `peak_kb` is the most seen."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak_kb, self.interval, self._stop = 0, interval, threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and of its children that were waited for."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Measurement:
    wall: float = 0.0  # seconds
    cpu: float = 0.0  # seconds, this process + waited-for children
    peak_mb: float = 0.0  # the process tree's peak resident memory
    leftover: list[int] = field(default_factory=list)  # children still there at the end: CPU not counted


@contextmanager
def measured() -> Iterator[Measurement]:
    """Measure the block: `with measured() as m: ...`, then m.wall, m.cpu, m.peak_mb."""
    m = Measurement()
    before = set(_children(os.getpid()))
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with TreeMemory() as mem:
        yield m
    m.wall, m.cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    m.peak_mb = mem.peak_kb / 1024
    m.leftover = sorted(set(_children(os.getpid())) - before)
