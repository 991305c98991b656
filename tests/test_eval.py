"""`moviefactory eval`: measurements of a film from its media, checked against films whose faults
are known because the test made them (a black opening, a caption over silence, a too-loud tone, a
tone at full scale, audio the meter cannot read). Levels are confirmed with ffmpeg's own meter."""
from __future__ import annotations

import json
import subprocess
import sys
import wave
from fractions import Fraction

import av
import pytest

import moviefactory as mf
from moviefactory.config import load_format
from moviefactory.errors import InputError
from moviefactory.eval import evaluate
from moviefactory.reading import LATIN_CPS

from media import loudness

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return mf.make_film("A lighthouse keeper and a storm", format="vertical", scenes=3, seconds=18, draft=True,
                        output=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, ffmpeg):
    """2 s black then 3 s of moving test picture; a loud tone for 2 s then silence; captions: one over
    the tone, one over the silence, one far too fast to read."""
    folder = tmp_path_factory.mktemp("faulty")
    film = folder / "faulty.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "color=black:s=320x240:r=24:d=2",
                    "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=3",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2,volume=6,apad=whole_dur=5",
                    "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]",
                    "-map", "[v]", "-map", "2:a", "-c:v", "libx264", "-c:a", "aac", "-t", "5", str(film)],
                   check=True)
    (folder / "faulty.srt").write_text(
        "1\n00:00:00,200 --> 00:00:01,800\nThe tone sounds.\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nNobody says this.\n\n"
        "3\n00:00:04,200 --> 00:00:04,500\nThis caption is far too long to be read in a third of a second.\n\n",
        encoding="utf-8")
    return film


def test_a_film_we_made_passes_and_its_numbers_match_the_media(good, ffmpeg):
    result = evaluate(good.video, target_lufs=-14.0)
    assert result.ok, [c for c in result.checks if not c.ok]
    assert result.fps == 30 and (result.width, result.height) == (270, 480)  # what the test asked for
    assert result.loudness_lufs == pytest.approx(loudness(ffmpeg, good.video)["integrated"], abs=0.2)
    assert result.captions["cues"] >= 3 and result.captions["over_silence"] == []
    # Every detected cut is one of the timeline's hard cuts (crossfades are not cuts), to a frame.
    timeline = json.loads(good.timeline.read_text())
    rate = Fraction(timeline["fps"])
    hard = [float(Fraction(c["start"])) for c in timeline["video"][1:] if c["transition"] == "cut"]
    assert result.cuts and all(min(abs(t - h) for h in hard) <= 1.5 / float(rate) for t in result.cuts)
    assert len(result.cuts) >= len(hard) // 2


def test_known_faults_are_found(faulty):
    result = evaluate(faulty, target_lufs=-23.0)
    assert result.duration == pytest.approx(5.0, abs=0.05) and result.fps == 24  # as the fixture made it
    assert (result.width, result.height, result.frames) == (320, 240, 120)
    failed = {c.name for c in result.checks if not c.ok}
    assert {"picture", "loudness", "caption sync", "caption speed"} <= failed
    assert "caption overlap" not in failed
    (black,) = result.black
    assert black[0] == pytest.approx(0.0, abs=0.05) and black[1] == pytest.approx(2.0, abs=0.1)
    assert any(s == pytest.approx(2.0, abs=0.2) for s, _ in result.silence)
    assert result.captions["over_silence"] == [2.5, 4.2]  # the cues after the tone, shown while nothing is said
    assert result.captions["max_cps"] > 100
    assert result.loudness_lufs > -10 and result.cuts == [pytest.approx(2.0, abs=0.05)]


def test_cli_eval_prints_checks_writes_json_and_is_strict_on_request(faulty, good, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "moviefactory", "eval", *map(str, args)], capture_output=True,
                              text=True, timeout=120)

    proc = run(faulty, "--target-lufs", "-23", "--json", tmp_path / "eval.json")
    assert proc.returncode == 0 and "fail picture" in proc.stdout.replace("  ", " ")
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["ok"] is False and saved["black"] and saved["captions"]["cues"] == 3
    assert run(faulty, "--strict").returncode == 1
    assert run(good.video, "--format", "vertical", "--strict").returncode == 0
    missing = run(tmp_path / "nope.mp4")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_a_file_without_video_is_refused(tmp_path, ffmpeg):
    audio = tmp_path / "a.m4a"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", str(audio)],
                   check=True)
    with pytest.raises(InputError, match="no video stream"):
        evaluate(audio)


def _tone_film(ffmpeg, path, peak_db: float, seconds: float = 3.0):
    """Moving test picture and a 997 Hz mono tone whose crest is `peak_db` dBFS, kept as PCM so no
    encoder moves the peak (a sine's true peak is its crest)."""
    amplitude = 10 ** (peak_db / 20)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s=160x120:r=24:d={seconds}",
                    "-f", "lavfi", "-i", f"aevalsrc={amplitude!r}*sin(2*PI*997*t):s=48000:d={seconds}",
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le",
                    str(path)], check=True)
    return path


def _check(result, name):
    (check,) = [c for c in result.checks if c.name == name]
    return check


@pytest.mark.parametrize("peak_db, ok", [(0.0, False), (-0.8, False), (-1.5, True)])
def test_true_peak_is_checked_against_the_formats_ceiling(tmp_path, ffmpeg, peak_db, ok):
    film = _tone_film(ffmpeg, tmp_path / "tone.mkv", peak_db)
    metered = loudness(ffmpeg, film)["true_peak"]
    assert metered == pytest.approx(peak_db, abs=0.1)  # ffmpeg's meter agrees the tone peaks where we put it
    ceiling = load_format("vertical").true_peak_db
    result = evaluate(film, max_true_peak=ceiling)
    assert result.true_peak_db == pytest.approx(metered, abs=0.05)
    assert _check(result, "true peak").ok is ok, _check(result, "true peak")
    assert [c.name for c in result.checks if not c.ok] == ([] if ok else ["true peak"])


def test_a_compliant_film_passes(tmp_path, ffmpeg):
    fmt = load_format("vertical")
    film = _tone_film(ffmpeg, tmp_path / "tone.mkv", -11.0)  # mono sine: about 3 dB under its crest in LUFS
    metered = loudness(ffmpeg, film)
    assert abs(metered["integrated"] - fmt.loudness_lufs) <= 1.0 and metered["true_peak"] <= fmt.true_peak_db
    result = evaluate(film, target_lufs=fmt.loudness_lufs, max_true_peak=fmt.true_peak_db)
    assert result.ok, result.checks
    assert {c.name for c in result.checks} == {"picture", "motion", "loudness", "true peak"}


def test_audio_that_cannot_be_measured_fails(tmp_path, ffmpeg):
    """An audio stream without samples: ebur128 still prints a summary (-70 LUFS, peak 0.0), which
    is no measurement; and a film without an audio stream has no loudness to pass."""
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000)
    film = tmp_path / "mute.mkv"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=160x120:r=24:d=2", "-i", str(empty), "-map", "0:v", "-map", "1:a",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy", str(film)], check=True)
    with av.open(str(film)) as c:
        assert len(c.streams.audio) == 1  # the stream is there, with nothing in it
    assert loudness(ffmpeg, film)["true_peak"] == 0.0  # what a parser of the summary alone would believe
    (film.parent / "mute.srt").write_text("1\n00:00:00,200 --> 00:00:01,800\nSaid over nothing.\n\n", encoding="utf-8")
    result = evaluate(film, target_lufs=-14.0, max_true_peak=-1.0)
    assert result.loudness_lufs is None and result.true_peak_db is None and result.audio_seconds == 0
    for name in ("loudness", "true peak", "caption sync"):
        check = _check(result, name)
        assert not check.ok and "not measured" in check.detail, check
    assert _check(result, "picture").ok and not result.ok

    silent = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=160x120:r=24:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(silent)], check=True)
    result = evaluate(silent, target_lufs=-14.0)
    assert result.audio_seconds is None
    assert {c.name: c.detail for c in result.checks if not c.ok} == {
        "loudness": "no audio stream: loudness not measured (target -14.0)",
        "true peak": "no audio stream: true peak not measured (max -1.0)"}


def test_a_caption_file_without_cues_fails(tmp_path, ffmpeg):
    film = _tone_film(ffmpeg, tmp_path / "tone.mkv", -11.0)
    blank = tmp_path / "blank.srt"
    blank.write_text("1\n00:00:00,000 --> 00:00:01,000\n \n\n", encoding="utf-8")
    result = evaluate(film, subtitles=blank)
    failed = {c.name for c in result.checks if not c.ok}
    assert failed == {"caption speed", "caption sync", "caption overlap"}
    assert all("no cues" in c.detail for c in result.checks if not c.ok)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A vertical draft whose narration is quick: before cues were timed for reading, eval found one
    at 21.9 chars/s against its limit of 21."""
    return mf.make_film("The last train home", format="vertical", scenes=3, seconds=18, draft=True,
                        output=tmp_path_factory.mktemp("quick"))


def test_our_vertical_captions_stay_within_the_reading_speed_eval_checks(quick):
    fmt = load_format("vertical")
    result = evaluate(quick.video, target_lufs=fmt.loudness_lufs, max_true_peak=fmt.true_peak_db)
    assert result.captions["cues"] >= 3 and result.captions["cps_limit"] == LATIN_CPS
    for name in ("caption speed", "caption sync", "caption overlap"):
        assert _check(result, name).ok, _check(result, name)
