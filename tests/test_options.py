"""One options model: every setting from a flag, a config file, a batch file or Python is the same field,
checked the same way, recorded in run.json, part of the run id when it changes the film, and what
resume runs with. Secrets never reach a run file or the terminal."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import moviefactory as mf
from moviefactory.errors import InputError, MovieFactoryError, RenderError
from moviefactory.options import FIELDS, FilmOptions, options_yaml
from moviefactory.renderers import create_renderer
from moviefactory.secrets import redact, redact_url

from fake_openai import FakeOpenAI, Reply
from media import video_frames
from scripted_llm import Story

QUICK = dict(format="vertical", draft=True, scenes=2, seconds=6, music="none", sfx="none")


def cli(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moviefactory", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, **(env or {})})


def last_line(proc) -> str:
    return [ln for ln in proc.stderr.splitlines() if ln.strip()][-1]


# --- one model, derived everywhere -------------------------------------------------------------------
def test_every_field_says_what_it_does_and_every_flagged_field_is_a_make_flag():
    assert all(info.help for info in FIELDS.values())
    proc = cli("make", "--help")
    flags = {info.flag.split("/")[0] for info in FIELDS.values() if info.flag and info.name != "adapters"}
    assert flags <= set(proc.stdout.replace("/", " ").split()), flags - set(proc.stdout.split())
    # and a config file of every default is itself a valid config file
    assert FilmOptions.model_validate(yaml.safe_load(options_yaml())) == FilmOptions()


@pytest.mark.parametrize("text, expect", [
    ("seconds: abc\n", "my.yaml line 1: seconds: Input should be a valid number"),
    ("format: vertical\n\ncolour: red\n", "my.yaml line 3: unknown setting 'colour'"),
    ("format: vertical\nsedd: 3\n", "my.yaml line 2: unknown setting 'sedd'; did you mean 'seed'?"),
    ("scenes: 99\n", "my.yaml line 1: scenes: must be between 1 and 40 (got 99)"),
    ("draft: maybe\n", "my.yaml line 1: draft: Input should be a valid boolean"),
    ("- just a list\n", "expected a mapping of settings"),
    ("seconds: [1\n", "is not valid YAML: expected ',' or ']'"),
])
def test_a_wrong_key_or_type_in_a_config_file_is_one_line_naming_it(tmp_path, text, expect):
    (tmp_path / "my.yaml").write_text(text, encoding="utf-8")
    proc = cli("make", "A cat", "--config", "my.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and last_line(proc).startswith("error:") and expect in last_line(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.yaml"]  # nothing written


WRONG = [[1, 2], {"a": 1}, "abc", -5, 10 ** 12, True, "", "http://user:pw@h/v1", 0.5]


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_no_value_in_a_config_file_reaches_an_internal_error(name, tmp_path):
    """Exit 70 is a bug: whatever a person puts under any key, the answer is a run id or one clear error."""
    for value in WRONG:
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({name: value}), encoding="utf-8")
        try:
            mf.run_id("A cat", config=path, output=str(tmp_path / "runs"))
        except MovieFactoryError as exc:
            assert exc.exit_code in (2, 3), (name, value, exc)
            assert "\n" not in exc.one_line() and (name in exc.one_line() or exc.exit_code == 3 or name in (
                "renderer", "tts", "format", "upscaler", "interpolator", "transitions", "music", "sfx")), exc
    assert not (tmp_path / "runs").exists()


def test_flags_files_and_python_are_one_precedence(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.yaml").write_text("seconds: 30\nseed: 1\nformat: vertical\n")
    (tmp_path / "my.yaml").write_text("seed: 2\nscenes: 3\n")
    env = {"MOVIEFACTORY_CONFIG_DIR": str(tmp_path / "mine")}
    proc = cli("plan", "A cat", "-o", "plan.yaml", "--config", "my.yaml", "--scenes", "2", "--output", "runs",
               cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())["options"]
    # the user's config.yaml < --config < flags; untouched keys keep the model's defaults
    assert (recorded["seconds"], recorded["seed"], recorded["scenes"], recorded["format"]) == (30, 2, 2, "vertical")
    assert recorded["renderer"] == "animatic" and recorded["lang"] == "en"  # `auto` resolved before it is recorded
    assert set(recorded) == set(FIELDS)


# --- the run id is the film ----------------------------------------------------------------------------
def test_what_changes_the_film_changes_the_run_id_and_what_does_not_does_not(tmp_path):
    base = mf.run_id("A cat", **QUICK)
    assert mf.run_id("A cat", **QUICK, lang="auto") == mf.run_id("A cat", **QUICK, lang="en") == base
    for change in ({"seed": 8}, {"llm_temperature": 0.2}, {"upscale": 2}, {"voice": "en-us+f3"}):
        assert mf.run_id("A cat", **{**QUICK, **change}) != base, change
    for how in ({"workers": 1}, {"output": str(tmp_path)}, {"llm_timeout": 5}, {"offline": True}):
        assert mf.run_id("A cat", **{**QUICK, **how}) == base, how
    # a component given as an object is part of the film: its name and cache token
    renderer = create_renderer("animatic")
    assert mf.run_id("A cat", **QUICK, renderer=renderer) != base
    assert mf.run_id("A cat", **QUICK, renderer="animatic") == base  # a name is an option


class CountingRenderer:
    """The real animatic under another token: what a caller's own renderer object looks like."""

    name = "animatic"

    def __init__(self, fail_after: int | None = None) -> None:
        self.inner, self.calls, self.fail_after = create_renderer("animatic"), 0, fail_after
        self.suffix = self.inner.suffix

    def cache_token(self) -> str:
        return "counting-1"

    def render(self, shot, ctx, out):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RenderError("simulated crash", stage="render")
        return self.inner.render(shot, ctx, out)


def test_a_renderer_object_after_a_run_by_name_makes_its_own_film(tmp_path):
    by_name = mf.make_film("A paper boat", output=tmp_path, **QUICK)
    mine = CountingRenderer()
    by_object = mf.make_film("A paper boat", output=tmp_path, renderer=mine, **QUICK)
    assert by_object.run_id != by_name.run_id and mine.calls >= 2  # not the old film handed back
    assert json.loads((by_object.run_dir / "run.json").read_text())["components"] == {
        "renderer": "animatic:counting-1"}


def _logging_ffmpeg(tmp_path: Path) -> tuple[Path, Path]:
    """An ffmpeg of the user's own (a wrapper that logs every call), to see which binary a run uses."""
    from moviefactory.media.ffmpeg import ffmpeg_binary

    log, wrapper = tmp_path / "calls.log", tmp_path / "my-ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho x >> "{log}"\nexec "{ffmpeg_binary()}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper, log


def test_resume_runs_with_the_runs_own_settings_and_asks_for_its_objects(tmp_path):
    wrapper, log = _logging_ffmpeg(tmp_path)
    options = dict(QUICK, ffmpeg=str(wrapper), workers=1, output=tmp_path / "runs")
    with pytest.raises(RenderError):
        mf.make_film("A paper boat", renderer=CountingRenderer(fail_after=1), **options)
    run_dir = next((tmp_path / "runs").iterdir())
    recorded = json.loads((run_dir / "run.json").read_text())["options"]
    assert recorded["ffmpeg"] == str(wrapper) and recorded["workers"] == 1
    with pytest.raises(InputError, match="made with a renderer object"):
        mf.resume_film(run_dir.name, output=tmp_path / "runs")
    with pytest.raises(InputError, match="not the one run"):
        mf.resume_film(run_dir.name, output=tmp_path / "runs", renderer=create_renderer("animatic"))
    log.write_text("")
    done = mf.resume_film(run_dir.name, output=tmp_path / "runs", renderer=CountingRenderer())
    assert log.read_text().count("x") >= 3  # the film was encoded with the run's own ffmpeg, not the default
    frames, fps = video_frames(done.video)
    assert frames > 0 and fps == 30


# --- LLM settings and secrets -----------------------------------------------------------------------------
def test_every_llm_setting_reaches_the_server_and_the_record(tmp_path):
    with FakeOpenAI(default=Reply(respond=Story())) as server:
        planned = mf.plan("A lighthouse keeper and a storm", llm="test-model", llm_base_url=server.base_url,
                          llm_max_tokens=3210, llm_temperature=0.25, output=tmp_path, **QUICK)
    bodies = [r.body for r in server.requests]
    assert bodies and all(b["max_tokens"] == 3210 and b["temperature"] == 0.25 for b in bodies)
    recorded = json.loads((planned.run_dir / "run.json").read_text())["options"]
    assert (recorded["llm_max_tokens"], recorded["llm_temperature"], recorded["writer"]) == (3210, 0.25, "llm")


SECRET = "s3cr3t-DO-NOT-LEAK"


def test_credentials_in_a_server_url_never_reach_the_terminal_or_the_run(tmp_path):
    url = f"http://keeper:{SECRET}@127.0.0.1:9/v1?api-key={SECRET}&region=eu"
    proc = cli("make", "A cat", "--llm", "m", "--llm-base-url", url, "--llm-max-retries", "0", "--llm-timeout", "2",
               "--draft", "--output", str(tmp_path / "runs"), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "could not be reached" in last_line(proc) and "127.0.0.1:9/v1" in last_line(proc)
    assert SECRET not in proc.stdout + proc.stderr
    files = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert files and all(SECRET.encode() not in p.read_bytes() for p in files)
    recorded = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())["options"]
    assert recorded["llm_base_url"] == "http://127.0.0.1:9/v1?region=eu"


def test_redaction_keeps_the_address_and_drops_only_credentials():
    assert redact_url("https://u:p@api.example.com:8443/v1?key=K&token=T&x=1") == "https://api.example.com:8443/v1?x=1"
    assert redact_url("http://localhost:11434/v1") == "http://localhost:11434/v1"
    assert redact({"adapters": {"widescreen": {"path": "https://h/a.safetensors?X-Amz-Signature=S", "api_key": "K"},
                                "max_tokens": 5}}) == {"adapters": {"widescreen": {"path": "https://h/a.safetensors"},
                                                                    "max_tokens": 5}}


# --- the user's own folder --------------------------------------------------------------------------------
def test_your_config_dir_adds_a_preset_and_overrides_a_prompt(tmp_path):
    mine = tmp_path / "mine"
    (mine / "formats").mkdir(parents=True)
    from moviefactory.resources import config_path

    square = yaml.safe_load(config_path("formats/vertical.yaml").read_text())
    square.update(name="square", width=1080, height=1080, description="1:1 for feeds")
    (mine / "formats" / "square.yaml").write_text(yaml.safe_dump(square))
    (mine / "prompts" / "llm").mkdir(parents=True)
    (mine / "prompts" / "llm" / "repair.j2").write_text("MY OWN REPAIR PROMPT: {{ problem }}\n")
    proc = cli("--config-dir", str(mine), "formats")
    assert proc.returncode == 0 and "square       1080x1080" in proc.stdout and "vertical" in proc.stdout
    film = cli("--config-dir", str(mine), "make", "A cat", "--format", "square", "--draft", "--scenes", "2",
               "--seconds", "6", "--music", "none", "--sfx", "none", "--output", str(tmp_path / "runs"))
    assert film.returncode == 0, film.stderr
    import av

    with av.open(str(next((tmp_path / "runs").glob("*/film.mp4")))) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (270, 270)
    from moviefactory.planner.prompts import render_prompt
    from moviefactory.resources import use_config_dir

    use_config_dir(mine)
    try:
        assert render_prompt("repair.j2", problem="x") == "MY OWN REPAIR PROMPT: x"
    finally:
        use_config_dir(None)
    assert render_prompt("repair.j2", problem="x") != "MY OWN REPAIR PROMPT: x"
