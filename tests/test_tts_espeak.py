"""The espeak backend, against the real libespeak-ng through ctypes (no mocks)."""
from __future__ import annotations

import re
import threading
import unicodedata
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from moviefactory.audio import Speech, create_tts, tts_names
from moviefactory.audio.espeak import EspeakTTS
from moviefactory.errors import SpeechError
from moviefactory.screenplay import Voice

LINE = "The old monk walked slowly through the misty courtyard, listening to the bells ring."
ZH = "月光下的少林寺，钟声响起。"


@pytest.fixture(scope="module")
def tts() -> EspeakTTS:
    return create_tts("espeak")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64), w.getframerate()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def check_words(speech: Speech) -> None:
    prev_end = 0.0
    for w in speech.words:
        assert w.text.strip() == w.text and w.text
        assert 0.0 <= w.start < w.end <= speech.duration + 1e-9
        assert w.start >= prev_end - 1e-9
        prev_end = w.end


def test_registered(tts):
    assert "espeak" in tts_names()
    assert tts.name == "espeak"  # that it speaks: test_english_line, through this same backend
    assert tts.cache_token().startswith("espeak-ng 1.")
    en, zh = tts.voices("en"), tts.voices("zh")
    assert {"en-us", "en-us+m3", "en+f3"} <= set(en)
    assert {"cmn", "cmn+f2"} <= set(zh)


def test_english_line(tts, tmp_path):
    out = tmp_path / "line.wav"
    s = tts.speak(LINE, Voice(id="en-us+m3"), "en", out)
    assert s.path == out and s.sample_rate == 22050
    pcm, sr = read_wav(out)
    assert sr == s.sample_rate
    assert abs(len(pcm) / sr - s.duration) < 1e-3
    assert 3.0 < s.duration < 8.0
    assert rms(pcm) > 500

    with av.open(str(out)) as container:  # decodable by ffmpeg too
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(decoded / sr - s.duration) < 1e-3

    words = [w.strip(",.") for w in LINE.split()]
    assert [w.text for w in s.words] == words
    check_words(s)
    # speech lives inside the word spans; what trails after the last word is (short) silence
    inside = np.concatenate([pcm[int(w.start * sr) : int(w.end * sr)] for w in s.words])
    tail = pcm[int(s.words[-1].end * sr) :]
    assert s.duration - s.words[-1].end <= 0.15 + 1e-3
    assert rms(inside) > 500
    assert rms(tail) < rms(inside) / 10


def test_trailing_silence_trimmed(tts, tmp_path):
    s = tts.speak("Wait for it . . . . . .", Voice(id="en-us"), "en", tmp_path / "x.wav")
    pcm, sr = read_wav(s.path)
    loud = np.flatnonzero(np.abs(pcm) >= 200)
    assert len(pcm) / sr - (loud[-1] + 1) / sr <= 0.15 + 1e-3
    assert [w.text for w in s.words] == ["Wait", "for", "it"]


def test_voices_differ(tts, tmp_path):
    a = tts.speak(LINE, Voice(id="en-us+m3"), "en", tmp_path / "a.wav")
    b = tts.speak(LINE, Voice(id="en+f3"), "en", tmp_path / "b.wav")
    assert a.path.read_bytes() != b.path.read_bytes()
    c = tts.speak(LINE, Voice(id="en-us+m3", pitch=80), "en", tmp_path / "c.wav")
    assert c.path.read_bytes() != a.path.read_bytes()


def test_rate(tts, tmp_path):
    fast = tts.speak(LINE, Voice(id="en-us"), "en", tmp_path / "fast.wav", rate=1.5)
    slow = tts.speak(LINE, Voice(id="en-us"), "en", tmp_path / "slow.wav", rate=0.8)
    assert fast.duration < slow.duration * 0.75
    voice_fast = tts.speak(LINE, Voice(id="en-us", rate=1.5), "en", tmp_path / "vf.wav")
    assert abs(voice_fast.duration - fast.duration) < 0.05


def test_chinese(tts, tmp_path):
    s = tts.speak(ZH, Voice(id="cmn"), "zh", tmp_path / "zh.wav")
    pcm, sr = read_wav(s.path)
    assert abs(len(pcm) / sr - s.duration) < 1e-3 and rms(pcm) > 500
    spoken = "".join(c for c in ZH if not unicodedata.category(c).startswith("P"))
    assert "".join(w.text for w in s.words) == spoken
    assert [w.text for w in s.words] == list(spoken)  # one timing per character
    check_words(s)
    assert s.words[0].start == 0.0 and s.words[-1].end > s.duration - 0.2


def test_chinese_mixed_and_variant(tts, tmp_path):
    text = "他说：“我们2024年去北京，好吗？”Hello 世界。"
    s = tts.speak(text, Voice(id="cmn+f2"), "zh", tmp_path / "zh2.wav")
    check_words(s)
    assert [w.text for w in s.words] == [*"他说我们", "2024", *"年去北京好吗", "Hello", *"世界"]
    default = tts.speak("世界", Voice(id="+f2"), "zh", tmp_path / "zh3.wav")  # base from the language
    assert [w.text for w in default.words] == ["世", "界"]


def test_threads(tts, tmp_path):
    lines = [LINE, "A second voice answers from the dark.", ZH, "Bells ring, the river keeps on running."]
    voices = [Voice(id="en-us+m3"), Voice(id="en+f3"), Voice(id="cmn+f2"), Voice(id="en-us+m1", rate=1.2)]
    langs = ["en", "en", "zh", "en"]
    expected = [tts.speak(t, v, lang, tmp_path / f"seq{i}.wav") for i, (t, v, lang) in enumerate(zip(lines, voices, langs))]
    results: dict[int, Speech] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = tts.speak(lines[i], voices[i], langs[i], tmp_path / f"par{i}.wav")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        pcm, sr = read_wav(results[i].path)
        assert abs(len(pcm) / sr - results[i].duration) < 1e-3 and rms(pcm) > 500
        # every line is spoken from a fresh engine: the same samples whatever was said before, in any order
        assert read_wav(results[i].path)[0].tobytes() == read_wav(expected[i].path)[0].tobytes()
        assert results[i].words == expected[i].words


@pytest.mark.parametrize("voice_id", ["xx-nope", "en-us+nosuchvariant", "klingon+m3"])
def test_bad_voice(tts, tmp_path, voice_id):
    with pytest.raises(SpeechError, match=re.escape(voice_id)):
        tts.speak("Hello there.", Voice(id=voice_id), "en", tmp_path / "bad.wav")
    assert not (tmp_path / "bad.wav").exists()


@pytest.mark.parametrize("text", ["", "   \n\t ", "… —"])
def test_empty_text(tts, tmp_path, text):
    with pytest.raises(SpeechError):
        tts.speak(text, Voice(id="en-us"), "en", tmp_path / "empty.wav")


def test_the_engine_lives_in_its_own_process_and_comes_back_when_killed(tts, tmp_path):
    """A fork of a process with threads can hang on a lock another thread held, so the film's process
    never forks: the engine's host does, and it has one thread. A host that died is started again."""
    import os
    import signal

    from moviefactory.audio import espeak

    first = tts.speak(LINE, Voice(id="en-us+m3"), "en", tmp_path / "a.wav")
    host = espeak._ENGINE._proc
    assert host.pid != os.getpid() and host.poll() is None
    os.kill(host.pid, signal.SIGKILL)
    host.wait()
    again = tts.speak(LINE, Voice(id="en-us+m3"), "en", tmp_path / "b.wav")
    assert espeak._ENGINE._proc.pid != host.pid
    assert read_wav(again.path)[0].tobytes() == read_wav(first.path)[0].tobytes() and again.words == first.words
