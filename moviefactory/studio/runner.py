"""The studio's workers: each takes the oldest queued film, makes it in its own process (child.py), and
turns that process's messages into the film's state in the queue and into live events for its page.

Cancelling kills the film's process group (SIGTERM, then SIGKILL): its ffmpeg and model work stop and
the run keeps every finished stage and shot, so resuming goes on from there. Stopping the server does
the same and leaves the film queued, to continue at the next start.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from ..batch.process import signal_group, died
from ..pipeline.progress import STAGES
from .child import film_main
from .store import Store

log = logging.getLogger("moviefactory.studio")
# How much of a film each stage is, for one progress number (sound runs beside the shots: none of its own).
WEIGHTS = {"plan": 0.08, "narrate": 0.12, "render": 0.5, "sound": 0.0, "connect": 0.05, "timeline": 0.03,
           "assemble": 0.22}


def overall(stage: str, fraction: float) -> float:
    before = sum(WEIGHTS[s] for s in STAGES[:STAGES.index(stage)]) if stage in STAGES else 0.0
    return round(min(1.0, before + WEIGHTS.get(stage, 0.0) * max(0.0, min(1.0, fraction))), 4)


class Hub:
    """Live events per film, from worker threads to the server's event loop (SSE subscribers). The
    events of a film's current attempt are kept, so a page that connects late still sees every shot;
    "queued" (the film was queued again) starts a new attempt."""

    def __init__(self) -> None:
        self.loop = None  # the server's asyncio loop, set when it starts
        self.lock = threading.Lock()
        self.subscribers: dict[str, set] = {}
        self.recent: dict[str, deque] = {}

    def publish(self, film_id: str, name: str, data: dict[str, Any]) -> None:
        message = (name, {**data, "id": film_id})
        with self.lock:
            if name == "queued":
                self.recent[film_id] = deque(maxlen=500)
            self.recent.setdefault(film_id, deque(maxlen=500)).append(message)
            queues = list(self.subscribers.get(film_id, ()))
        for queue in queues:
            self.loop.call_soon_threadsafe(queue.put_nowait, message)

    def subscribe(self, film_id: str, queue) -> list:
        with self.lock:
            self.subscribers.setdefault(film_id, set()).add(queue)
            return list(self.recent.get(film_id, ()))

    def unsubscribe(self, film_id: str, queue) -> None:
        with self.lock:
            self.subscribers.get(film_id, set()).discard(queue)


class Runner:
    def __init__(self, store: Store, hub: Hub, output: Path, config: str | None, workers: int = 1) -> None:
        self.store, self.hub, self.output, self.config = store, hub, output, config
        self.workers = max(1, workers)
        self.context = multiprocessing.get_context("spawn")  # no forked copies of the server's threads
        self.running: dict[str, Any] = {}  # film id -> its process
        self.cancelled: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for row in self.store.interrupted():  # the last server stopped mid-film: its process must be gone
            if row["pid"]:
                _await_group_end(row["pid"])
            log.info("continuing %s from its checkpoint", row["id"])
        for n in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"studio-worker-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """The server is stopping: end the running films; they stay queued and continue at the next start."""
        self.stopping.set()
        with self.lock:
            processes = list(self.running.items())
        for film_id, process in processes:
            _end_group(process)
        for thread in self.threads:
            thread.join(10)

    def cancel(self, film_id: str) -> bool:
        """Stop a running film (True), or take a queued one off the queue; False if it was neither."""
        with self.lock:
            process = self.running.get(film_id)
            if process is None:
                if self.store.cancel_queued(film_id):
                    queued = True
                else:
                    row = self.store.film(film_id)
                    if not (row and row["status"] == "running"):
                        return False
                    self.cancelled.add(film_id)  # claimed, its process starting: _run ends it once it is there
                    return True
            else:
                queued = False
                self.cancelled.add(film_id)
        if queued:
            self.hub.publish(film_id, "cancelled", {"status": "cancelled"})
        else:
            _end_group(process)
        return True

    # --- one worker ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopping.is_set():
            row = self.store.claim(timeout=0.5)
            if row is not None:
                with self.lock:  # a cancel of an earlier attempt that came too late to stop it: not this one's
                    self.cancelled.discard(row["id"])
                try:
                    self._run(row)
                except Exception as exc:  # noqa: BLE001 - one film's trouble must not stop the worker
                    log.exception("film %s", row["id"])
                    error = f"internal error in the studio worker: {type(exc).__name__}: {exc}"
                    self.store.update(row["id"], status="failed", error=error)
                    self.hub.publish(row["id"], "failed", {"status": "failed", "error": error})

    def _run(self, row: dict[str, Any]) -> None:
        film_id = row["id"]
        request = json.loads(row["request"])
        job = {**request, "config": self.config, "run_id": film_id,
               "options": {**request.get("options", {}), "output": str(self.output)}}
        events_in, events_out = self.context.Pipe(duplex=False)
        lifeline_in, lifeline_out = self.context.Pipe(duplex=False)
        process = self.context.Process(target=film_main, args=(job, events_out, lifeline_in),
                                       name=f"moviefactory-studio-{film_id}", daemon=False)
        started = time.time()
        process.start()
        events_out.close()
        lifeline_in.close()
        with self.lock:
            self.running[film_id] = process
            early = film_id in self.cancelled
        self.store.update(film_id, pid=process.pid)
        if early:
            _end_group(process)
        self.hub.publish(film_id, "status", {"status": "running", "stage": None, "progress": 0.0})
        outcome = self._follow(film_id, events_in, process, started)
        process.join()
        try:  # a film that died on its own (a crash, the OOM killer) may leave its tools running
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        with self.lock:
            self.running.pop(film_id, None)
            cancelled = film_id in self.cancelled
            self.cancelled.discard(film_id)
        lifeline_out.close()
        events_in.close()
        code = process.exitcode  # (not closed: a cancel in another thread may still be joining it)
        if self.stopping.is_set() and outcome is None:
            self.store.update(film_id, status="queued", pid=None)  # continues at the next start
            return
        if cancelled:
            self.store.update(film_id, status="cancelled", pid=None, error=None)
            self.hub.publish(film_id, "cancelled", {"status": "cancelled"})
        elif outcome is not None and outcome[0] == "done":
            files = run_files(self.output, film_id)
            self.store.update(film_id, status="done", progress=1.0, pid=None, title=outcome[1]["title"])
            self.hub.publish(film_id, "done", {"status": "done", "progress": 1.0, "files": sorted(files),
                                               "elapsed": round(time.time() - started, 2), **outcome[1]})
        else:
            error = outcome[1]["error"] if outcome else f"the film's process died ({died(code)})"
            self.store.update(film_id, status="failed", pid=None, error=error)
            self.hub.publish(film_id, "failed", {"status": "failed", "error": error})

    def _follow(self, film_id: str, conn, process, started: float):
        """Relay the film's messages until its process ends; its outcome message (or None)."""
        outcome, last = None, {"stage": None, "progress": 0.0, "started": set()}
        while True:
            ready = wait([conn, process.sentinel], timeout=1.0)
            if conn in ready:
                try:
                    kind, data = conn.recv()
                except (EOFError, OSError):
                    process.join()
                    return outcome
                if kind == "event":
                    self._event(film_id, data, last, started)
                else:
                    outcome = (kind, data)
            elif process.sentinel in ready and not conn.poll():
                return outcome

    def _event(self, film_id: str, data: dict[str, Any], last: dict[str, Any], started: float) -> None:
        stage, kind = data["stage"], data["kind"]
        data["elapsed"] = round(time.time() - started, 2)
        if kind == "note":
            self.hub.publish(film_id, "note", data)
            return
        if stage == "render" and "shot" in data:
            fraction = data["shot"] / max(1, data.get("shots") or 1)
            self.hub.publish(film_id, "shot", data)
        elif kind == "done":
            fraction = 1.0
        elif data.get("total"):
            fraction = data["done"] / data["total"]
        else:
            fraction = 0.0
        if kind == "start" and stage not in last["started"] or kind == "done":
            last["started"].add(stage)  # each shot's task says "start": the stage starts once
            self.hub.publish(film_id, "stage", data)
        if stage == "sound":  # beside the shots: it moves no progress of its own
            return
        progress = max(last["progress"], overall(stage, fraction))
        if stage != last["stage"] or progress - last["progress"] >= 0.01 or kind == "done":
            self.store.update(film_id, stage=stage, progress=progress)
        last.update(stage=stage, progress=progress)
        self.hub.publish(film_id, "progress", {"stage": stage, "progress": progress, "elapsed": data["elapsed"],
                                               "detail": data["detail"], "t": data["t"]})


def _end_group(process) -> None:
    """SIGTERM to the film's group, then SIGKILL; then whatever of the group is left (a tool it started)."""
    pid = process.pid
    for sig, seconds in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        if process.exitcode is not None:
            break
        signal_group(pid, sig)
        process.join(seconds)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _await_group_end(pgid: int, seconds: float = 10.0) -> None:
    """Wait for an old server's film to end itself (its lifeline closed when that server died). It is
    not killed from here: after a reboot the same number may be another program's."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)
    log.warning("process group %s still exists; continuing anyway", pgid)


def run_files(output: Path, film_id: str) -> dict[str, Path]:
    """The files of a run that may be served, by name: what its report lists, the screenplay and the
    shots' thumbnails. A request's file name is looked up here; it is never joined into a path."""
    root = _run_root(output, film_id)
    if root is None:
        return {}
    # Listing a run reads its report and its thumbnails folder: done again only when either changed.
    stamp = tuple(_mtime(p) for p in (root, root / "report.json", root / "thumbs"))
    cached = _FILES.get(root)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    names = {}
    try:
        listed = json.loads((root / "report.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        listed = []
    for rel in [*listed, "report.json", "screenplay.json", "plan.json", "contact_sheet.png"]:
        path = root / rel
        if path.is_file():
            names[path.name] = path
    thumbs = root / "thumbs"
    if thumbs.is_dir():
        for entry in os.scandir(thumbs):
            if entry.is_file() and entry.name.endswith(".jpg") and not entry.name.startswith("."):
                names[f"thumb-{entry.name}"] = Path(entry.path)
    _FILES[root] = (stamp, names)
    return names


_FILES: dict[Path, tuple[tuple, dict[str, Path]]] = {}
_ROOTS: dict[tuple[Path, str], Path] = {}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _run_root(output: Path, film_id: str) -> Path | None:
    """The run folder named `film_id`, found by listing the output folder (the id is not a path); once
    found it is remembered, so a poller does not list a folder of hundreds of runs on every request."""
    known = _ROOTS.get((output, film_id))
    if known is not None and known.is_dir():
        return known
    try:
        for entry in os.scandir(output):
            if entry.name == film_id and entry.is_dir(follow_symlinks=False):
                _ROOTS[(output, film_id)] = Path(entry.path)
                return _ROOTS[(output, film_id)]
    except OSError:
        pass
    return None

