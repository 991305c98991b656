"""A whole film through a diffusion renderer: the real LTX pipeline class at toy size, on the CPU."""
from __future__ import annotations

import json
from fractions import Fraction

import av
import pytest

import moviefactory as mf
from moviefactory.renderers import create_renderer

from media import video_frames
from tiny_diffusion import tiny_ltx, tiny_model

pytestmark = [pytest.mark.slow]


def planned(result) -> tuple[Fraction, Fraction]:
    """(seconds, frames) the timeline planned for the film: an expectation the encode cannot move."""
    timeline = json.loads(result.timeline.read_text())
    return Fraction(timeline["duration"]), Fraction(timeline["duration"]) * Fraction(timeline["fps"])


def test_make_film_with_a_text_to_video_renderer(tmp_path):
    renderer = create_renderer("ltx-video", pipe=tiny_ltx(), model=tiny_model("ltx-video"))
    result = mf.make_film("A paper boat on a rainy street", format="vertical", scenes=2, seconds=8, draft=True,
                          music="none", sfx="none", output=tmp_path, renderer=renderer)
    frames, fps = video_frames(result.video)
    assert fps == 30 and abs(frames - planned(result)[1]) <= 1
    report = result.report.read_text()
    assert '"renderer": "ltx-video"' in report


def test_generated_frames_can_be_super_resolved_and_interpolated(tmp_path):
    calls = []

    class Recording:  # the real pipeline; each call's size is kept
        def __init__(self, pipe):
            self.pipe = pipe

        def __call__(self, **kwargs):
            calls.append((kwargs["width"], kwargs["height"], kwargs["num_frames"]))
            return self.pipe(**kwargs)

        def __getattr__(self, name):
            return getattr(self.pipe, name)

    renderer = create_renderer("ltx-video", pipe=Recording(tiny_ltx()), model=tiny_model("ltx-video"))
    result = mf.make_film("A paper boat on a rainy street", format="widescreen", scenes=2, seconds=8, draft=True,
                          music="none", sfx="none", output=tmp_path, renderer=renderer, upscale=4, interpolate=2)
    frames, fps = video_frames(result.video)
    seconds, planned_frames = planned(result)
    assert fps == 24 and abs(frames - planned_frames) <= 1
    assert '"upscale": 4' in (result.run_dir / "run.json").read_text()
    # x4 makes the widescreen film 3072x1280 (here at draft scale, a quarter of it) ...
    with av.open(str(result.video)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (768, 320)
    # ... from generations a quarter of the film's size, in the model's multiple of 32
    assert calls and all(w == 192 and h in (64, 96) for w, h, _ in calls)
    # x2 interpolation: the model is asked for half the film's frames (12 fps), the interpolator makes the rest
    asked = sum(n for _, _, n in calls)
    assert 0.45 * 24 * seconds <= asked <= 0.7 * 24 * seconds


def test_a_learned_interpolator_with_its_weights_serves_every_shot(tmp_path):
    """--interpolator rife --interpolate-weights PATH: the RIFE network (tiny, random weights) makes
    the in-betweens of every generated shot, loaded once for the run."""
    import tiny_rife
    from moviefactory.renderers.diffusion import base
    from moviefactory.renderers.interpolate_learned import load_rife

    weights = tmp_path / "flownet.pkl"
    tiny_rife.save_flownet(tiny_rife.random_weights(tiny_rife.IFNet(), seed=0), weights)
    loads, calls = [], []

    def spy_load(*args, **kwargs):
        loads.append(kwargs)
        model = load_rife(*args, **kwargs)
        real = model.interpolate
        model.interpolate = lambda frames, factor: (calls.append((len(frames), factor)), real(frames, factor))[1]
        return model

    from moviefactory.renderers.upscale import override_interpolator

    base.post_model.cache_clear()
    renderer = create_renderer("ltx-video", pipe=tiny_ltx(), model=tiny_model("ltx-video"))
    with override_interpolator("rife", spy_load):
        result = mf.make_film("A paper boat on a rainy street", format="vertical", scenes=2, seconds=8, draft=True,
                              music="none", sfx="none", output=tmp_path / "runs", renderer=renderer, interpolate=2,
                              interpolator="rife", interpolate_weights=weights)
    base.post_model.cache_clear()
    frames, fps = video_frames(result.video)
    assert fps == 30 and abs(frames - planned(result)[1]) <= 1
    assert len(loads) == 1 and loads[0]["weights"] == str(weights.resolve())  # once per run, not per shot
    assert len(calls) >= 2 and all(factor == 2 for _, factor in calls)  # every shot went through it
    recorded = json.loads((result.run_dir / "run.json").read_text())["options"]
    assert recorded["interpolator"] == "rife" and recorded["interpolate_weights"] == str(weights.resolve())
