"""The mix, measured on the encoded film: loudness, true peak, music ducked under speech, loops on bars."""
from __future__ import annotations

import wave
from fractions import Fraction

import numpy as np
import pytest

from moviefactory.audio import create_tts
from moviefactory.config import load_format
from moviefactory.media.assemble import assemble
from moviefactory.media.ffmpeg import run_ffmpeg
from moviefactory.screenplay import Voice
from moviefactory.timeline.model import AudioClip, Timeline, VideoClip
from moviefactory.timeline.score import SfxRef, TrackRef, loop_length, music_clips, sfx_clip

from media import decode_audio, loudness

pytestmark = [pytest.mark.slow]
HUM = 60.0  # Hz: the "music" is a low hum the voice has almost no energy at, so the two can be told apart


def _write_wav(path, samples, rate=48000):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    stereo = np.repeat(pcm[:, None], 2, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(stereo.tobytes())


def _band_level(samples, rate, t0, t1, freq):
    seg = samples[int(t0 * rate):int(t1 * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    return spectrum[(freqs > freq - 3) & (freqs < freq + 3)].max() / len(seg)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, ffmpeg):
    run = tmp_path_factory.mktemp("run")
    fmt = load_format("widescreen", draft=True)
    duration = Fraction(16)
    run_ffmpeg(ffmpeg, ["-f", "lavfi", "-i", f"color=c=black:s={fmt.width}x{fmt.height}:r={fmt.fps}",
                        "-frames:v", str(16 * fmt.fps), "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", str(run / "black.mp4")], stage="test")
    t = np.arange(int(48000 * 7.5)) / 48000
    _write_wav(run / "hum.wav", 0.5 * np.sin(2 * np.pi * HUM * t))  # shorter than the film: must loop
    _write_wav(run / "hit.wav", np.random.default_rng(1).normal(0, 0.3, 48000) * np.exp(-np.arange(48000) / 8000))
    tts = create_tts("espeak")
    lines = []
    for i, start in enumerate((2.0, 9.0)):
        said = tts.speak("The storm is coming and nobody is ready for it.", Voice(id="en-us+m3"), "en",
                         run / f"line{i}.wav")
        lines.append(AudioClip(f"line{i}.wav", "narration", f"l{i}", Fraction(start), Fraction(said.duration)
                               .limit_denominator(1000)))
    track = TrackRef("hum.wav", 7.5, tempo_bpm=120, beats_per_bar=4)
    audio = (*lines, *music_clips(track, duration), sfx_clip(SfxRef("hit.wav", 1.0, "c1"), Fraction(14), 1.0, duration))
    timeline = Timeline("mix", "en", fmt.width, fmt.height, Fraction(fmt.fps), duration,
                        (VideoClip("black.mp4", "s01", "s01-sh01", Fraction(0), 16 * fmt.fps),), audio,
                        loudness_lufs=fmt.loudness_lufs, true_peak_db=fmt.true_peak_db)
    assemble(timeline, fmt, run, ffmpeg, None, run / "film.mp4")
    samples, rate = decode_audio(run / "film.mp4")
    return run / "film.mp4", samples, rate, lines, fmt


def test_loudness_and_true_peak_meet_the_target(mixed, ffmpeg):
    film, _, _, _, fmt = mixed
    measured = loudness(ffmpeg, film)
    assert abs(measured["integrated"] - fmt.loudness_lufs) <= 1.0
    assert measured["true_peak"] <= fmt.true_peak_db + 0.3  # the meter's own 4x-oversampled estimate


def test_music_dips_under_speech_and_comes_back_between_lines(mixed):
    _, samples, rate, lines, _ = mixed
    during = [_band_level(samples, rate, float(c.start) + 0.5, float(c.end) - 0.2, HUM) for c in lines]
    between = _band_level(samples, rate, float(lines[0].end) + 1.5, float(lines[1].start) - 0.1, HUM)
    assert all(d < 0.5 * between for d in during), (during, between)


def test_music_fades_in_at_the_start_and_out_at_the_end(mixed):
    _, samples, rate, _, _ = mixed
    start = _band_level(samples, rate, 0.0, 0.25, HUM)
    settled = _band_level(samples, rate, 0.9, 1.9, HUM)
    end = _band_level(samples, rate, 15.75, 16.0, HUM)
    assert start < 0.6 * settled and end < 0.6 * settled
    assert len(samples) / rate == pytest.approx(16.0, abs=1 / 24)


def test_the_sound_effect_lands_at_its_cue(mixed):
    _, samples, rate, _, _ = mixed
    window = int(0.05 * rate)
    bright = np.diff(samples)  # a first difference all but removes the 60 Hz bed; the noise burst stays
    env = np.sqrt(np.convolve(bright ** 2, np.ones(window) / window, mode="same"))
    quiet, hit = env[int(13.3 * rate):int(13.9 * rate)].max(), env[int(14.0 * rate):int(14.2 * rate)].max()
    assert hit > 3 * quiet


def test_loops_repeat_on_whole_bars():
    track = TrackRef("m.ogg", 30.0, tempo_bpm=90, beats_per_bar=4)  # a bar is 8/3 s
    assert loop_length(track) == Fraction(8, 3) * 10  # 10 bars fit in 30 s minus the tail
    clips = music_clips(track, Fraction(70))
    starts = [c.start for c in clips]
    assert starts == [Fraction(80, 3) * k for k in range(3)]  # every repeat begins on a downbeat
    assert clips[-1].end == 70 and all(a.end > b.start for a, b in zip(clips, clips[1:]))  # tails overlap
    assert music_clips(TrackRef("m.ogg", 90.0), Fraction(70))[0].duration == 70  # long enough: trimmed
