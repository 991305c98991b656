"""One film in its own child process: its outcome comes back through a pipe, and a process that dies
before sending one (SIGKILL, the kernel's OOM killer, a crash in native code) becomes that film's
failed outcome instead of taking the batch with it.

Each film process leads its own process group: a Ctrl-C at the terminal reaches only the batch,
which then stops its films (and the tools they run, such as ffmpeg) itself.
"""
from __future__ import annotations

import os
import signal
import socket
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

Job = dict[str, Any]
Outcome = dict[str, Any]


def _film_main(make: Callable[[Job], Outcome], job: Job, conn: Connection) -> None:
    """The child process: make the film, send its outcome."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    try:
        outcome = make(job)
    except Exception as exc:  # noqa: BLE001 - make_one never raises; another `make` may, and it is this film's
        outcome = {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": 70}
    conn.send(outcome)
    conn.close()


class FilmProcess:
    def __init__(self, context: Any, make: Callable[[Job], Outcome], job: Job) -> None:
        self.conn, child_end = context.Pipe(duplex=False)
        self.process = context.Process(target=_film_main, args=(make, job, child_end), name="moviefactory-film")
        self.process.start()
        child_end.close()  # the child holds the only writing end: its death is EOF here
        self.outcome: Outcome | None = None
        self.reading, self.ended = True, False

    @property
    def handles(self) -> list[Any]:
        """What to wait on: the pipe (until the outcome or EOF came) and the process's exit."""
        return [self.conn, self.process.sentinel] if self.reading else [self.process.sentinel]

    def poll(self) -> Outcome | None:
        """The outcome once the process has ended (a death is a failed outcome); None while it runs."""
        self._read()
        if not wait([self.process.sentinel], 0):
            return None
        self._read()  # sent just before exiting
        pid = self.process.pid
        if self.outcome is None:
            # not reaped yet, so the group id is still this film's: what the dead film started dies with it
            signal_group(pid, signal.SIGKILL)
        self.process.join()  # its files close a moment before its exit status is there to read
        code = self.process.exitcode
        self._end()
        if self.outcome is not None:
            return self.outcome
        return {"status": "failed", "error": f"the film's process died ({died(code)})", "exit_code": 1,
                "worker": f"{socket.gethostname()}:{pid}"}

    def stop(self) -> None:
        """End the film and anything it started (the batch is stopping)."""
        if self.ended:
            return
        for sig, seconds in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            if self.process.exitcode is not None:
                break
            signal_group(self.process.pid, sig)
            self.process.join(seconds)
        self._end()

    def _read(self) -> None:
        if self.reading and self.conn.poll():
            try:
                self.outcome = self.conn.recv()
            except EOFError:  # the process ended without a word
                pass
            self.reading = False

    def _end(self) -> None:
        self.conn.close()
        self.process.join()
        self.process.close()
        self.ended = True


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):  # not its own group leader yet: the process alone
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def died(exitcode: int) -> str:
    """'killed by signal 9 (SIGKILL ...)' or 'exit code 3', from a process's exit code."""
    if exitcode >= 0:
        return f"exit code {exitcode}, without reporting an outcome"
    number = -exitcode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    hint = ": out of memory, or killed" if number == signal.SIGKILL else ""
    return f"killed by signal {number}, {name}{hint}"
