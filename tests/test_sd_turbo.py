"""--renderer sd-turbo: diffusers' StableDiffusionPipeline (the real class, toy size, random weights), one
step, a keyframe per shot with the character bible in the prompt, the same noise for the same
character, played with the shot's camera move. Real weights: benchmarks/sd_turbo.py."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from moviefactory.config import load_format
from moviefactory.media.ffmpeg import ffmpeg_binary
from moviefactory.media.frames import read_frames
from moviefactory.renderers import RenderContext, create_renderer
from moviefactory.renderers.diffusion.base import entry
from moviefactory.screenplay import Shot

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def turbo():
    from tiny_image_video import tiny_sd

    model = replace(entry("sd-turbo"), size=(64, 64), multiple=8)
    return create_renderer("sd-turbo", pipe=tiny_sd(), model=model)


def _ctx(fmt_name="vertical", seed=5):
    from moviefactory.planner import create_writer
    from scripted_llm import request

    film = create_writer("offline").write(request(theme="A fox in the first snow", fmt=fmt_name))
    fmt = load_format(fmt_name, draft=True)
    return film, RenderContext(screenplay=film, scene=film.scenes[0], format=fmt, seed=seed, ffmpeg=ffmpeg_binary(),
                               frames=15)


def test_a_keyframe_per_shot_in_the_films_shape_moving_with_the_camera(turbo, tmp_path):
    film, ctx = _ctx()
    calls = []
    real = turbo.pipe

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    turbo.pipe = spy  # what the renderer asks the pipeline for is recorded
    try:
        shot = Shot(id="s01-sh01", description="a red fox in the snow", camera="push_in", motion=1.0, duration=0.6,
                    characters=(film.characters[0].name,))
        clip = turbo.render(shot, ctx, tmp_path / "s.still.npz")
    finally:
        turbo.pipe = real
    frames, _ = read_frames(clip.path)
    assert len(frames) == 15 and frames.shape[1:3] == (ctx.size[1], ctx.size[0])
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5  # the push-in moves
    (kw,) = calls
    assert kw["num_inference_steps"] == 1 and kw["guidance_scale"] == 0.0
    assert kw["height"] > kw["width"]  # a vertical film gets a vertical keyframe
    assert film.characters[0].description in kw["prompt"] and "red fox in the snow" in kw["prompt"]


def test_the_same_character_is_drawn_from_the_same_noise_in_every_shot(turbo):
    film, ctx = _ctx()
    name = film.characters[0].name
    a = Shot(id="s01-sh01", description="the fox runs", camera="static", motion=0.2, duration=1, characters=(name,))
    b = Shot(id="s02-sh03", description="the fox sleeps", camera="static", motion=0.2, duration=1, characters=(name,))
    other = Shot(id="s02-sh04", description="an empty valley", camera="static", motion=0.2, duration=1)
    _, ctx2 = _ctx(seed=99)
    assert turbo.seed_for(a, ctx) == turbo.seed_for(b, ctx2)  # shot seeds differ, the character's does not
    assert turbo.seed_for(other, ctx) != turbo.seed_for(other, ctx2)
    one, two = np.asarray(turbo.keyframe(a, ctx)), np.asarray(turbo.keyframe(a, ctx2))
    assert np.array_equal(one, two)


def test_without_weights_it_says_what_to_download(tmp_path):
    from moviefactory.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError) as err:
        create_renderer("sd-turbo", model_path=str(tmp_path / "nothing"), offline=True, device="cpu")
    assert "stabilityai/sd-turbo" in str(err.value) and "download" in str(err.value)
