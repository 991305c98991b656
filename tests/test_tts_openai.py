"""`--tts openai` against a real HTTP server on 127.0.0.1 speaking /v1/audio/speech (tests/fake_speech.py),
whose speech is Piper's: the timings fitted to it are checked against Piper's own alignments."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from moviefactory.audio.openai_tts import OpenAITTS
from moviefactory.audio.piper_tts import PiperTTS
from moviefactory.errors import SpeechError
from moviefactory.screenplay import Voice

from fake_speech import FakeSpeech, Fault

KEY = "sk-speech-test-4a7f19c2d8"
LINE = "When the storm came, the keeper climbed the stairs. He lit the lamp, and waited for the dawn."


@pytest.fixture(scope="module")
def piper():
    return PiperTTS()


@pytest.fixture(scope="module")
def said(piper, tmp_path_factory):
    """What the server says for each input, and Piper's word timings for it."""
    folder, cache = tmp_path_factory.mktemp("server"), {}

    def speak(body):
        text = body["input"]
        if text not in cache:
            s = piper.speak(text, Voice(id="en_US-joe-medium"), "en", folder / f"{len(cache)}.wav",
                            rate=float(body.get("speed", 1.0)))
            cache[text] = (s.path.read_bytes(), s.words)
        return cache[text][0]

    return speak, cache


@pytest.fixture()
def env_key(monkeypatch):
    monkeypatch.setenv("MF_SPEECH_KEY", KEY)


def _tts(server, **kw):
    return OpenAITTS(base_url=server.base_url, model="kokoro", voice="af_bella", api_key_env="MF_SPEECH_KEY", **kw)


def test_timings_are_fitted_to_the_server_s_speech_within_150_ms(said, env_key, tmp_path):
    speak, cache = said
    with FakeSpeech(speak, key=KEY) as server:
        tts = _tts(server)
        line = tts.speak(LINE, Voice(engine="openai", id="af_bella"), "en", tmp_path / "line.wav")
    (request,) = server.requests
    assert request["body"]["voice"] == "af_bella" and request["body"]["model"] == "kokoro"
    assert request["authorization"] == f"Bearer {KEY}"
    truth = cache[LINE][1]
    assert [w.text for w in line.words] == [w.text for w in truth]
    errors = [abs(a.start - b.start) for a, b in zip(line.words, truth)]
    assert max(errors) <= 0.15, [round(e, 3) for e in errors]
    with wave.open(str(line.path)) as w:  # the server's speech, as it sent it
        assert w.getframerate() == 22050 and abs(w.getnframes() / 22050 - line.duration) < 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.wav"]  # the reference reading is gone


@pytest.mark.parametrize("status", [500, 429])
def test_server_errors_are_retried_a_bounded_number_of_times_then_one_line(said, env_key, tmp_path, status):
    with FakeSpeech(said[0], key=KEY, script=[Fault(status)] * 10) as server:
        with pytest.raises(SpeechError) as exc:
            _tts(server, max_retries=2).speak("Hello there.", Voice(id="en-us"), "en", tmp_path / "x.wav")
    assert len(server.requests) == 3 and f"answered {status}" in str(exc.value)
    assert "\n" not in str(exc.value) and KEY not in str(exc.value)


def test_a_429_then_speech_is_retried_and_spoken(said, env_key, tmp_path):
    with FakeSpeech(said[0], key=KEY, script=[Fault(429)]) as server:
        line = _tts(server, max_retries=2).speak("Hello there.", Voice(id="en-us"), "en", tmp_path / "x.wav")
    assert len(server.requests) == 2 and line.duration > 0.3


def test_a_wrong_key_is_not_retried_and_says_so(said, monkeypatch, tmp_path):
    monkeypatch.setenv("MF_SPEECH_KEY", "sk-wrong")
    with FakeSpeech(said[0], key=KEY) as server:
        with pytest.raises(SpeechError, match="answered 401 \\(check the key"):
            _tts(server, max_retries=3).speak("Hello.", Voice(id="en-us"), "en", tmp_path / "x.wav")
    assert len(server.requests) == 1


def test_a_server_too_slow_times_out_after_its_retries(said, env_key, tmp_path):
    with FakeSpeech(said[0], key=KEY, script=[Fault(200, delay=2.5)] * 3) as server:
        with pytest.raises(SpeechError, match="did not answer in time"):
            _tts(server, timeout=0.5, max_retries=1).speak("Hello.", Voice(id="en-us"), "en", tmp_path / "x.wav")
    assert len(server.requests) == 2


@pytest.mark.slow
def test_a_film_spoken_by_the_server_and_its_key_is_nowhere(said, tmp_path):
    with FakeSpeech(said[0], key=KEY) as server:
        env = dict(os.environ, MF_SPEECH_KEY=KEY)
        proc = subprocess.run([sys.executable, "-m", "moviefactory", "make", "A lighthouse keeper and a storm",
                               "--draft", "--scenes", "2", "--seconds", "8", "--music", "none", "--sfx", "none",
                               "--tts", "openai", "--tts-base-url", server.base_url, "--tts-model", "kokoro",
                               "--voice", "af_bella", "--tts-api-key-env", "MF_SPEECH_KEY"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    screenplay = json.loads((run / "screenplay.json").read_text())
    lines = [x["text"] for s in screenplay["scenes"] for x in s["narration"]]
    assert [r["body"]["input"] for r in server.requests] == lines  # every line spoken by the server, once
    assert all(r["body"]["voice"] == "af_bella" for r in server.requests if r["body"]["input"] in
               [x["text"] for s in screenplay["scenes"] for x in s["narration"] if x["speaker"] == "Narrator"])
    # the stem is the server's speech
    first = run / "audio" / "narration" / "s01-l01.wav"
    with wave.open(io.BytesIO(said[1][lines[0]][0])) as w:
        sent = w.readframes(w.getnframes())
    with wave.open(str(first)) as w:
        kept = w.readframes(w.getnframes())
    assert kept == sent[:len(kept)] and len(kept) > 0.8 * len(sent)
    for path in [*run.rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in proc.stdout + proc.stderr
    assert json.loads((run / "run.json").read_text())["options"]["tts_base_url"] == server.base_url
