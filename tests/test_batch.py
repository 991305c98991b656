"""Content batches: a YAML file of films, made by the local executor, a process pool, or Ray, now or
on a cron schedule. Every film is decoded; nothing here trusts the batch's own summary alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from moviefactory.batch import create_executor, executor_names, load_batch, run_batch
from moviefactory.batch.executors import Executor
from moviefactory.batch.schedule import next_firing, run_schedule
from moviefactory.errors import InputError

from media import video_frames

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch")]

QUICK = {"format": "vertical", "draft": True, "scenes": 2, "seconds": 6, "music": "none", "sfx": "none"}


def write_batch(tmp_path: Path, films, **fields) -> Path:
    path = tmp_path / "batch.yaml"
    data = {"name": "shorts", "output": str(tmp_path / "out"), "defaults": QUICK, "films": films, **fields}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def assert_film(video: str | Path, seconds: float) -> None:
    frames, fps = video_frames(Path(video))
    assert fps == 30 and abs(frames / fps - seconds) <= 1 / fps


@pytest.mark.parametrize("text, message", [
    ("name: shorts\nfilms: []\n", "films"),
    ("name: shorts\nfilms:\n  - theme: A cat\n    colour: red\n", "line 3.*unknown option.*colour"),
    ("name: shorts\nschedule: every day\nfilms:\n  - theme: A cat\n", "line 2.*not a cron expression"),
    ("name: Bad Name\nfilms:\n  - theme: A cat\n", "line 1.*name"),
    ("name: shorts\ndefaults: {sped: 2}\nfilms:\n  - theme: A cat\n", "unknown option.*sped.*defaults"),
])
def test_bad_batch_files_are_one_line_with_the_line(tmp_path, text, message):
    path = tmp_path / "batch.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_batch(path)


def test_local_batch_makes_every_film_keeps_going_after_a_failure_and_redoes_nothing(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A lighthouse keeper and a storm"},
                                  {"theme": "三分钟讲清楚光合作用", "lang": "zh", "seed": 3},
                                  {"theme": "A broken one", "renderer": "nope"}])
    spec = load_batch(path)
    seen = []
    result = run_batch(spec, on_film=lambda done, total, film: seen.append((done, total, film.status)))
    assert [f.status for f in result.films] == ["made", "made", "failed"]
    assert all(f.worker.endswith(f":{os.getpid()}") for f in result.films)  # one after another, in this process
    assert seen == [(1, 3, "made"), (2, 3, "made"), (3, 3, "failed")]
    assert "unknown renderer 'nope'" in result.films[2].error and result.exit_code == 2
    for film in result.films[:2]:
        assert Path(film.video).parent.parent == tmp_path / "out" / "shorts"
        assert_film(film.video, film.duration)
    summary = json.loads(result.summary.read_text())
    assert summary["made"] == 2 and summary["failed"] == 1 and summary["films"][1]["theme"] == "三分钟讲清楚光合作用"

    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.mp4")}
    again = run_batch(load_batch(path))
    assert [f.run_id for f in again.films[:2]] == [f.run_id for f in result.films[:2]]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.mp4")} == before


def test_a_process_pool_makes_films_side_by_side(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "A fox in the snow"}],
                       workers=2)
    result = run_batch(load_batch(path))
    assert [f.status for f in result.films] == ["made", "made"] and result.executor == "local"
    pids = {f.worker.split(":")[1] for f in result.films}
    assert str(os.getpid()) not in pids  # made in the pool's processes
    for film in result.films:
        assert_film(film.video, film.duration)
    assert len({f.run_id for f in result.films}) == 2


def test_ray_runs_one_task_per_film(tmp_path):
    pytest.importorskip("ray")
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "A fox in the snow"}],
                       executor="ray", workers=2, ray={"num_cpus": 2})
    result = run_batch(load_batch(path))
    assert result.executor == "ray" and [f.status for f in result.films] == ["made", "made"], result.films
    assert all(not f.worker.endswith(f":{os.getpid()}") for f in result.films)  # made by Ray workers
    for film in result.films:
        assert_film(film.video, film.duration)


def test_every_executor_honours_the_contract():
    assert {"local", "ray"} <= set(executor_names())
    for name in executor_names():
        assert isinstance(create_executor(name, workers=1), Executor)


def test_schedule_fires_at_the_cron_times_each_firing_in_its_own_folder(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}], schedule="*/5 * * * *")
    clock = [datetime(2026, 11, 21, 10, 2, 30)]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    fired = []
    results = run_schedule(path, max_firings=2, now=lambda: clock[0], sleep=sleep,
                           on_firing=lambda when, result: fired.append(when))
    assert fired == [datetime(2026, 11, 21, 10, 5), datetime(2026, 11, 21, 10, 10)]
    assert sum(slept[:3]) == pytest.approx(150) and all(s <= 60 for s in slept)  # wakes at least every minute
    folders = [r.summary.parent.name for r in results]
    assert folders == ["20261121-1005", "20261121-1010"]
    for r in results:
        (film,) = r.films
        assert film.status == "made" and Path(film.video).is_relative_to(r.summary.parent)
        assert_film(film.video, film.duration)
    assert next_firing("0 9 * * *", datetime(2026, 11, 21, 9, 0)) == datetime(2026, 11, 22, 9, 0)


def test_cli_batch_run_reports_each_film_and_exits_with_the_worst(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "x", "scenes": 0}])
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "batch", "run", str(path)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    made = next(line for line in proc.stdout.splitlines() if line.startswith("made"))
    assert made.endswith("film.mp4") and "A paper boat on a rainy street: " in made
    assert_film(made.split(": ", 1)[1], json.loads((tmp_path / "out" / "shorts" / "batch.json").read_text())
                ["films"][0]["duration"])
    assert "failed x: scenes: must be between 1 and 40" in proc.stdout and "1/2 films made" in proc.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: shorts\nfilms: [{theme: A cat, colour: red}]\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "batch", "run", str(bad)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "colour" in proc.stderr and "Traceback" not in proc.stderr
