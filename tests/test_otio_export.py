"""The film's Timeline as OpenTimelineIO (film.otio): written, read back with OTIO's own adapter, and
measured against the real media -- the decoded film, shots, voices, music and effects it points at."""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

import moviefactory as mf
from moviefactory.media.camera import is_still, preview_path
from moviefactory.media.frames import write_frames
from moviefactory.timeline.export import to_otio, write_otio
from moviefactory.timeline.model import AudioClip, Cue, Timeline, VideoClip

from media import decode_audio, decode_video, video_frames

pytestmark = [pytest.mark.slow]  # the module's film is encoded for real (a draft, ~5 s)

EPS = 1e-9  # seconds: audio and caption times are fractional frames, read back as doubles


def _path(ref, run_dir: Path) -> str:
    """The run-relative path an ExternalReference's absolute file URL points at."""
    absolute = Path(otio.url_utils.filepath_from_url(ref.target_url))
    assert absolute.is_absolute() and absolute.is_file(), ref.target_url
    return absolute.relative_to(run_dir.resolve()).as_posix()


def shown_by_timeline(timeline: Timeline, p: int):
    """What the Timeline shows at frame p, as the assembler realises it: one (path, media frame), a
    generated bridge over an overlap, or ('mix', a, b) inside a crossfade."""
    fps = timeline.fps
    covering = [c for c in timeline.video if c.start * fps <= p < c.start * fps + c.frames]
    if len(covering) == 1:
        return (_media(covering[0].path), p - int(covering[0].start * fps))
    a, b = covering
    assert b.overlap_frames and b.transition != "cut"
    if b.bridge:
        return (b.bridge, p - int(b.start * fps))
    return ("mix", (_media(a.path), p - int(a.start * fps)), (_media(b.path), p - int(b.start * fps)))


def _media(path: str) -> str:
    """What an editor is given for a shot: the file, or for a still with a camera move its preview picture."""
    return preview_path(path) if is_still(path) else path


def shown_by_otio(track, run_dir: Path, p: int):
    """What an editor plays on the OTIO video track at frame p: the clip whose range holds p, or the
    two neighbours' media (handles included) inside a transition."""
    def media_frame(item, at):
        placed = item.range_in_parent().start_time.to_frames()
        return _path(item.media_reference, run_dir), at - placed + item.source_range.start_time.to_frames()

    items = list(track)
    for k, item in enumerate(items):
        r = track.range_of_child_at_index(k)
        start, length = r.start_time.to_frames(), r.duration.to_frames()
        if isinstance(item, otio.schema.Transition) and start <= p < start + length:
            return ("mix", media_frame(items[k - 1], p), media_frame(items[k + 1], p))
    for item in items:
        if isinstance(item, otio.schema.Clip):
            r = item.range_in_parent()
            if r.start_time.to_frames() <= p < r.end_time_exclusive().to_frames():
                return media_frame(item, p)
    raise AssertionError(f"nothing on the track at frame {p}")


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    result = mf.make_film("A lighthouse keeper and a storm", format="widescreen", scenes=3, seconds=15, draft=True,
                          output=tmp_path_factory.mktemp("runs"))
    timeline = Timeline.from_json((result.run_dir / "timeline.json").read_text(encoding="utf-8"))
    out = write_otio(timeline, result.run_dir, result.run_dir / "film.otio")
    return result, timeline, out, otio.adapters.read_from_file(str(out))


def test_written_in_place_and_read_back_as_the_films_timeline(film):
    result, timeline, out, cut = film
    assert out == result.run_dir / "film.otio" and out.stat().st_size > 0
    assert not list(result.run_dir.glob(".film.*part*"))  # the temp name was renamed, not left
    assert cut.name == timeline.title
    assert cut.global_start_time == otio.opentime.RationalTime(0, float(timeline.fps))
    meta = cut.metadata["moviefactory"]
    assert meta["format"] == "widescreen" == timeline.meta["format"]
    assert list(meta["size"]) == [timeline.width, timeline.height]
    assert Fraction(meta["fps"]) == timeline.fps
    assert meta["loudness_lufs"] == timeline.loudness_lufs


def test_video_track_is_exactly_the_decoded_film(film):
    result, timeline, _, cut = film
    [track] = cut.video_tracks()
    decoded, rate = video_frames(result.video)
    assert track.duration().rate == float(timeline.fps) == rate
    assert track.duration().to_frames() == decoded == timeline.frames
    assert cut.duration().to_frames() == decoded  # no audio track runs past the picture


def test_video_clips_point_at_whole_shots_placed_where_the_film_has_them(film):
    result, timeline, _, cut = film
    [track] = cut.video_tracks()
    clips = list(track.find_clips())
    assert [c.name for c in clips] == [v.shot for v in timeline.video]  # no bridges in this film
    for clip, shot in zip(clips, timeline.video):
        assert _path(clip.media_reference, result.run_dir) == _media(shot.path)  # a file that is there
        assert clip.metadata["moviefactory"]["path"] == shot.path
        available = clip.media_reference.available_range
        assert available.start_time.to_frames() == 0
        assert available.duration.to_frames() == video_frames(result.run_dir / shot.path)[0] == shot.frames
        if is_still(shot.path):  # the preview is the shot's middle frame as the film shows it
            from PIL import Image

            preview = np.asarray(Image.open(result.run_dir / _media(shot.path)).convert("RGB")).astype(int)
            middle = decode_video(result.run_dir / shot.path)[shot.frames // 2].astype(int)
            assert preview.shape == middle.shape and np.abs(preview - middle).mean() < 4
        # Handles: what the clip and the transitions around it show lies inside the shot.
        visible = clip.visible_range()
        assert visible.start_time.to_frames() >= 0
        assert visible.end_time_exclusive().to_frames() <= shot.frames
        # The shot's frame 0 sits on the track where the Timeline starts the shot.
        placed = clip.range_in_parent().start_time.to_frames() - clip.source_range.start_time.to_frames()
        assert placed == shot.start * timeline.fps
    # Frame by frame, the track plays what the film plays.
    for p in range(timeline.frames):
        assert shown_by_otio(track, result.run_dir, p) == shown_by_timeline(timeline, p), p


def test_each_crossfade_is_one_dissolve_over_the_overlap(film):
    result, timeline, _, cut = film
    [track] = cut.video_tracks()
    joins = [v for v in timeline.video if v.transition != "cut" and v.overlap_frames]
    transitions = [t for t in track if isinstance(t, otio.schema.Transition)]
    assert len(joins) == len(transitions) >= 1
    for join, t in zip(joins, transitions):
        assert t.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
        assert t.metadata["moviefactory"]["transition"] == join.transition
        assert t.in_offset.to_frames() + t.out_offset.to_frames() == join.overlap_frames
        assert abs(t.in_offset.to_frames() - t.out_offset.to_frames()) <= 1
        # The dissolve covers exactly the frames the two shots share on the Timeline.
        r = t.range_in_parent()
        assert r.start_time.to_frames() == join.start * timeline.fps
        assert r.duration.to_frames() == join.overlap_frames
        before, after = track.neighbors_of(t)
        assert after.name == join.shot


def test_audio_tracks_place_every_clip_at_its_start_without_overlaps(film):
    result, timeline, _, cut = film
    tracks = cut.audio_tracks()
    assert tracks and all(t.kind == otio.schema.TrackKind.Audio for t in tracks)
    placed = {}
    for track in tracks:
        role = track.metadata["moviefactory"]["role"]
        assert abs(track.duration().to_seconds() - float(timeline.duration)) < EPS
        assert not any(isinstance(i, otio.schema.Transition) for i in track)
        end = 0.0
        for item in track:
            r = item.range_in_parent()
            assert r.start_time.to_seconds() >= end - EPS  # each item starts where the one before ended
            end = r.end_time_exclusive().to_seconds()
            if isinstance(item, otio.schema.Clip):
                m = item.metadata["moviefactory"]
                assert m["role"] == role
                placed[(m["path"], Fraction(m["start"]))] = (item, r)
    assert len(placed) == len(timeline.audio)

    lengths = {}
    for clip in timeline.audio:
        item, r = placed[(clip.path, clip.start)]
        assert _path(item.media_reference, result.run_dir) == clip.path
        assert abs(r.start_time.to_seconds() - float(clip.start)) < EPS
        assert abs(item.source_range.start_time.to_seconds() - float(clip.offset)) < EPS
        assert abs(item.source_range.duration.to_seconds() - float(clip.duration)) < EPS
        m = item.metadata["moviefactory"]
        assert (m["gain_db"], m["fade_in"], m["fade_out"]) == (clip.gain_db, clip.fade_in, clip.fade_out)
        if clip.path not in lengths:
            samples, rate = decode_audio(result.run_dir / clip.path)
            lengths[clip.path] = len(samples) / rate
        available = item.media_reference.available_range.duration.to_seconds()
        assert abs(available - lengths[clip.path]) < 0.05
        assert float(clip.offset + clip.duration) <= lengths[clip.path] + 0.002

    # One track per role, and one more for each clip a role plays over another at once.
    for role in {c.role for c in timeline.audio}:
        clips = [c for c in timeline.audio if c.role == role]
        depth = max(sum(1 for o in clips if o.start <= c.start < o.end) for c in clips)
        assert len([t for t in tracks if t.metadata["moviefactory"]["role"] == role]) == depth
    assert {t.name for t in tracks} >= {"narration", "music", "sfx"}


def test_captions_are_timeline_markers(film):
    result, timeline, _, cut = film
    markers = list(cut.tracks.markers)
    assert len(markers) == len(timeline.cues) >= 1
    for marker, cue in zip(markers, timeline.cues):
        assert marker.comment == cue.text
        assert marker.name == " ".join(cue.lines)
        assert abs(marker.marked_range.start_time.to_seconds() - float(cue.start)) < EPS
        assert abs(marker.marked_range.end_time_exclusive().to_seconds() - float(cue.end)) < EPS


def _shot(run_dir: Path, rel: str, frames: int, fps: Fraction, value: int) -> str:
    """A tiny real clip whose frame k is grey level value + k (so frames are told apart)."""
    pixels = np.stack([np.full((24, 32, 3), value + k, np.uint8) for k in range(frames)])
    write_frames(pixels, fps, run_dir / rel)
    return rel


def test_a_bridge_is_its_own_clip_between_neighbours_trimmed_by_the_overlap(tmp_path):
    fps = Fraction(24)
    a = _shot(tmp_path, "scenes/a.mp4", 12, fps, 10)
    b = _shot(tmp_path, "scenes/b.mp4", 16, fps, 60)
    c = _shot(tmp_path, "scenes/c.mp4", 10, fps, 120)
    bridge = _shot(tmp_path, "scenes/bridge.mp4", 5, fps, 200)
    # a (12) --bridge, 5 frames-- b (16) --crossfade, 3 frames-- c (10): 12 + 16 - 5 + 10 - 3 = 30
    video = (VideoClip(a, "s01", "a", Fraction(0), 12),
             VideoClip(b, "s02", "b", Fraction(7, 24), 16, "crossfade", 5, bridge),
             VideoClip(c, "s03", "c", Fraction(20, 24), 10, "fade_black", 3))
    timeline = Timeline("Bridged", "en", 32, 24, fps, Fraction(30, 24), video,
                        cues=(Cue(Fraction(1, 10), Fraction(9, 10), ("a", "caption")),), meta={"format": "toy"})
    out = write_otio(timeline, tmp_path, tmp_path / "film.otio")
    cut = otio.adapters.read_from_file(str(out))
    [track] = cut.video_tracks()
    assert not cut.audio_tracks()
    [marker] = cut.tracks.markers
    assert (marker.name, marker.comment) == ("a caption", "a\ncaption")
    assert list(marker.metadata["moviefactory"]["lines"]) == ["a", "caption"]

    kinds = [(type(i).__name__, i.name) for i in track]
    assert kinds == [("Clip", "a"), ("Clip", "bridge s01 > s02"), ("Clip", "b"), ("Transition", "fade_black"),
                     ("Clip", "c")]
    ca, cb_, cb, t, cc = list(track)
    frames = lambda r: (r.start_time.to_frames(), r.duration.to_frames())  # noqa: E731
    assert frames(ca.source_range) == (0, 12 - 5)  # a loses the whole overlap at its tail
    assert frames(cb_.source_range) == (0, 5) == frames(cb_.media_reference.available_range)
    assert frames(cb.source_range) == (5, 16 - 5 - 2)  # b: the overlap at its head, 3 - 3 // 2 at its tail
    assert (t.in_offset.to_frames(), t.out_offset.to_frames()) == (1, 2)  # odd overlap, whole frames
    assert t.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert dict(t.metadata["moviefactory"]) == {"transition": "fade_black", "overlap_frames": 3}
    assert frames(cc.source_range) == (1, 10 - 1)
    assert frames(t.range_in_parent()) == (20, 3)
    assert track.duration().to_frames() == 7 + 5 + 9 + 9 == timeline.frames == 30
    for clip in (ca, cb_, cb, cc):
        assert clip.media_reference.available_range.duration.to_frames() == \
            video_frames(tmp_path / _path(clip.media_reference, tmp_path))[0]
    for p in range(timeline.frames):
        assert shown_by_otio(track, tmp_path, p) == shown_by_timeline(timeline, p), p
    assert shown_by_otio(track, tmp_path, 7) == (bridge, 0)


def test_a_crossfade_maps_to_one_dissolve_with_halves_of_the_overlap():
    fps = Fraction(25)
    video = (VideoClip("a.mp4", "s01", "a", Fraction(0), 40),
             VideoClip("b.mp4", "s02", "b", Fraction(33, 25), 30, "crossfade", 7))
    timeline = Timeline("Pure", "en", 32, 24, fps, Fraction(63, 25), video,
                        audio=(AudioClip("m.ogg", "music", "music", Fraction(0), Fraction(63, 25), -10.0, 1.0, 2.0),),
                        meta={"format": "toy"})
    cut = to_otio(timeline, Path("/run"))  # pure: no file is read
    [track] = cut.video_tracks()
    a, t, b = list(track)
    assert isinstance(t, otio.schema.Transition) and t.name == "crossfade"
    assert t.in_offset + t.out_offset == otio.opentime.RationalTime(7, 25)
    assert a.source_range.duration.to_frames() == 40 - 4 and b.source_range.start_time.to_frames() == 3
    assert track.duration().to_frames() == 63 == timeline.frames
    assert a.media_reference.target_url == otio.url_utils.url_from_filepath("/run/a.mp4")
    [music] = cut.audio_tracks()
    assert music.find_clips()[0].media_reference.available_range is None  # not probed


def test_importing_moviefactory_does_not_import_opentimelineio():
    code = ("import sys, moviefactory, moviefactory.timeline.export; "
            "sys.exit('opentimelineio' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
