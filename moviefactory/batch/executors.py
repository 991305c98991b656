"""The executor seam: how a batch's films get made. Each executor takes picklable jobs
({theme, options}) and a picklable `make` function, and yields (index, outcome) as films finish, in
whatever order they finish, every index exactly once. A film that cannot be made, even one whose
process or worker dies, is a failed outcome; the others go on.

- `local`: each film in its own spawned child process, `workers` at once (a film's memory, threads
  and models end with its process, and its death is only its own: see process.py).
- `ray`: one Ray task per film on a cluster (or a local Ray started here), `gpus_per_film` GPUs
  each; Ray is an optional extra (`pip install 'moviefactory[ray]'`).
"""
from __future__ import annotations

import multiprocessing
import os
import re
import socket
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator, Protocol, Sequence

from ..errors import MissingDependencyError, MovieFactoryError
from ..registry import Registry
from .process import FilmProcess, Job, Outcome


def make_one(job: Job) -> Outcome:
    """Make one film; never raises: a failure is an outcome with its one-line error (and exit code)."""
    from ..api import make_film

    worker = f"{socket.gethostname()}:{os.getpid()}"  # where the film was made (batch.json says)
    try:
        result = make_film(job["theme"], **job["options"])
    except MovieFactoryError as exc:
        return {"status": "failed", "error": exc.one_line(), "exit_code": exc.exit_code, "worker": worker}
    except Exception as exc:  # noqa: BLE001 - one film's bug must not end the batch
        return {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": 70,
                "worker": worker}
    return {"status": "made", "run_id": result.run_id, "video": str(result.video), "duration": result.duration,
            "worker": worker}


class Executor(Protocol):
    name: str

    def run(self, jobs: Sequence[Job], make: Callable[[Job], Outcome] = make_one) -> Iterator[tuple[int, Outcome]]:
        ...


_REGISTRY: Registry = Registry("executor", ("moviefactory.batch.executors",))
register_executor = _REGISTRY.register
executor_names = _REGISTRY.names
create_executor = _REGISTRY.create


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int = 1, **_options) -> None:
        self.workers = max(1, int(workers))

    def run(self, jobs: Sequence[Job], make: Callable[[Job], Outcome] = make_one) -> Iterator[tuple[int, Outcome]]:
        context = multiprocessing.get_context("spawn")  # no forked copies of threads or loaded models
        waiting = list(enumerate(jobs))[::-1]
        running: dict[int, FilmProcess] = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    i, job = waiting.pop()
                    running[i] = FilmProcess(context, make, job)
                wait([handle for film in running.values() for handle in film.handles])
                for i, film in list(running.items()):
                    outcome = film.poll()
                    if outcome is not None:
                        del running[i]
                        yield i, outcome
        finally:  # interrupted, or the caller stopped reading: no film goes on without a batch
            for film in running.values():
                film.stop()


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int = 1, ray: dict[str, Any] | None = None, **_options) -> None:
        options = dict(ray or {})
        self.gpus_per_film = float(options.pop("gpus_per_film", 0))
        self.cpus_per_film = float(options.pop("cpus_per_film", 1))
        self.init_options = {"include_dashboard": False, "log_to_driver": False, **options}
        self.workers = workers

    def run(self, jobs: Sequence[Job], make: Callable[[Job], Outcome] = make_one) -> Iterator[tuple[int, Outcome]]:
        if not jobs:  # starting Ray takes seconds
            return
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("the ray executor needs Ray: pip install 'moviefactory[ray]'",
                                         stage="batch") from None
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(**self.init_options)
        pending: dict[Any, int] = {}
        try:
            task = ray.remote(num_cpus=self.cpus_per_film, num_gpus=self.gpus_per_film, max_retries=0)(make)
            pending = {task.remote(job): i for i, job in enumerate(jobs)}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), _ray_outcome(ray, ref)
        finally:
            for ref in pending:  # interrupted, or the caller stopped reading: on a cluster they would go on
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()


def _ray_outcome(ray: Any, ref: Any) -> Outcome:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died (WorkerCrashedError, OOM), or the task failed
        lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
        cause = lines[-1] if lines else ""  # Ray's message ends with the cause, after its own traceback
        return {"status": "failed", "error": f"the film's Ray task failed ({type(exc).__name__}: {cause})",
                "exit_code": 1}


register_executor("local")(LocalExecutor)
register_executor("ray")(RayExecutor)
