"""Generated scene transitions in a film (Mora / SEINE): a first-and-last-frame generator makes a
bridge that plays over the scenes' overlap instead of a fade. Measured on the decoded film."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import moviefactory as mf
from moviefactory.renderers import create_renderer
from moviefactory.errors import InputError, RenderError

from media import decode_video, video_frames

pytestmark = [pytest.mark.slow]


MAGENTA = (255, 0, 255)


class Straight:
    """A first-and-last-frame generator that draws the straight line between its two frames, with a
    magenta band across the top of every frame between them, so the test knows every frame it made
    and can tell it from a crossfade. (The real pipeline class, tiny, runs in test_connect_flf2v.py.)"""

    def __init__(self, fail_after: int | None = None):
        self.calls, self.events, self.fail_after = [], [], fail_after

    def cache_token(self) -> str:
        return "straight-line"

    def generate(self, prompt, *, first, last, frames, seed):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RenderError("simulated crash in the middle of the bridges", stage="connect")
        self.calls.append({"prompt": prompt, "frames": frames, "first": first, "last": last})
        self.events.append("bridge")
        t = np.linspace(0, 1, frames)[:, None, None, None]
        made = ((1 - t) * first[None].astype(float) + t * last[None].astype(float)).round().astype(np.uint8)
        made[1:-1, : first.shape[0] // 8] = MAGENTA
        return made


def decode(path) -> np.ndarray:
    return decode_video(path).astype(int)


FILM = dict(format="widescreen", scenes=3, seconds=15, draft=True, seed=7, music="none", sfx="none")  # seed 7:
# two scene joins that fade, so two bridges


@pytest.fixture(scope="module")
def bridged(tmp_path_factory):
    gen = Straight()
    renderer = create_renderer("animatic")
    renderer.release = lambda: gen.events.append("renderer released")  # a GPU renderer gives its memory back
    result = mf.make_film("A paper boat on a rainy street", output=tmp_path_factory.mktemp("runs"), transitions=gen,
                          renderer=renderer, **FILM)
    return result, gen


def test_bridges_play_over_the_overlaps_opening_on_a_and_closing_on_b(bridged):
    result, gen = bridged
    timeline = json.loads((result.run_dir / "timeline.json").read_text())
    fps = Fraction(timeline["fps"])
    film = decode(result.video)
    bridged_clips = [c for c in timeline["video"] if c["bridge"]]
    assert len(bridged_clips) == len(gen.calls) == 2  # one bridge into each scene after the first

    top = slice(0, film.shape[1] * 2 // 5)  # above the subtitles
    for clip in bridged_clips:
        bridge = decode(result.run_dir / clip["bridge"])
        o = clip["overlap_frames"]
        start = int(Fraction(clip["start"]) * fps)
        assert len(bridge) == o >= 2
        # The film shows the bridge over the overlap, frame for frame ...
        shown = film[start:start + o, top]
        assert np.abs(shown - bridge[:, top]).mean() < 3
        band = film[start + 1:start + o - 1, : film.shape[1] // 10]
        assert np.abs(band - MAGENTA).mean() < 12
        # ... which opens on the outgoing shot where the overlap starts and closes on the incoming
        # shot where it ends, so both joins are continuous (no jump, no fade).
        prev = next(c for c in timeline["video"] if c["shot"] == _previous(timeline, clip)["shot"])
        a, b = decode(result.run_dir / prev["path"]), decode(result.run_dir / clip["path"])
        assert np.abs(bridge[0, top] - a[-o, top]).mean() < 3
        assert np.abs(bridge[-1, top] - b[o - 1, top]).mean() < 3
        # and the film goes on with the incoming shot after the bridge
        assert np.abs(film[start + o, top] - b[o, top]).mean() < 4
    # The film is as long as without bridges: the bridges replace the fades, they add no time.
    frames, rate = video_frames(result.video)
    assert abs(frames - Fraction(timeline["duration"]) * fps) <= 1 and rate == 24


def _previous(timeline, clip):
    video = timeline["video"]
    return video[video.index(clip) - 1]


def test_bridge_prompts_name_both_shots_and_the_run_records_the_generator(bridged):
    result, gen = bridged
    assert all(", then, " in c["prompt"] for c in gen.calls)
    recorded = json.loads((result.run_dir / "run.json").read_text())
    assert recorded["components"]["transitions"] == "Straight:straight-line"  # the object's token, in the run id
    assert recorded["options"]["transitions"] is None


def test_the_renderer_gives_back_its_memory_before_the_bridge_model_runs(bridged):
    _, gen = bridged
    assert gen.events == ["renderer released", "bridge", "bridge"]


def test_a_run_stopped_among_its_bridges_resumes_keeping_the_finished_one(tmp_path):
    with pytest.raises(RenderError, match="simulated crash"):
        mf.make_film("A paper boat on a rainy street", output=tmp_path, transitions=Straight(fail_after=1),
                     renderer=create_renderer("animatic"), **FILM)
    run_dir = next(tmp_path.iterdir())
    [first] = [p for p in (run_dir / "bridges").glob("*.mp4")]
    kept = (first.stat().st_ino, first.stat().st_mtime_ns)
    assert not (run_dir / "film.mp4").exists()
    with pytest.raises(InputError, match="made with a (renderer|transitions) object"):
        mf.resume_film(run_dir.name, output=tmp_path)  # a name cannot rebuild the object: say so, change nothing
    gen = Straight()
    again = mf.resume_film(run_dir.name, output=tmp_path, transitions=gen, renderer=create_renderer("animatic"))
    assert len(gen.calls) == 1  # only the bridge that was missing
    assert (first.stat().st_ino, first.stat().st_mtime_ns) == kept
    assert len(list((run_dir / "bridges").glob("*.mp4"))) == 2
    frames, _ = video_frames(again.video)
    timeline = json.loads((run_dir / "timeline.json").read_text())
    assert abs(frames - Fraction(timeline["duration"]) * Fraction(timeline["fps"])) <= 1
    assert sum(1 for c in timeline["video"] if c["bridge"]) == 2


def test_transitions_must_name_a_first_and_last_frame_model(tmp_path):
    with pytest.raises(InputError, match="first-and-last-frame model.*wan2.1-flf2v.*'ltx-video'"):
        mf.make_film("A paper boat", transitions="ltx-video", output=tmp_path, draft=True)
    assert not any(tmp_path.iterdir())  # refused before a run directory is made


def test_the_scripted_generator_keeps_the_protocols_promise():
    # FirstLastFrameGenerator: `frames` frames at the ends' size, opening on `first` and closing on `last`
    first, last = np.zeros((16, 24, 3), np.uint8), np.full((16, 24, 3), 200, np.uint8)
    made = Straight().generate("", first=first, last=last, frames=5, seed=0)
    assert made.shape == (5, 16, 24, 3) and made.dtype == np.uint8
    assert np.array_equal(made[0], first) and np.array_equal(made[-1], last)
