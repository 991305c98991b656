from fractions import Fraction

import pytest

from moviefactory.config import load_format
from moviefactory.reading import LATIN_CPS, reading_chars
from moviefactory.screenplay import line_id
from moviefactory.timeline.build import ClipRef, SpeechRef, build_timeline, shot_frames
from moviefactory.timeline.model import Timeline
from moviefactory.timeline.pacing import LEAD_IN, TAIL, fit_to_speech, needed_length

from factories import tiny_screenplay


def _measure(text: str) -> float:
    return 20.0 * len(text)  # a monospaced stand-in: 20 px per character


def _inputs(sp, fmt, speech_seconds=1.0):
    clips = {shot.id: ClipRef(f"scenes/{scene.id}/{shot.id}.mp4", shot_frames(shot.duration, fmt.frame_rate))
             for scene, shot in sp.shots()}
    speech = {}
    for scene in sp.scenes:
        for k, line in enumerate(scene.narration):
            words = line.text.split()
            step = speech_seconds / len(words)
            speech[line_id(scene, k)] = SpeechRef(f"audio/narration/{line_id(scene, k)}.wav", speech_seconds,
                                                  [(w, i * step, (i + 1) * step) for i, w in enumerate(words)])
    return clips, speech


def test_durations_are_exact_frames_with_crossfade_overlaps():
    fmt = load_format("widescreen", draft=True)  # 24 fps
    sp = tiny_screenplay(transitions=("crossfade", "cut"))
    clips, speech = _inputs(sp, fmt)
    tl = build_timeline(sp, fmt, clips, speech, _measure)
    frames = sum(c.frames for c in tl.video)
    overlap = sum(c.overlap_frames for c in tl.video)
    assert overlap == 12  # one 0.5 s crossfade at 24 fps
    assert tl.duration == Fraction(frames - overlap, 24)
    assert all(c.start.denominator in (1, 2, 3, 4, 6, 8, 12, 24) for c in tl.video)  # whole frames
    assert [c.transition for c in tl.video] == ["cut", "cut", "crossfade", "cut", "cut", "cut"]
    # Clips tile the timeline: each starts where the previous ended, minus its overlap.
    for prev, cur in zip(tl.video, tl.video[1:]):
        assert cur.start == prev.start + Fraction(prev.frames, 24) - Fraction(cur.overlap_frames, 24)


def test_narration_sits_inside_its_scene_after_the_transition():
    fmt = load_format("vertical", draft=True)
    sp = tiny_screenplay()
    clips, speech = _inputs(sp, fmt)
    tl = build_timeline(sp, fmt, clips, speech, _measure)
    scene_start = {c.scene: c.start for c in reversed(tl.video)}
    for clip in tl.audio:
        scene = clip.ref.split("-")[0]
        assert clip.start >= scene_start[scene] + Fraction(LEAD_IN)
        assert clip.end <= tl.duration


def test_fit_to_speech_lengthens_short_scenes_only():
    sp = tiny_screenplay()
    long_lines = {line_id(s, 0): 6.0 for s in sp.scenes}
    fitted = fit_to_speech(sp, long_lines)
    for i, scene in enumerate(fitted.scenes):
        assert scene.duration >= needed_length(sp, i, long_lines)
        assert scene.duration >= 6.0 + LEAD_IN + TAIL
    assert fit_to_speech(sp, {line_id(s, 0): 0.1 for s in sp.scenes}) == sp


def test_captions_follow_the_words_and_stay_inside_each_line():
    fmt = load_format("widescreen", draft=True)
    sp = tiny_screenplay()
    clips, speech = _inputs(sp, fmt, speech_seconds=2.0)
    tl = build_timeline(sp, fmt, clips, speech, _measure)
    assert tl.cues
    spans = {a.ref: (a.start, a.end) for a in tl.audio}
    for cue in tl.cues:
        start, end = spans[cue.ref]
        assert start <= cue.start < cue.end <= end
    said = " ".join(line.text for s in sp.scenes for line in s.narration)
    shown = " ".join(" ".join(c.lines) for c in tl.cues)
    assert shown.split() == said.split()


def test_timeline_json_round_trip_keeps_exact_fractions():
    fmt = load_format("widescreen", draft=True)
    sp = tiny_screenplay()
    clips, speech = _inputs(sp, fmt)
    tl = build_timeline(sp, fmt, clips, speech, _measure)
    again = Timeline.from_json(tl.to_json())
    assert again == tl
    assert isinstance(again.video[1].start, Fraction)


@pytest.mark.parametrize("seconds, fps, frames", [(1.5, 24, 36), (1 / 3, 30, 10), (0.01, 24, 1)])
def test_shot_frames_rounds_to_whole_frames(seconds, fps, frames):
    assert shot_frames(seconds, Fraction(fps)) == frames


def _quick_inputs(sp, fmt):
    """Speech as a quick narrator says it: short words in a blink, then a breath at the line's end."""
    clips, _ = _inputs(sp, fmt)
    speech = {}
    for scene in sp.scenes:
        for k, line in enumerate(scene.narration):
            words, t = [], 0.0
            for w in line.text.split():
                said = 0.03 + 0.042 * len(w.strip(".,"))
                words.append((w.strip(".,"), t, t + said))
                t += said
            speech[line_id(scene, k)] = SpeechRef(f"audio/narration/{line_id(scene, k)}.wav", t + 0.35, words)
    return clips, speech


def test_quick_narration_gets_vertical_captions_that_can_be_read():
    fmt = load_format("vertical")  # karaoke: 4 words a cue
    sp = tiny_screenplay()
    clips, speech = _quick_inputs(sp, fmt)
    tl = build_timeline(sp, fmt, clips, speech, _measure)
    spans = {a.ref: (a.start, a.end) for a in tl.audio}
    for cue in tl.cues:
        start, end = spans[cue.ref]
        assert start <= cue.start < cue.end <= end
        assert reading_chars("\n".join(cue.lines)) / (cue.end - cue.start) <= LATIN_CPS, cue
    assert all(a.end <= b.start for a, b in zip(tl.cues, tl.cues[1:]))
    shown = " ".join(" ".join(c.lines) for c in tl.cues)
    assert shown.split() == " ".join(line.text for s in sp.scenes for line in s.narration).split()
