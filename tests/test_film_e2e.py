"""A real short film, made end to end, then probed and decoded: nothing here trusts our own records."""
from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pysubs2
import pytest

import moviefactory as mf
from moviefactory.config import load_format

from media import decode_audio, frame_at, loudness, shot_files, speech_spans, top_level_boxes, video_frames

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("film")]


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = mf.make_film("A lighthouse keeper and a storm", format="vertical", scenes=3, seconds=18,
                          draft=True, output=out)
    return result, out


def test_one_h264_and_one_aac_stream(film):
    result, _ = film
    with av.open(str(result.video)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
        fmt = load_format("vertical", draft=True)
        assert (v.codec_context.width, v.codec_context.height) == (fmt.width, fmt.height)
        assert v.codec_context.pix_fmt == "yuv420p"
        assert a.codec_context.sample_rate == 48000 and a.codec_context.channels == 2


def test_length_matches_the_timeline_within_a_frame(film):
    result, _ = film
    timeline = json.loads(result.timeline.read_text())
    expected = float(Fraction(timeline["duration"]))
    frames, fps = video_frames(result.video)
    assert abs(frames / fps - expected) <= 1 / fps
    samples, rate = decode_audio(result.video)
    assert abs(len(samples) / rate - frames / fps) <= 1 / fps
    assert 12 <= expected <= 40  # about the 18 s asked for, stretched to fit the narration at most


def test_file_starts_playing_before_it_is_downloaded(film):
    boxes = top_level_boxes(film[0].video)
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")


def test_loudness_meets_the_format_target(film, ffmpeg):
    measured = loudness(ffmpeg, film[0].video)
    assert abs(measured["integrated"] - load_format("vertical").loudness_lufs) <= 1.5
    assert measured["true_peak"] <= -0.5  # -1 dBTP ceiling, with the meter's own tolerance


@pytest.fixture(scope="module")
def voice_only(tmp_path_factory):
    """The same film with narration alone, so speech can be found in the audio by its energy."""
    return mf.make_film("A lighthouse keeper and a storm", format="vertical", scenes=3, seconds=18, draft=True,
                        music="none", sfx="none", output=tmp_path_factory.mktemp("runs"))


def test_captions_sit_inside_the_spoken_narration(voice_only):
    result = voice_only
    samples, rate = decode_audio(result.video)
    spans = speech_spans(samples, rate)
    assert len(spans) >= 3  # at least one spoken line per scene
    subs = pysubs2.load(str(result.subtitles["srt"]))
    assert len(subs) >= 3
    for cue in subs:
        start, end = cue.start / 1000, cue.end / 1000
        covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
        assert covered >= 0.6 * (end - start), f"cue {cue.text!r} at {start:.2f}-{end:.2f}s is mostly silent"
    vtt = result.subtitles["vtt"].read_text()
    assert vtt.startswith("WEBVTT") and subs[0].plaintext.split()[0] in vtt


def test_music_plays_under_the_narration_and_between_lines(film, voice_only):
    with_music, rate = decode_audio(film[0].video)
    bare, _ = decode_audio(voice_only.video)
    gaps = [(a[1] + 0.1, b[0] - 0.1) for a, b in zip(speech_spans(bare, rate), speech_spans(bare, rate)[1:])
            if b[0] - a[1] > 0.5]
    assert gaps, "the narration-only film should have pauses between lines"

    def rms(x, t0, t1):
        return float(np.sqrt(np.mean(x[int(t0 * rate):int(t1 * rate)] ** 2)) + 1e-9)

    for t0, t1 in gaps:  # where the narrator pauses, the film with a score is far from silent
        assert rms(with_music, t0, t1) > 10 * rms(bare, t0, t1)
    report = json.loads(film[0].report.read_text())
    assert report["music"]["path"].startswith("audio/music") and (film[0].run_dir / report["music"]["path"]).is_file()


def test_captions_are_burned_into_the_picture(film):
    result, _ = film
    subs = pysubs2.load(str(result.subtitles["srt"]))
    timeline = json.loads(result.timeline.read_text())
    first_clip = timeline["video"][0]
    clip_len = first_clip["frames"] / float(Fraction(timeline["fps"]))
    cue = subs[0]
    assert cue.end / 1000 < clip_len, "the first cue should fall inside the first shot"
    shot = result.run_dir / first_clip["path"]
    during = (cue.start + cue.end) / 2000
    fmt = load_format("vertical", draft=True)
    band = slice(int(fmt.height * 0.55), int(fmt.height * 0.8))  # where vertical captions sit

    def caption_diff(t: float) -> float:
        a = frame_at(result.video, t)[band].astype(int)
        b = frame_at(shot, t)[band].astype(int)
        return float(np.abs(a - b).mean())

    assert caption_diff(during) > 4 * max(caption_diff(0.05), 0.5)


def test_run_directory_holds_every_artifact_and_nothing_leaks(film):
    result, out = film
    assert [p.name for p in out.iterdir()] == [result.run_id]
    for path in result.paths:
        assert path.is_file() and path.stat().st_size > 0, path
    assert not list(result.run_dir.rglob("*.part*")), "temp files were left behind"
    report = json.loads(result.report.read_text())
    assert report["scenes"] == 3 and report["duration"] == pytest.approx(result.duration)
    assert len(shot_files(result.run_dir)) == report["shots"] >= 3


def test_contact_sheet_shows_every_shot_in_cut_order(film):
    from PIL import Image

    from moviefactory.media.contact_sheet import GAP, LABEL, thumb_size
    from moviefactory.timeline.model import Timeline

    result, _ = film
    sheet = np.asarray(Image.open(result.extras["contact_sheet"]).convert("RGB")).astype(int)
    timeline = Timeline.from_json(result.timeline.read_text())
    tw, th = thumb_size(timeline.width, timeline.height)
    cols = (sheet.shape[1] - GAP) // (tw + GAP)
    assert cols * ((len(timeline.video) + cols - 1) // cols) >= len(timeline.video) > (cols - 1)
    for k, clip in enumerate(timeline.video):
        x, y = GAP + (k % cols) * (tw + GAP), GAP + (k // cols) * (th + LABEL + GAP)
        tile = sheet[y:y + th, x:x + tw]
        # The tile is what the film shows at the middle of that shot (above the captions).
        shown = frame_at(result.video, float(clip.start) + clip.frames / 2 / float(timeline.fps))
        small = np.asarray(Image.fromarray(shown).resize((tw, th), Image.LANCZOS)).astype(int)
        top = slice(0, th * 2 // 5)
        assert np.abs(tile[top] - small[top]).mean() < 12, clip.shot
        if k:  # and not the shot before's picture
            prev = sheet[y:y + th, x - tw - GAP:x - GAP] if k % cols else None
            if prev is not None:
                assert np.abs(tile[top] - prev[top]).mean() > 3


def test_a_deleted_artifact_is_made_again_and_nothing_else(film):
    result, out = film
    original = result.video.read_bytes()
    shots = shot_files(result.run_dir)
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in result.run_dir.rglob("*") if p.is_file()}
    gone = [result.video, shots[1]]
    for path in gone:
        path.unlink()
    again = mf.make_film("A lighthouse keeper and a storm", format="vertical", scenes=3, seconds=18,
                         draft=True, output=out)
    assert again.run_id == result.run_id and again.video.read_bytes() == original  # the same film, bit for bit
    assert shots[1].is_file()
    changed = {p for p, stamp in stamps.items()
               if not p.exists() or (p.stat().st_ino, p.stat().st_mtime_ns) != stamp}
    remade = {*gone, *(p.with_name(p.name + ".done.json") for p in gone)}
    assert changed - {result.report, result.run_dir / "state.sqlite"} <= remade  # nothing else was touched


def test_the_same_film_from_another_folder_is_the_same_bytes(film, tmp_path):
    result, _ = film
    other = mf.make_film("A lighthouse keeper and a storm", format="vertical", scenes=3, seconds=18, draft=True,
                         output=tmp_path)
    assert other.run_id == result.run_id and other.run_dir != result.run_dir
    assert other.video.read_bytes() == result.video.read_bytes()  # frames, sound and container


def test_a_run_killed_while_encoding_continues_there(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["A paper boat on a rainy street", "--format", "vertical", "--scenes", "2", "--seconds", "8", "--draft",
            "--output", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "moviefactory", "make", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob("*/timeline.json.done.json")):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group, ffmpeg too, in the middle of the last stage
    proc.wait()
    run_dir = next(tmp_path.iterdir())
    assert not (run_dir / "film.mp4").exists(), "killed too late: the film was already made"
    shots = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shot_files(run_dir)}
    assert shots
    again = subprocess.run([sys.executable, "-m", "moviefactory", "make", *args], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shot_files(run_dir)} == shots  # kept
    timeline = json.loads((run_dir / "timeline.json").read_text())
    frames, fps = video_frames(run_dir / "film.mp4")
    assert frames == int(Fraction(timeline["duration"]) * fps)
    assert not list(run_dir.rglob("*.part*")) and not list(run_dir.glob(".assemble-*"))


def test_chinese_film_has_chinese_captions(tmp_path):
    result = mf.make_film("月光下的少林寺", format="vertical", lang="zh", scenes=3, seconds=15, draft=True,
                          output=tmp_path)
    subs = pysubs2.load(str(result.subtitles["srt"]))
    text = "".join(c.plaintext for c in subs)
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 10
    assert "Noto Sans CJK SC" in result.subtitles["ass"].read_text()
    samples, rate = decode_audio(result.video)
    assert len(speech_spans(samples, rate)) >= 3
