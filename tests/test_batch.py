"""Content batches: theme lists (.txt, .csv, .jsonl, YAML) and batch YAMLs, each film made in its own
process by the local executor, or by Ray, now or on a cron schedule. Every film is decoded; nothing
here trusts the batch's own summary alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

import batch_helpers
from moviefactory.batch import create_executor, executor_names, load_batch, run_batch
from moviefactory.batch.schedule import next_firing, run_schedule
from moviefactory.errors import InputError

from media import frame_at, video_frames

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch")]

QUICK = {"format": "vertical", "draft": True, "scenes": 2, "seconds": 6, "music": "none", "sfx": "none"}
QUICK_FLAGS = ["--format", "vertical", "--draft", "--scenes", "2", "--seconds", "6", "--music", "none", "--sfx", "none"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def write_batch(tmp_path: Path, films, **fields) -> Path:
    path = tmp_path / "batch.yaml"
    data = {"name": "shorts", "output": str(tmp_path / "out"), "defaults": QUICK, "films": films, **fields}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def assert_film(video: str | Path, seconds: float, size: tuple[int, int] = (270, 480)) -> None:
    frames, fps = video_frames(Path(video))
    assert fps == 30 and abs(frames / fps - seconds) <= 1 / fps
    height, width, _ = frame_at(Path(video), 0).shape
    assert (width, height) == size


def summary_of(result) -> dict:
    return json.loads(result.summary.read_text(encoding="utf-8"))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- reading batch files --------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("name: shorts\nfilms: []\n", "films"),
    ("name: shorts\nfilms:\n  - theme: A cat\n    colour: red\n", r"batch.yaml line 4: unknown setting 'colour'"),
    ("name: shorts\nschedule: every day\nfilms:\n  - theme: A cat\n", "line 2.*not a cron expression"),
    ("name: Bad Name\nfilms:\n  - theme: A cat\n", "line 1.*name"),
    ("name: shorts\ndefaults: {sped: 2}\nfilms:\n  - theme: A cat\n",
     r"batch.yaml line 2: unknown setting 'sped'; did you mean 'seed'\?"),
    ("name: shorts\nfilms:\n  - A cat\n  - theme: A dog\n    scenes: 0\n",
     "batch.yaml line 5: scenes: must be between 1 and 40"),
    ("name: shorts\nfilms:\n  - {seed: 3}\n", "batch.yaml line 3: a film needs a `theme`"),
    ("name: shorts\nfilms:\n  - {theme: A cat, output: elsewhere}\n", "line 3: output: a batch's films all go"),
])
def test_bad_batch_files_are_one_line_with_the_line(tmp_path, text, message):
    path = tmp_path / "batch.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_batch(path)


@pytest.mark.parametrize("name, text, message", [
    ("themes.txt", "A cat\n\n" + "x" * 1001 + "\n", "themes.txt line 3: the theme is 1001 characters long"),
    ("themes.txt", "# only a comment\n\n", "themes.txt: no films"),
    ("themes.csv", "theme,seconds\nA cat,10\nA dog,2\n",
     r"themes.csv line 3: seconds: must be between 5 and 3600 \(got '2'\)"),
    ("themes.csv", "theme,colour\nA cat,red\n", "themes.csv line 1: unknown setting 'colour'"),
    ("themes.csv", "title,seed\nA cat,3\n", "themes.csv line 1: the header row needs a `theme` column"),
    ("themes.csv", "theme,seed\nA cat,3\n,4\n", "themes.csv line 3: the theme is empty"),
    ("themes.csv", "theme,seed\nA cat,3,4\n", "themes.csv line 2: 3 cells, but the header names 2 columns"),
    ("themes.jsonl", '{"theme": "A cat"}\n\n{"theme": "A dog", "draft": "maybe"}\n', "themes.jsonl line 3: draft: "),
    ("themes.jsonl", '{"theme": "A cat"}\n{"theme": "A dog",\n', "themes.jsonl line 2 is not JSON"),
    ("themes.jsonl", '["A cat"]\n', "themes.jsonl line 1: expected an object"),
    ("themes.yaml", "- A cat\n- theme: A dog\n  colour: red\n", "themes.yaml line 3: unknown setting 'colour'"),
    ("themes.yaml", "- A cat\n- [A dog]\n", "themes.yaml line 2: expected a theme or a mapping"),
    ("themes.md", "A cat\n", r"themes.md: a batch is a .txt"),
])
def test_bad_theme_lists_name_the_file_the_line_and_the_key(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_batch(path)


def test_a_films_keys_win_over_flags_which_win_over_the_files_defaults(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text("name: shorts\noutput: out\ndefaults: {seed: 1, seconds: 10, scenes: 3}\n"
                    "films:\n  - {theme: A cat, seed: 3}\n  - A dog\n", encoding="utf-8")
    spec = load_batch(path, flags={"seed": 2, "seconds": 20.0}, output=tmp_path / "elsewhere")
    assert [f.options for f in spec.films] == [{"seed": 3, "seconds": 20.0, "scenes": 3},
                                               {"seed": 2, "seconds": 20.0, "scenes": 3}]
    assert spec.folder == tmp_path / "elsewhere" / "shorts" and spec.films[1].at == f"{path} line 6"
    lists = tmp_path / "Daily Themes (2026).csv"
    lists.write_text("theme,seed,draft\nA cat,5,true\n", encoding="utf-8")
    spec = load_batch(lists, flags={"seed": 2})
    assert spec.name == "daily-themes-2026" and spec.films[0].options == {"seed": 5, "draft": True}
    assert spec.output == Path("runs/batches")  # like a batch YAML's

    # a config file of settings, in the same order: a film's own > --config > the defaults'
    for name in ("mine", "flag", "default"):
        (tmp_path / f"{name}.yaml").write_text("music: none\n", encoding="utf-8")
    path.write_text(f"name: shorts\ndefaults: {{config: {tmp_path / 'default.yaml'}}}\n"
                    f"films:\n  - {{theme: A cat, config: {tmp_path / 'mine.yaml'}}}\n  - A dog\n", encoding="utf-8")
    configs = [Path(f.options["config"]).stem for f in load_batch(path, config=tmp_path / "flag.yaml").films]
    assert configs == ["mine", "flag"] and Path(load_batch(path).films[1].options["config"]).stem == "default"
    (tmp_path / "flag.yaml").write_text("seconds: 2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"flag.yaml line 1: seconds: must be between 5 and 3600"):
        load_batch(path, config=tmp_path / "flag.yaml")  # read now: a bad config stops the batch before a film


def _write_list(folder: Path, kind: str, theme: str) -> Path:
    """One film in each list format, its options written the way that format writes them."""
    if kind == "txt":
        text = f"# today's film\n\n{theme}\n"
    elif kind == "csv":
        text = "theme,format,draft,scenes,seconds,music,sfx,seed\n" + f'"{theme}",vertical,true,2,6,none,none,\n'
    elif kind == "jsonl":
        text = json.dumps({"theme": theme, **QUICK}, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump([{"theme": theme, **QUICK}], allow_unicode=True)
    path = folder / f"themes.{kind}"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind, theme", [("txt", "三分钟讲清楚光合作用"), ("csv", "A lighthouse, and a storm"),
                                         ("jsonl", "A fox in the snow"), ("yaml", "A paper boat on a rainy street")])
def test_each_theme_list_format_makes_its_films(tmp_path, kind, theme):
    path = _write_list(tmp_path, kind, theme)
    spec = load_batch(path, flags=QUICK if kind == "txt" else {}, output=tmp_path / "out")
    result = run_batch(spec)
    (film,) = result.films
    assert film.status == "made" and film.theme == theme, film
    assert Path(film.video).parent.parent == tmp_path / "out" / "themes"
    assert_film(film.video, film.duration)


# --- making them ----------------------------------------------------------------------------------
def test_local_batch_makes_every_film_keeps_going_after_a_failure_and_redoes_nothing(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A lighthouse keeper and a storm"},
                                  {"theme": "三分钟讲清楚光合作用", "lang": "zh", "seed": 3},
                                  # weights that are not there: this film fails, the others are made
                                  {"theme": "A broken one", "renderer": "ltx-video", "model_path": str(tmp_path)}])
    spec = load_batch(path)
    seen = []
    result = run_batch(spec, on_film=lambda done, total, film: seen.append((done, total, film.status)))
    assert [f.status for f in result.films] == ["made", "made", "failed"]
    pids = [f.worker.split(":")[1] for f in result.films[:2]]
    assert str(os.getpid()) not in pids and len(set(pids)) == 2  # each film in a process of its own
    assert seen == [(1, 3, "failed"), (2, 3, "made"), (3, 3, "made")]  # missing weights are found at once
    assert "ltx-video weights are not available" in result.films[2].error and result.exit_code == 3
    for film in result.films[:2]:
        assert Path(film.video).parent.parent == tmp_path / "out" / "shorts"
        assert_film(film.video, film.duration)
    summary = summary_of(result)
    assert summary["made"] == 2 and summary["failed"] == 1 and summary["films"][1]["theme"] == "三分钟讲清楚光合作用"
    assert summary["state"] == "done" and summary["pending"] == 0

    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.mp4")}
    again = run_batch(load_batch(path))
    assert [f.run_id for f in again.films[:2]] == [f.run_id for f in result.films[:2]]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.mp4")} == before


def test_a_killed_film_process_is_that_films_failure_and_the_others_are_made(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "die, said the kernel"},
                                  {"theme": "A fox in the snow"}], workers=2)
    result = run_batch(load_batch(path), make=batch_helpers.make_or_die)
    assert [f.status for f in result.films] == ["made", "failed", "made"], result.films
    killed = result.films[1]
    assert "the film's process died (killed by signal 9" in killed.error and killed.exit_code == 1
    assert gone(int(killed.worker.split(":")[1]))
    for film in (result.films[0], result.films[2]):
        assert_film(film.video, film.duration)
    assert len({f.worker for f in result.films}) == 3 and result.exit_code == 1
    summary = summary_of(result)
    assert [f["status"] for f in summary["films"]] == ["made", "failed", "made"] and summary["state"] == "done"


def test_batch_json_is_written_while_the_batch_runs_and_when_it_is_interrupted(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "hang"},
                                  {"theme": "A fox in the snow"}], workers=2)
    spec = load_batch(path)
    folder = spec.folder
    during = []

    def on_film(done, total, film):
        during.append(json.loads((folder / "batch.json").read_text(encoding="utf-8")))
        deadline = time.monotonic() + 60
        while not (folder / "hang.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the hanging film has started
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_batch(spec, make=batch_helpers.make_or_hang, on_film=on_film)
    assert time.monotonic() - started < 60  # the hanging film was stopped, not waited for
    (running,) = during
    assert running["state"] == "running" and [f["status"] for f in running["films"]] == ["made", "pending", "pending"]
    after = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    assert after["state"] == "interrupted" and after["made"] == 1 and after["pending"] == 2
    assert_film(after["films"][0]["video"], after["films"][0]["duration"])
    pid = int((folder / "hang.pid").read_text())
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pid)  # no film goes on without its batch


def test_identical_films_are_made_once_and_share_the_outcome(tmp_path):
    # the same film once `auto` resolves (an English theme is lang en) and defaults fill in (seed 7)
    path = write_batch(tmp_path, [{"theme": "A fox in the snow", "lang": "auto"},
                                  {"theme": "A fox in the snow", "lang": "en", "seed": 7}], workers=2)
    result = run_batch(load_batch(path))
    first, second = result.films
    assert first.status == second.status == "made" and (first.same_as, second.same_as) == (None, 0)
    assert first.video == second.video and first.run_id == second.run_id and first.worker == second.worker
    assert [p.parent.name for p in (tmp_path / "out" / "shorts").glob("*/film.mp4")] == [first.run_id]
    assert_film(first.video, first.duration)
    assert [f["same_as"] for f in summary_of(result)["films"]] == [None, 0]


def test_schedule_fires_at_the_cron_times_each_firing_in_its_own_folder(tmp_path):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}], schedule="*/5 * * * *")
    clock = [datetime(2026, 11, 21, 10, 2, 30)]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    fired = []
    results = run_schedule(path, max_firings=2, now=lambda: clock[0], sleep=sleep, flags={"seed": 11},
                           on_firing=lambda when, result: fired.append(when))
    assert fired == [datetime(2026, 11, 21, 10, 5), datetime(2026, 11, 21, 10, 10)]
    assert sum(slept[:3]) == pytest.approx(150) and all(s <= 60 for s in slept)  # wakes at least every minute
    folders = [r.summary.parent.name for r in results]
    assert folders == ["20261121-1005", "20261121-1010"]
    for r in results:
        (film,) = r.films
        assert film.status == "made" and Path(film.video).is_relative_to(r.summary.parent)
        assert json.loads(Path(film.video).with_name("run.json").read_text())["options"]["seed"] == 11
        assert_film(film.video, film.duration)
    assert next_firing("0 9 * * *", datetime(2026, 11, 21, 9, 0)) == datetime(2026, 11, 22, 9, 0)


# --- the command line -----------------------------------------------------------------------------
def batch_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moviefactory", "batch", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=ENV)


def test_cli_batch_run_takes_a_theme_list_and_every_make_flag(tmp_path):
    (tmp_path / "themes.txt").write_text("# not a film\n\nA paper boat on a rainy street\nA fox in the snow\n",
                                         encoding="utf-8")
    proc = batch_cli("run", "themes.txt", *QUICK_FLAGS, "--output", "OUT", "-j", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    made = [line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("made")]
    summary = json.loads((tmp_path / "OUT" / "themes" / "batch.json").read_text())
    assert "2/2 films made" in proc.stdout and all(Path(m).is_relative_to(tmp_path / "OUT" / "themes") for m in made)
    assert summary["workers"] == 2 and len({f["worker"] for f in summary["films"]}) == 2  # -j 2: side by side
    for path, film in zip(made, summary["films"]):
        assert_film(path, film["duration"])  # at the vertical draft size, 6 s: the flags reached the film

    proc = batch_cli("run", "themes.txt", *QUICK_FLAGS, "--seconds", "2", "--output", "OUT2", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: --seconds: must be between 5 and 3600 (got '2')"]
    assert not (tmp_path / "OUT2").exists()


def test_cli_batch_run_reports_each_film_and_exits_with_the_worst(tmp_path):
    path = write_batch(tmp_path, [{"theme": "x", "renderer": "ltx-video", "model_path": str(tmp_path)}])
    proc = batch_cli("run", str(path), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr  # the worst film's own exit code: a missing part
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "failed x: ltx-video weights are not available" in proc.stdout and "0/1 films made" in proc.stdout
    named = tmp_path / "named.yaml"
    named.write_text("name: shorts\nfilms:\n  - theme: A cat\n    renderer: nope\n", encoding="utf-8")
    proc = batch_cli("run", str(named), cwd=tmp_path)  # a name that cannot be: the file is refused, where it says so
    assert proc.returncode == 2 and "named.yaml line 4: renderer: unknown renderer 'nope'" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: shorts\nfilms: [{theme: A cat, colour: red}]\n", encoding="utf-8")
    proc = batch_cli("run", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "bad.yaml line 2: unknown setting 'colour'" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- every executor, and Ray (last: one Ray for the tests that need it, stopped at the module's end) --------
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    # Ray workers do not get this process's sys.path (tests/ is not on theirs): send the helpers by value
    ray.cloudpickle.register_pickle_by_value(batch_helpers)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("name", executor_names())
def test_every_executor_makes_each_film_once_and_a_dead_one_is_its_failure(name, request):
    if name == "ray":
        request.getfixturevalue("ray_session")
    jobs = [{"theme": "a", "options": {}}, {"theme": "die", "options": {}}, {"theme": "b", "options": {}},
            {"theme": "c", "options": {}}]
    executor = create_executor(name, workers=2)
    seen = list(executor.run(jobs, make=batch_helpers.echo_or_die))
    assert sorted(i for i, _ in seen) == [0, 1, 2, 3]  # every film, exactly once
    outcomes = dict(seen)
    assert [outcomes[i].get("run_id") for i in (0, 2, 3)] == ["a", "b", "c"]
    assert all(outcomes[i]["status"] == "made" for i in (0, 2, 3))
    assert outcomes[1]["status"] == "failed" and "died" in outcomes[1]["error"].lower(), outcomes[1]
    assert executor.name == name


def test_ray_runs_one_task_per_film_and_a_crashed_worker_is_that_films_failure(tmp_path, ray_session):
    path = write_batch(tmp_path, [{"theme": "A paper boat on a rainy street"}, {"theme": "die, said the kernel"},
                                  {"theme": "A fox in the snow"}], executor="ray", workers=2)
    result = run_batch(load_batch(path), make=batch_helpers.make_or_die)
    assert result.executor == "ray" and [f.status for f in result.films] == ["made", "failed", "made"], result.films
    assert "WorkerCrashedError" in result.films[1].error
    for film in (result.films[0], result.films[2]):
        assert not film.worker.endswith(f":{os.getpid()}")  # made by Ray workers
        assert_film(film.video, film.duration)
