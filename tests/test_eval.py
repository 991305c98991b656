"""`moviefactory eval`: measurements of a film from its media, checked against films whose faults
are known because the test made them (a black opening, a caption over silence, a too-loud tone)."""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest

import moviefactory as mf
from moviefactory.errors import InputError
from moviefactory.eval import evaluate

from media import loudness, video_frames

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
    frames, fps = video_frames(good.video)
    assert result.fps == fps and result.duration == pytest.approx(frames / fps, abs=0.05)
    assert (result.width, result.height) == (270, 480)
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
