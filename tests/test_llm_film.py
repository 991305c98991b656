"""A whole film written by a model over HTTP (a scripted one on 127.0.0.1), through the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pysubs2
import pytest

from fake_openai import FakeOpenAI, Reply
from scripted_llm import ELIAS, STAGES, Story

pytestmark = [pytest.mark.slow]
SECRET = "sk-live-DO-NOT-LEAK-4242"


def test_make_with_an_llm_and_the_key_never_reaches_run_files_or_output(tmp_path):
    story = Story()
    with FakeOpenAI(default=Reply(respond=story)) as server:
        env = {**os.environ, "OPENAI_API_KEY": SECRET}
        proc = subprocess.run(
            [sys.executable, "-m", "moviefactory", "make", "A lighthouse keeper and a storm", "--llm", "test-model",
             "--llm-base-url", server.base_url, "--format", "vertical", "--seconds", "20", "--draft",
             "--output", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert list(dict.fromkeys(story.seen)) == STAGES  # every stage, in order (a stage may be re-asked)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # the key was used...
    run_dir = next(tmp_path.iterdir())
    for path in run_dir.rglob("*"):  # ...and written nowhere
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in proc.stdout + proc.stderr
    assert "test-model" in proc.stderr  # the user is told which model writes

    report = json.loads((run_dir / "report.json").read_text())
    assert report["writer"] == "llm" and report["llm"]["model"] == "test-model"
    said = " ".join(c.plaintext.replace("\n", " ") for c in pysubs2.load(str(run_dir / "film.srt")))
    assert "For forty years, Elias had never let the light go dark." in said
    screenplay = json.loads((run_dir / "screenplay.json").read_text())
    prompts = [shot["prompt"] for scene in screenplay["scenes"] for shot in scene["shots"]
               if "Elias" in shot["characters"]]
    assert prompts and all(ELIAS in p for p in prompts)


def test_a_model_server_that_is_down_is_one_clear_line(tmp_path):
    with FakeOpenAI(default=Reply(status=503, error="model is loading")) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "moviefactory", "make", "A cat", "--llm", "m", "--llm-base-url", server.base_url,
             "--draft", "--config", str(_fast_config(tmp_path)), "--output", str(tmp_path / "runs")],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "answered 503" in last and "model is loading" in last


def _fast_config(tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text("llm_max_retries: 0\nllm_timeout: 5\n")
    return config


def test_a_german_film_written_by_a_model_spoken_by_espeak_in_german(tmp_path):
    """--lang de: the model is asked for German, espeak-ng speaks it with a German voice (no Piper voice
    for German is installed), and the captions are the German lines, umlauts and all."""
    from pathlib import Path

    from moviefactory.audio.espeak import EspeakTTS
    from moviefactory.config import load_format
    from moviefactory.screenplay import Voice
    from scripted_llm import de_story

    story = de_story()
    with FakeOpenAI(default=Reply(respond=story)) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "moviefactory", "make", "Ein Roboter lernt im Regen zu tanzen", "--lang", "de",
             "--llm", "test-model", "--llm-base-url", server.base_url, "--seconds", "15", "--draft",
             "--music", "none", "--sfx", "none", "--output", str(tmp_path)],
            env={**os.environ, "OPENAI_API_KEY": "sk-test"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    asked = story.bodies_of("ScreenplayDraft")[0]["messages"]
    assert "German" in asked[0]["content"] + asked[1]["content"]
    run_dir = next(tmp_path.iterdir())
    screenplay = json.loads((run_dir / "screenplay.json").read_text())
    assert screenplay["language"] == "de" and screenplay["narrator"]["id"].startswith("de")
    said = " ".join(c.plaintext.replace("\n", " ") for c in pysubs2.load(str(run_dir / "film.srt")))
    assert "Schön, so schön!" in said and "Er tanzte, bis die Sonne über der Stadt aufging." in said
    # the narration stem is espeak's German reading of the line, sample for sample
    first = screenplay["scenes"][0]["narration"][0]["text"]
    rate = load_format("widescreen", draft=True).speech_rate
    direct = EspeakTTS().speak(first, Voice(**screenplay["narrator"]), "de", tmp_path / "direct.wav", rate=rate)
    assert (run_dir / "audio" / "narration" / "s01-l01.wav").read_bytes() == Path(direct.path).read_bytes()


def test_an_arabic_film_has_arabic_narration_and_captions_drawn_right_to_left(tmp_path):
    """--lang ar: espeak-ng's Arabic voice, captions styled in the Arabic font, and in the film's frames
    the caption is the Arabic line shaped right to left (the likeness test_scripts uses)."""
    import av
    import numpy as np

    from moviefactory.media.subtitles import font_pixels
    from moviefactory.config import load_format
    from scripted_llm import ar_story
    from test_scripts import _ink, _likeness, _reference

    story = ar_story()
    with FakeOpenAI(default=Reply(respond=story)) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "moviefactory", "make", "روبوت يتعلم الرقص تحت المطر",
             "--llm", "test-model", "--llm-base-url", server.base_url, "--seconds", "15",
             "--format", "widescreen", "--music", "none", "--sfx", "none", "--output", str(tmp_path)],
            env={**os.environ, "OPENAI_API_KEY": "sk-test"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Arabic" in story.bodies_of("ScreenplayDraft")[0]["messages"][0]["content"]
    run_dir = next(tmp_path.iterdir())
    screenplay = json.loads((run_dir / "screenplay.json").read_text())
    assert screenplay["language"] == "ar" and screenplay["narrator"]["id"].startswith("ar")
    ass = pysubs2.load(str(run_dir / "film.ass"))
    assert ass.styles["Default"].fontname == "Noto Sans Arabic"
    cue = next(c for c in pysubs2.load(str(run_dir / "film.srt")) if "\n" not in c.plaintext)
    # the frame in the middle of that cue: its caption against Pillow/raqm's drawing of the line
    with av.open(str(run_dir / "film.mp4")) as film:
        stream = film.streams.video[0]
        middle = (cue.start + cue.end) / 2000
        frame = next(f for f in film.decode(stream) if f.time >= middle)
        img = frame.to_ndarray(format="rgb24")
    white = np.where((img.min(axis=2) > 200), 255, 0).astype(np.uint8)  # the text, not the picture
    caption = white[int(img.shape[0] * 0.6):]
    size = font_pixels(load_format("widescreen"))
    assert _likeness(_ink(caption), _ink(_reference(cue.plaintext, "ar", size, shaped=True))) > 0.6
