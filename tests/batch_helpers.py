"""`make` functions for the batch tests. They are module-level in a module of their own so that a
spawned film process can import them by name (spawn gives the child the parent's sys.path, which
has tests/ in it); Ray workers get this module by value (see test_batch.py)."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from moviefactory.batch.executors import make_one


def _die_for(theme: str) -> None:
    if theme.startswith("die"):
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


def make_or_die(job: dict) -> dict:
    """Make the film for real; a theme starting with 'die' kills its own process first."""
    _die_for(job["theme"])
    return make_one(job)


def echo_or_die(job: dict) -> dict:
    """A film that costs nothing: its theme back as the run id, and the process that 'made' it."""
    _die_for(job["theme"])
    return {"status": "made", "run_id": job["theme"], "worker": f"{socket.gethostname()}:{os.getpid()}"}


def make_or_hang(job: dict) -> dict:
    """Make the film for real; the theme 'hang' writes its pid to output/hang.pid and never ends."""
    if job["theme"] == "hang":
        Path(job["options"]["output"], "hang.pid").write_text(str(os.getpid()))
        time.sleep(600)
    return make_one(job)
