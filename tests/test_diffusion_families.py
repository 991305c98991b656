"""Text->video renderer over the REAL diffusers CogVideoX and HunyuanVideo pipelines, at toy size, on the CPU, offline.

The same checks as test_diffusion_t2v.py makes for LTX and Wan: the shot file is exact, the model is
asked for the film's aspect in sizes and frame counts it accepts, the seed decides the frames, and
the registry's entries build and render.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from moviefactory.renderers import create_renderer
from moviefactory.renderers.diffusion.t2v import TextToVideoRenderer

from media import decode_video, video_frames
from tiny_diffusion import Recording, shot_context, tiny_model
from tiny_video_families import tiny_cogvideox, tiny_hunyuan

torch = pytest.importorskip("torch")

BUILDERS = {"cogvideox": tiny_cogvideox, "hunyuanvideo": tiny_hunyuan}
PIPELINES = {"cogvideox": "CogVideoXPipeline", "hunyuanvideo": "HunyuanVideoPipeline"}


@pytest.fixture(scope="module")
def pipes():
    return {name: build() for name, build in BUILDERS.items()}


def _ctx(ffmpeg, fmt_name="vertical", seed=1, frames=9, scene=0):
    return shot_context(ffmpeg, fmt_name, seed, frames, scene)


_decode = decode_video


def test_the_tiny_pipelines_are_the_catalogues_classes_and_build_reproducibly(pipes):
    for name, pipe in pipes.items():
        assert type(pipe).__name__ == PIPELINES[name] == tiny_model(name).pipeline
        again = BUILDERS[name]()
        for part, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                ours, theirs = module.state_dict(), again.components[part].state_dict()
                assert ours.keys() == theirs.keys()
                assert all(torch.equal(ours[k], theirs[k]) for k in ours), f"{name}.{part} differs between builds"
            elif hasattr(module, "get_vocab"):
                assert module.get_vocab() == again.components[part].get_vocab()


@pytest.mark.parametrize("fmt_name", ["vertical", "widescreen"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_shot_file_is_exact_and_generation_fits_the_model(name, fmt_name, pipes, tmp_path, ffmpeg):
    model = tiny_model(name)
    pipe = Recording(pipes[name])
    renderer = TextToVideoRenderer(pipe, model)
    ctx = _ctx(ffmpeg, fmt_name, frames=9)
    shot = ctx.scene.shots[0].model_copy(update={"negative_prompt": "people, crowds"})

    clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")

    # The file is the shot: exactly ctx.frames frames at the film's size and rate.
    frames, fps = video_frames(clip.path)
    assert (frames, fps) == (9, ctx.format.fps) and clip.frames == 9
    assert (clip.width, clip.height) == (ctx.format.width, ctx.format.height)
    assert _decode(clip.path).shape == (9, ctx.format.height, ctx.format.width, 3)
    # The model was asked for the film's aspect, in its multiple, with a frame count it accepts.
    (call,) = pipe.calls
    w, h = call["width"], call["height"]
    assert w % model.multiple == 0 and h % model.multiple == 0
    assert (h > w) if fmt_name == "vertical" else (w > 2 * h)
    a, b = model.frame_rule
    assert (call["num_frames"] - b) % a == 0 and call["num_frames"] <= model.max_frames
    assert call["output_type"] == "np" and call["num_inference_steps"] == 2
    assert call["guidance_scale"] == model.guidance
    # Neither model has a motion or frame-rate argument: it generates at its training rate, enough frames
    # for the shot, and the pipeline gave back at least those (nothing is held to fill the shot).
    assert "frame_rate" not in call and "motion_bucket_id" not in call
    wanted = math.ceil(9 / ctx.format.fps * model.fps)
    assert call["num_frames"] >= wanted
    (shape,) = pipe.outputs
    assert shape[0] == 1 and shape[1] >= wanted and shape[2:] == (h, w, 3)
    # Prompts: the shot's look and the format's style; the shot's and the format's negatives.
    assert call["prompt"].startswith("a lighthouse on a cliff") and ctx.format.style_prompt in call["prompt"]
    assert "camera push-in" in call["prompt"]
    assert call["negative_prompt"].startswith("people, crowds")
    assert all(p.strip() in call["negative_prompt"] for p in ctx.format.negative_prompt.split(","))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_same_seed_same_frames_other_seed_other_frames(name, pipes, tmp_path, ffmpeg):
    renderer = TextToVideoRenderer(pipes[name], tiny_model(name))
    shot = _ctx(ffmpeg).scene.shots[0]
    paths = {}
    for label, seed in (("a", 5), ("b", 5), ("c", 6)):
        paths[label] = renderer.render(shot, _ctx(ffmpeg, seed=seed), tmp_path / f"{label}.mp4").path
    a, b, c = (_decode(paths[k]).astype(int) for k in "abc")
    assert a.shape == (9, 480, 270, 3)
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1.0


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_registry_entry_is_a_scene_renderer_and_renders(name, pipes, tmp_path, ffmpeg):
    renderer = create_renderer(name, pipe=pipes[name], model=tiny_model(name))
    assert isinstance(renderer, TextToVideoRenderer)  # the render below exercises the SceneRenderer contract
    assert renderer.name == name and renderer.pipe is pipes[name] and renderer.model == tiny_model(name)
    ctx = _ctx(ffmpeg, "widescreen", frames=10)
    out = tmp_path / "shot.mp4"
    clip = renderer.render(ctx.scene.shots[1], ctx, out)
    assert clip.path == out and video_frames(out) == (10, 24.0)
    assert _decode(out).shape == (10, 200, 480, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.mp4"], "renderer left scratch files"


@pytest.mark.parametrize("name, how", [("hunyuanvideo", "latents"), ("cogvideox", "CogVideoXVideoToVideoPipeline")])
def test_long_shots_continue_for_these_families_too(name, how, pipes, tmp_path, ffmpeg, monkeypatch):
    """HunyuanVideo has no image/video-to-video sibling: its own pipeline continues the shot from the
    encoded last frames (SDEdit in latent space). CogVideoX continues through its video-to-video one."""
    from dataclasses import replace

    import diffusers

    pipe = pipes[name]
    cls = type(pipe) if how == "latents" else getattr(diffusers, how)
    calls = []
    real = cls.__call__

    @functools.wraps(real)  # keeps the signature the renderer reads
    def recording(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", recording)
    model = replace(tiny_model(name), max_frames=9)  # one call makes 9 frames
    renderer = TextToVideoRenderer(pipe, model)
    ctx = _ctx(ffmpeg, "widescreen", frames=36)  # 1.5 s at 24 fps
    clip = renderer.render(ctx.scene.shots[0], ctx, tmp_path / "long.mp4")

    frames = _decode(clip.path).astype(int)
    assert frames.shape[0] == 36 and video_frames(clip.path) == (36, 24)
    continued = [c for c in calls if ("latents" in c if how == "latents" else "video" in c)]
    assert len(continued) >= 1
    if how == "latents":
        first = calls[0]
        assert first.get("latents") is None  # chunk 1 from text alone
        for c in continued:
            # the schedule really starts at 0.8 once the scheduler has shifted what it was given
            shift, given = pipe.scheduler.config.shift, c["sigmas"][0]
            assert shift * given / (1 + (shift - 1) * given) == pytest.approx(0.8) and given < 0.8
            assert c["num_inference_steps"] == len(c["sigmas"])
            assert c["latents"].shape[2] == (c["num_frames"] - 1) // 4 + 1  # the encoded window, held
    assert np.abs(np.diff(frames[-8:], axis=0)).mean() > 0.5  # the tail is generated, not a held frame


def test_catalogue_call_arguments_reach_the_pipeline(pipes, tmp_path, ffmpeg, monkeypatch):
    """HunyuanVideo's negatives count only with true CFG: the catalogue's `call` block passes
    true_cfg_scale, and raising it there makes the negative prompt change the picture."""
    from dataclasses import replace

    pipe, ctx = pipes["hunyuanvideo"], _ctx(ffmpeg)
    shot = ctx.scene.shots[0]
    assert tiny_model("hunyuanvideo").call == {"true_cfg_scale": 1.0}
    out = {}
    for label, call, negative in (("off", 1.0, "people"), ("off2", 1.0, "storm clouds"),
                                  ("on", 4.0, "people"), ("on2", 4.0, "storm clouds")):
        model = replace(tiny_model("hunyuanvideo"), call={"true_cfg_scale": call})
        clip = TextToVideoRenderer(pipe, model).render(shot.model_copy(update={"negative_prompt": negative}), ctx,
                                                       tmp_path / f"{label}.mp4")
        out[label] = _decode(clip.path).astype(int)
    assert np.array_equal(out["off"], out["off2"])  # without true CFG the negative prompt is ignored
    assert np.abs(out["on"] - out["on2"]).mean() > 0.5  # with it, the negative prompt matters
