"""Every file in examples/ does what examples/README.md says: each is run the way a user runs it (a
script, `moviefactory batch run`, `render`, `make --config`), and every film it makes is decoded.

A new example without an entry in RUNS fails here. The films are drafts of a few seconds: a batch
gets the quick settings as flags (a film's own keys still win) and only its first films are made,
from a trimmed copy; the whole file is still loaded and checked. Nothing may be written into the
checkout: every film goes to a tmp dir.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pysubs2
import pytest
import yaml

from fake_openai import FakeOpenAI, Reply
from moviefactory.batch import load_batch
from moviefactory.config import load_format
from moviefactory.job import file_layer
from moviefactory.options import FIELDS, build_options
from moviefactory.screenplay import load_screenplay
from scripted_llm import STAGES, Story

from media import frame_at, shot_files, video_frames

pytestmark = [pytest.mark.xdist_group("examples")]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
QUICK = {"draft": True, "scenes": 2, "seconds": 6, "music": "none", "sfx": "none"}
QUICK_FLAGS = ["--draft", "--scenes", "2", "--seconds", "6", "--music", "none", "--sfx", "none"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.iterdir() if p.is_file() and p.name != "README.md")


# --- how each example is run ----------------------------------------------------------------------
def run_make_short(path: Path, tmp_path: Path) -> None:
    # from the repository root, as the README says, into a folder given with --output
    proc = run([sys.executable, "examples/make_short.py", "A day in the life of a street cat", "--scenes", "2",
                "--seconds", "6", "--output", str(tmp_path / "out")])
    film = printed(proc, "film", ROOT)
    assert film.is_relative_to(tmp_path / "out")
    assert_film(film, printed_seconds(proc), (270, 480))
    assert abs(printed_seconds(proc) - 6) <= 2

    # from elsewhere, by its full path, into that folder's ./runs; --review rewrites the opening line
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run([sys.executable, str(path), "--scenes", "2", "--seconds", "6", "--review"], cwd=elsewhere)
    film = printed(proc, "film", elsewhere)
    assert film.is_relative_to(elsewhere / "runs")
    assert_film(film, printed_seconds(proc), (270, 480))
    assert runpy.run_path(str(path))["OPENING"] in said(film.with_suffix(".srt"))


def run_batch_file(first: int, flags: tuple[str, ...] = ()) -> Callable[[Path, Path], None]:
    """`moviefactory batch run` on a copy of the file with its first `first` films, the quick flags added."""

    def run_it(path: Path, tmp_path: Path) -> None:
        whole = load_batch(path)  # the file as written is valid, every film of it
        copy = trimmed(path, first, tmp_path / "copy")
        out = tmp_path / "out"
        run([sys.executable, "-m", "moviefactory", "batch", "run", str(copy), "--output", str(out), *flags,
             *QUICK_FLAGS])
        summary = json.loads((out / whole.name / "batch.json").read_text(encoding="utf-8"))
        assert summary["state"] == "done" and summary["made"] == first
        assert [f["theme"] for f in summary["films"]] == [f.theme for f in whole.films[:first]]
        given = {**QUICK, **{flag.removeprefix("--"): value for flag, value in zip(flags[::2], flags[1::2])}}
        expected = load_batch(copy, flags=given).films  # what each film was made with
        for film, spec in zip(summary["films"], expected):
            fmt = load_format(spec.options.get("format", FIELDS["format"].default), draft=True)
            assert_film(Path(film["video"]), film["duration"], (fmt.width, fmt.height))
            if spec.options.get("lang") == "zh":
                assert CJK.search(said(Path(film["video"]).with_suffix(".srt"))), film["theme"]

    return run_it


def run_screenplay(path: Path, tmp_path: Path) -> None:
    screenplay = load_screenplay(path)
    run([sys.executable, "-m", "moviefactory", "render", "examples/screenplay.yaml", "--draft", "--output",
         str(tmp_path)])
    run_dir = only_run(tmp_path)
    edited = [line.split("text:", 1)[1].split(" #", 1)[0].strip()
              for line in path.read_text(encoding="utf-8").splitlines() if "text:" in line and "# edited" in line]
    assert edited, "the example shows an edited line"
    spoken = said(run_dir / "film.srt")
    for text in edited:
        assert text in spoken
    # exactly the file's shots, with its camera moves (a removed shot is not filmed)
    assert [f.name.split(".")[0] for f in shot_files(run_dir)] == sorted(s.id for _, s in screenplay.shots())
    filmed = json.loads((run_dir / "screenplay.json").read_text(encoding="utf-8"))
    assert [(s["id"], s["camera"]) for scene in filmed["scenes"] for s in scene["shots"]] == \
        [(s.id, s.camera) for _, s in screenplay.shots()]
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    fmt = load_format("widescreen", draft=True)
    assert_film(run_dir / "film.mp4", report["duration"], (fmt.width, fmt.height))


def run_local_llm(path: Path, tmp_path: Path) -> None:
    settings = build_options([file_layer(path)])
    assert settings.llm_base_url and settings.llm  # the example names a server and a model: the test swaps the server
    story = Story()
    with FakeOpenAI(default=Reply(respond=story)) as server:
        run([sys.executable, "-m", "moviefactory", "make", "A lighthouse keeper and a storm", "--config",
             "examples/local-llm.yaml", "--llm-base-url", server.base_url, "--draft", "--music", "none", "--sfx",
             "none", "--output", str(tmp_path)])
    assert list(dict.fromkeys(story.seen)) == STAGES
    assert {r.body["model"] for r in server.requests} == {settings.llm}  # the config's model was asked
    assert {r.body["temperature"] for r in server.requests} == {settings.llm_temperature}
    run_dir = only_run(tmp_path)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["writer"] == "llm" and report["llm"]["model"] == settings.llm
    assert "For forty years, Elias had never let the light go dark." in said(run_dir / "film.srt")
    fmt = load_format(settings.format, draft=True)
    assert_film(run_dir / "film.mp4", report["duration"], (fmt.width, fmt.height))


RUNS: dict[str, Callable[[Path, Path], None]] = {
    "make_short.py": run_make_short,
    "batch.yaml": run_batch_file(first=2),  # the Chinese film and one in English
    "themes.txt": run_batch_file(first=1, flags=("--format", "vertical")),
    "themes.csv": run_batch_file(first=1, flags=("--format", "vertical")),  # its format from --format
    "screenplay.yaml": run_screenplay,
    "local-llm.yaml": run_local_llm,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", example_files())
def test_the_example_runs(name, tmp_path):
    assert name in RUNS, f"examples/{name} has no test: say how it runs in RUNS"
    RUNS[name](EXAMPLES / name, tmp_path)


def test_the_readme_has_a_line_and_a_command_for_every_example():
    lines = (EXAMPLES / "README.md").read_text(encoding="utf-8").splitlines()
    for name in example_files():
        entry = [line for line in lines if line.startswith(f"- `{name}`")]
        assert len(entry) == 1, f"examples/README.md: no line for {name}"
        assert f"examples/{name}" in entry[0], f"examples/README.md: the line for {name} has no command running it"
    assert set(RUNS) == set(example_files())  # and no test runs an example that is gone


# --- helpers --------------------------------------------------------------------------------------
def run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The command as a user types it, with this checkout's package (whatever is installed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, \
        f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def printed(proc: subprocess.CompletedProcess, label: str, cwd: Path) -> Path:
    """The path make_short.py printed as `label: PATH`."""
    found = [line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith(f"{label}: ")]
    assert len(found) == 1, proc.stdout
    return (cwd / found[0]).resolve()


def printed_seconds(proc: subprocess.CompletedProcess) -> float:
    """The length from make_short.py's first line, 'Title: 5.60 s'."""
    return float(re.search(r": ([\d.]+) s$", proc.stdout.splitlines()[0]).group(1))


def assert_film(video: Path, seconds: float, size: tuple[int, int]) -> None:
    """It decodes, at `size`, and lasts `seconds` (to the frame)."""
    frames, fps = video_frames(video)
    assert frames > 0 and abs(frames / fps - seconds) <= 1 / fps + 1e-6, (video, frames, fps, seconds)
    height, width, _ = frame_at(video, 0).shape
    assert (width, height) == size


def said(srt: Path) -> str:
    return " ".join(c.plaintext.replace("\n", " ") for c in pysubs2.load(str(srt)))


def only_run(output: Path) -> Path:
    runs = [p for p in output.iterdir() if (p / "film.mp4").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def trimmed(path: Path, first: int, folder: Path) -> Path:
    """A copy of a batch file (same name: a list's batch is named after its file) with its first films only."""
    folder.mkdir(parents=True, exist_ok=True)
    text, copy = path.read_text(encoding="utf-8"), folder / path.name
    if path.suffix == ".yaml":
        data = yaml.safe_load(text)
        data["films"] = data["films"][:first]
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    elif path.suffix == ".csv":
        rows = [row for row in csv.reader(io.StringIO(text)) if any(row)]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows[:first + 1])  # the header and the first rows
        text = buffer.getvalue()
    else:
        lines = text.splitlines()
        themes = [n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
        text = "\n".join(line for n, line in enumerate(lines) if n not in themes[first:]) + "\n"
    copy.write_text(text, encoding="utf-8")
    return copy


# --- nothing lands in the checkout ----------------------------------------------------------------
SCRATCH = (".cache/", ".pytest_cache/")  # the test session's library cache, pytest's own


def checkout_files() -> set[str]:
    """`git status` of the checkout, ignored files included (./runs is ignored), bytecode and caches left out."""
    status = ["git", "--no-optional-locks", "status", "--porcelain", "--ignored", "--untracked-files=all"]
    out = subprocess.run(status, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines()
            if not line[3:].startswith(SCRATCH) and "__pycache__/" not in line and not line.endswith(".pyc")}


@pytest.fixture(autouse=True)
def checkout_untouched():
    before = checkout_files()
    yield
    written = checkout_files() ^ before
    assert not written, f"written in the checkout: {sorted(written)}"
