"""The studio's queue under stress: cancelling a film mid-encode (its ffmpeg leaves the process table, the
run stays resumable) and a server killed mid-film (the next server finishes it, keeping every shot)."""
from __future__ import annotations

import signal
import time

import av
import pytest

from studio_server import Studio, film_groups, in_group

pytestmark = [pytest.mark.slow]
LONG = {"seconds": 24, "format": "vertical", "tts": "espeak", "music": "none"}  # full size: a long encode


def until_assembling(studio: Studio, film_id: str) -> None:
    for name, data in studio.events(film_id):
        if name == "stage" and data["stage"] == "assemble":
            return
        assert name not in ("done", "failed"), (name, data)
    raise AssertionError("the film never reached assembly")


def shot_marks(run) -> dict[str, tuple[int, str]]:
    """Every finished shot's own file (not our marker beside it): when it was written, and its bytes' hash.
    Rendering a shot again writes a new file under a temp name and renames it, a new mtime."""
    import hashlib

    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in (run / "scenes").rglob("*") if p.is_file() and not p.name.endswith((".done.json", ".jpg"))}


def wait_gone(pgid: int, seconds: float = 15) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and in_group(pgid):
        time.sleep(0.1)
    return in_group(pgid)


def test_cancel_stops_ffmpeg_and_resume_keeps_the_shots(tmp_path):
    studio = Studio(tmp_path / "runs")
    try:
        film_id = studio.http.post("/api/films", json={"theme": "A glassblower shapes a blue vase", **LONG}).json()["id"]
        until_assembling(studio, film_id)
        (group,) = film_groups(studio.proc.pid)
        deadline = time.monotonic() + 20
        while not any("ffmpeg" in p["cmd"] for p in in_group(group)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("ffmpeg" in p["cmd"] for p in in_group(group)), "no encode was running"
        run = tmp_path / "runs" / film_id
        marks = shot_marks(run)
        assert marks
        cancelled = studio.http.delete(f"/api/films/{film_id}")
        assert cancelled.status_code == 202
        assert studio.wait(film_id)["status"] == "cancelled"
        assert wait_gone(group) == []  # the film's process and its ffmpeg are gone
        assert not (run / "film.mp4").exists()
        twice = [studio.http.post(f"/api/films/{film_id}/resume").status_code for _ in range(2)]
        assert twice == [202, 409]  # a double click: one resume
        film = studio.wait(film_id)
        assert film["status"] == "done", film["error"]
        assert shot_marks(run) == marks  # no shot made again
        report = studio.http.get(f"/api/films/{film_id}/files/report.json").json()
        assert report["resumed"] is True
        with av.open(str(run / "film.mp4")) as container:
            assert container.duration / 1e6 == pytest.approx(report["duration"], abs=0.1)
            assert (container.streams.video[0].width, container.streams.video[0].height) == (1080, 1920)
    finally:
        studio.stop()


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["crash", "stop"])
def test_restart_mid_film_finishes_it_without_rendering_shots_again(tmp_path, stop):
    first = Studio(tmp_path / "runs")
    film_id = first.http.post("/api/films", json={"theme": "A lamplighter walks the old town", **LONG}).json()["id"]
    until_assembling(first, film_id)
    (group,) = film_groups(first.proc.pid)
    run = tmp_path / "runs" / film_id
    marks = shot_marks(run)
    first.stop(stop)  # a crash (no shutdown of its own), or a stop (it ends its films and keeps them queued)
    assert wait_gone(group) == []  # killed by the server, or ended itself when its server died (its lifeline)
    assert not (run / "film.mp4").exists()
    second = Studio(tmp_path / "runs")
    try:
        film = second.wait(film_id)
        assert film["status"] == "done", film["error"]
        assert shot_marks(run) == marks
        report = second.http.get(f"/api/films/{film_id}/files/report.json").json()
        assert report["resumed"] is True and report["shots"] == len(marks)
        with av.open(str(run / "film.mp4")) as container:
            assert container.duration / 1e6 > 15
            assert container.streams.audio
    finally:
        second.stop()
