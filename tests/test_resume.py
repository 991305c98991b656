"""A stopped run continues where it stopped: finished shots are never rendered again."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import moviefactory as mf
from moviefactory.errors import RenderError
from moviefactory.renderers import create_renderer

from media import video_frames

pytestmark = [pytest.mark.slow]

THEME = "A day in the life of a street cat"
ARGS = dict(format="vertical", scenes=3, seconds=15, draft=True)


class StopsAfter:
    """The real animatic, made to fail once `limit` shots are done (a crash in the middle of a run)."""

    name = "animatic"

    def __init__(self, limit: int) -> None:
        self.inner, self.limit, self.calls = create_renderer("animatic"), limit, 0
        self.suffix = self.inner.suffix  # the kind of shot file it writes
        self.lock = threading.Lock()

    def cache_token(self) -> str:
        return self.inner.cache_token()

    def render(self, shot, ctx, out):
        with self.lock:
            self.calls += 1
            if self.calls > self.limit:
                raise RenderError("simulated crash", stage="render", scene=ctx.scene.id)
        return self.inner.render(shot, ctx, out)


def _finished_shots(run_dir: Path) -> dict[Path, tuple[int, int]]:
    """Shots marked done, with the inode and mtime that would change if they were written again."""
    shots = [m.with_name(m.name.removesuffix(".done.json")) for m in (run_dir / "scenes").rglob("*.done.json")]
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shots}


def test_resume_after_a_crash_keeps_finished_shots(tmp_path):
    with pytest.raises(RenderError):
        mf.make_film(THEME, output=tmp_path, renderer=StopsAfter(2), **ARGS)
    run_dir = next(tmp_path.iterdir())
    done = _finished_shots(run_dir)
    assert 1 <= len(done) <= 3
    assert not (run_dir / "film.mp4").exists()

    # The run was made with a renderer object: resume asks for it again (the same token: the same shots).
    result = mf.resume_film(run_dir.name, output=tmp_path, renderer=create_renderer("animatic"))
    assert result.resumed
    assert {p: _finished_shots(run_dir)[p] for p in done} == done, "a finished shot was rendered again"
    frames, fps = video_frames(result.video)
    assert frames > 0 and abs(frames / fps - result.duration) < 0.1
    assert len(_finished_shots(run_dir)) > len(done)


def test_resume_after_the_process_is_killed(tmp_path):
    cmd = [sys.executable, "-m", "moviefactory", "make", THEME, "--format", "vertical", "--scenes", "3",
           "--seconds", "15", "--draft", "--output", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if any(tmp_path.glob("*/scenes/*/*.done.json")):
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: ffmpeg children too
    proc.wait()
    run_dir = next(tmp_path.iterdir())
    done = _finished_shots(run_dir)
    assert done, "the run was killed before any shot finished"

    resumed = subprocess.run([sys.executable, "-m", "moviefactory", "resume", run_dir.name, "--output",
                              str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "film.mp4" in resumed.stdout
    assert {p: _finished_shots(run_dir)[p] for p in done} == done, "a finished shot was rendered again"
    frames, _ = video_frames(run_dir / "film.mp4")
    assert frames > 0
