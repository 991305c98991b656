"""Bad input gets one clear line and a non-zero exit, never a traceback, and writes nothing."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moviefactory", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["make", ""], "theme is empty"),
    (["make", "   "], "theme is empty"),
    (["make", "A cat", "--format", "imax"], "unknown format 'imax'"),
    (["make", "A cat", "--lang", "xx"], "unknown language 'xx'"),
    (["make", "Un chat", "--lang", "fr"], "offline writer writes English and Chinese only; for French give it a model"),
    (["make", "A cat", "--renderer", "nope"], "unknown renderer 'nope'"),
    (["make", "A cat", "--tts", "nope"], "unknown TTS engine 'nope'"),
    (["make", "A cat", "--scenes", "0"], "--scenes: must be between 1 and 40"),
    (["make", "A cat", "--config", "does-not-exist.yaml"], "does not exist"),
    (["resume", "no-such-run"], "no run 'no-such-run'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and message in lines[-1] and lines[-1].startswith("error:")
    assert not (tmp_path / "runs").exists(), "bad input must not create a run directory"


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run("make", "A cat", "--draft", "--output", str(blocker / "runs"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot write to output directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_and_formats_are_fast_and_clean():
    proc = run("--help")
    assert proc.returncode == 0 and "make" in proc.stdout and "resume" in proc.stdout
    proc = run("formats")
    assert "vertical" in proc.stdout and "1080x1920" in proc.stdout


def test_doctor_finds_the_pip_installed_tools():
    proc = run("doctor")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("ok") == 3


@pytest.mark.slow
def test_make_reads_a_config_file_and_flags_win(tmp_path):
    import av

    config = tmp_path / "short.yaml"
    config.write_text("format: vertical\ndraft: true\nscenes: 2\nseconds: 10\n")
    proc = run("make", "A paper boat on a rainy street", "--config", str(config), "--seed", "3",
               "--output", str(tmp_path / "runs"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "offline screenwriter" in proc.stderr  # no LLM configured: said in one line
    film = next((tmp_path / "runs").glob("*/film.mp4"))
    assert str(film) in proc.stdout
    with av.open(str(film)) as c:
        v = c.streams.video[0].codec_context
        assert (v.width, v.height) == (270, 480)
    plan = (film.parent / "screenplay.json").read_text()
    assert plan.count('"heading"') == 2


def test_sfx_and_music_search_say_what_answered(tmp_path):
    proc = run("sfx", "search", "thunder rumbling far away", "-k", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "answered by: text" in proc.stdout
    first = [ln for ln in proc.stdout.splitlines() if ln.strip()[:1].isdigit()][0]
    assert "thunder" in first.lower()
    proc = run("music", "search", "tense orchestral, slow build", "-k", "5", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.count(".ogg") >= 1


def test_music_index_reports_bad_files_by_name(tmp_path):
    import wave

    import numpy as np

    lib = tmp_path / "my music"
    lib.mkdir()
    with wave.open(str(lib / "sea shanty.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
        w.writeframes((np.sin(np.arange(22050) / 10) * 8000).astype("<i2").tobytes())
    (lib / "broken.wav").write_bytes(b"RIFF0000garbage" * 10)
    (lib / "empty.mp3").write_bytes(b"")
    proc = run("music", "index", str(lib), "--dest", str(tmp_path / "index"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "broken.wav" in proc.stdout and "empty.mp3" in proc.stdout
    proc = run("music", "search", "sea shanty", "--index", str(tmp_path / "index"), cwd=tmp_path)
    assert "sea shanty" in proc.stdout.lower()


def test_clip_tools_connect_upscale_interpolate(tmp_path, ffmpeg):
    import subprocess as sp

    from media import video_frames

    for name, src in (("a", "testsrc2"), ("b", "mandelbrot")):
        sp.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"{src}=s=192x80:r=24", "-frames:v", "24",
                "-pix_fmt", "yuv420p", str(tmp_path / f"{name}.mp4")], check=True)
    assert run("connect", "a.mp4", "b.mp4", "--seconds", "1.5", "-o", "t.mp4", cwd=tmp_path).returncode == 0
    assert video_frames(tmp_path / "t.mp4") == (36, 24.0)
    assert run("upscale", "a.mp4", "--factor", "4", "-o", "up.mp4", cwd=tmp_path).returncode == 0
    import av

    with av.open(str(tmp_path / "up.mp4")) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (768, 320)
    assert run("interpolate", "a.mp4", "-o", "i.mp4", cwd=tmp_path).returncode == 0
    frames, fps = video_frames(tmp_path / "i.mp4")
    assert fps == 48 and abs(frames - 48) <= 1
    proc = run("extend", "a.mp4", "keep going", "--offline", cwd=tmp_path)  # no weights here: say what to get
    assert proc.returncode == 3 and "download" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--renderer", "ltx-video", "--offline"], "hf download Lightricks/LTX-Video"),
    (["--renderer", "sdxl+svd", "--model-path", "no-weights"], "hf download stabilityai/stable-diffusion-xl-base-1.0"),
    (["--transitions", "ltx-video"], "--transitions: takes a first-and-last-frame model"),
    (["--transitions", "wan2.1-flf2v", "--offline"], "hf download Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"),
    (["--upscale", "3"], "--upscale: takes 2 or 4"),
    (["--interpolator", "nope"], "unknown interpolator 'nope'"),
    (["--upscale-weights", "nowhere.pth"], "--upscale-weights:"),
])
def test_missing_weights_and_bad_post_options_fail_before_a_run_directory(tmp_path, args, message):
    (tmp_path / "no-weights").mkdir()
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "make", "A cat", "--draft", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert proc.returncode in (2, 3), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error:") and message in lines[-1]
    assert not (tmp_path / "runs").exists(), "nothing may be written before the weights are known to be there"
