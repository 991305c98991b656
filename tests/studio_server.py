"""A real `moviefactory serve` (uvicorn) in a child process for the studio tests, on a free port, with
helpers to drive it over HTTP and to look at the process table."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"draft": True, "seconds": 10, "format": "vertical", "tts": "espeak", "music": "none"}


class Studio:
    def __init__(self, output: Path, *args: str, env: dict | None = None) -> None:
        self.output = output
        self.log = output.parent / f"serve-{output.name}-{time.monotonic_ns()}.log"
        environment = {k: v for k, v in os.environ.items() if k not in ("STUDIO_TOKEN", "PEXELS_API_KEY",
                                                                         "PIXABAY_API_KEY")}
        environment.update({"HF_HUB_OFFLINE": "1", **(env or {})})
        self.proc = subprocess.Popen([sys.executable, "-m", "moviefactory", "serve", "--port", "0", "--output",
                                      str(output), *args], stdout=subprocess.PIPE, stderr=open(self.log, "w"),
                                     env=environment, cwd=output.parent, text=True)
        line = self.proc.stdout.readline()
        found = re.search(r"http://[^:]+:(\d+)/", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"the studio did not start: {line!r} {self.log.read_text()}")
        self.url = f"http://127.0.0.1:{found.group(1)}"
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def wait(self, film_id: str, statuses=("done", "failed", "cancelled"), seconds: float = 240) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            film = self.http.get(f"/api/films/{film_id}").json()
            if film["status"] in statuses:
                return film
            time.sleep(0.25)
        raise AssertionError(f"film {film_id} still {film['status']} after {seconds} s: {self.log.read_text()[-2000:]}")

    def events(self, film_id: str, until=("done", "failed", "cancelled"), seconds: float = 240):
        """(name, data) of the film's server-sent events, read until one of `until`."""
        with self.http.stream("GET", f"/api/films/{film_id}/events", timeout=seconds) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    yield name, json.loads(line[6:])
                    if name in until:
                        return

    def stop(self, sig=signal.SIGTERM) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def processes() -> list[dict]:
    """Every process: pid, ppid, pgid and command line (from /proc)."""
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        rows.append({"pid": int(entry), "ppid": int(fields[1]), "pgid": int(fields[2]), "cmd": cmdline})
    return rows


def film_groups(server_pid: int) -> set[int]:
    """The process groups of the studio's film processes (children of the server leading their own group)."""
    return {p["pgid"] for p in processes() if p["ppid"] == server_pid and p["pgid"] == p["pid"]}


def in_group(pgid: int) -> list[dict]:
    return [p for p in processes() if p["pgid"] == pgid]
