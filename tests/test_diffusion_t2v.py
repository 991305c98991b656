"""Text->video renderers over REAL diffusers pipelines (LTX, Wan) at toy size, on the CPU, offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from moviefactory.config import load_format
from moviefactory.errors import ConfigError, MissingDependencyError, RenderError
from moviefactory.renderers import RenderContext, create_renderer, renderer_names
from moviefactory.renderers.diffusion.base import catalogue, entry
from moviefactory.renderers.diffusion.motion import generation_rate, motion_controls
from moviefactory.renderers.diffusion.t2v import T2V_MODELS, TextToVideoRenderer, describe_models, weights_installed

from factories import tiny_screenplay
from media import decode_video, video_frames
from tiny_diffusion import Recording, shot_context, tiny_ltx, tiny_model, tiny_wan

torch = pytest.importorskip("torch")

BUILDERS = {"ltx-video": tiny_ltx, "wan2.1-t2v": tiny_wan}


@pytest.fixture(scope="module")
def pipes():
    return {name: build() for name, build in BUILDERS.items()}


def _ctx(ffmpeg, fmt_name="vertical", seed=1, frames=8, scene=0):
    return shot_context(ffmpeg, fmt_name, seed, frames, scene)


_decode = decode_video


@pytest.mark.parametrize("fmt_name", ["vertical", "widescreen"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_shot_file_is_exact_and_generation_fits_the_model(name, fmt_name, pipes, tmp_path, ffmpeg):
    model = tiny_model(name)
    pipe = Recording(pipes[name])
    renderer = TextToVideoRenderer(pipe, model)
    ctx = _ctx(ffmpeg, fmt_name, frames=11)
    shot = ctx.scene.shots[0].model_copy(update={"negative_prompt": "people, crowds"})

    clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")
    assert renderer._twin is None  # one call covered the shot: no continuation, no twin built

    # The file is the shot: exactly ctx.frames frames at the film's size and rate.
    frames, fps = video_frames(clip.path)
    assert (frames, fps) == (11, ctx.format.fps) and clip.frames == 11
    assert _decode(clip.path).shape == (11, ctx.format.height, ctx.format.width, 3)
    # The model was asked for the film's aspect, in its multiple, with a frame count it accepts.
    (call,) = pipe.calls
    w, h = call["width"], call["height"]
    assert w % model.multiple == 0 and h % model.multiple == 0
    assert (h > w) if fmt_name == "vertical" else (w > 2 * h)
    a, b = model.frame_rule
    assert (call["num_frames"] - b) % a == 0 and call["num_frames"] <= model.max_frames
    assert call["output_type"] == "np" and call["num_inference_steps"] == 2
    # Motion control: LTX is told the film's rate (it generates at it); Wan has no such knob.
    if name == "ltx-video":
        assert call["frame_rate"] == ctx.format.fps and call["num_frames"] >= 11  # the film's rate: no retiming
    else:
        assert "frame_rate" not in call and call["num_frames"] >= 11 * model.fps / ctx.format.fps
    # Prompts: the shot's look and the format's style; the shot's and the format's negatives.
    assert call["prompt"].startswith("a lighthouse on a cliff") and ctx.format.style_prompt in call["prompt"]
    assert "camera push-in" in call["prompt"]
    assert call["negative_prompt"].startswith("people, crowds")
    assert all(p.strip() in call["negative_prompt"] for p in ctx.format.negative_prompt.split(","))


def test_same_seed_same_frames_other_seed_other_frames(pipes, tmp_path, ffmpeg):
    renderer = TextToVideoRenderer(pipes["wan2.1-t2v"], tiny_model("wan2.1-t2v"))
    shot = _ctx(ffmpeg).scene.shots[0]
    paths = {}
    for label, seed in (("a", 5), ("b", 5), ("c", 6)):
        paths[label] = renderer.render(shot, _ctx(ffmpeg, seed=seed), tmp_path / f"{label}.mp4").path
    a, b, c = (_decode(paths[k]).astype(int) for k in "abc")
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1.0


def test_character_looks_and_no_text(pipes, tmp_path, ffmpeg):
    pipe = Recording(pipes["ltx-video"])
    renderer = TextToVideoRenderer(pipe, tiny_model("ltx-video"))
    ctx = _ctx(ffmpeg, scene=1)
    shot = ctx.scene.shots[1]  # shows Ada
    fmt = ctx.format.model_copy(update={"negative_prompt": ""})
    renderer.render(shot, replace(ctx, format=fmt), tmp_path / "shot.mp4")
    (call,) = pipe.calls
    assert "a lighthouse keeper in a yellow raincoat" in call["prompt"] and "camera pans left" in call["prompt"]
    assert "text" in call["negative_prompt"]  # lettering is never asked for, even without a format negative


def test_oom_retries_once_a_tier_lower_with_the_same_noise(pipes, tmp_path, ffmpeg):
    real = pipes["ltx-video"]
    model = tiny_model("ltx-video")
    ctx = _ctx(ffmpeg)
    shot = ctx.scene.shots[0]
    expected = _decode(TextToVideoRenderer(real, model).render(shot, ctx, tmp_path / "ok.mp4").path)
    pipe = Recording(real, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    renderer = TextToVideoRenderer(pipe, model, tier=48)
    assert not real.vae.use_tiling
    try:
        clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")
        assert len(pipe.calls) == 2 and renderer.tier == 24 and renderer.settings == dict(model.vram[24])
        assert real.vae.use_tiling  # the 24 GB tier's settings were applied before the retry
    finally:
        real.vae.disable_tiling()
    assert np.array_equal(_decode(clip.path), expected)


@pytest.mark.parametrize("tier, calls, advice", [
    (48, 2, "at the 48 GB tier and again at the 24 GB tier: use a lower tier: --vram 12"),
    (12, 1, "at the 12 GB tier: enable offload"),
])
def test_oom_twice_names_the_setting_to_change(tier, calls, advice, pipes, tmp_path, ffmpeg):
    oom = [RuntimeError("CUDA error: out of memory") for _ in range(3)]
    pipe = Recording(pipes["ltx-video"], *oom)
    renderer = TextToVideoRenderer(pipe, tiny_model("ltx-video"), tier=tier)
    try:
        with pytest.raises(RenderError) as err:
            renderer.render(_ctx(ffmpeg).scene.shots[0], _ctx(ffmpeg), tmp_path / "shot.mp4")
    finally:
        pipes["ltx-video"].vae.disable_tiling()
    assert advice in str(err.value) and "s01-sh01" in str(err.value) and err.value.scene == "s01"
    assert len(pipe.calls) == calls


def test_other_errors_do_not_retry(pipes, tmp_path, ffmpeg):
    pipe = Recording(pipes["ltx-video"], ValueError("height must be divisible by 32"))
    renderer = TextToVideoRenderer(pipe, tiny_model("ltx-video"), tier=48)
    with pytest.raises(RenderError, match="ltx-video failed on shot s01-sh01: ValueError: height must be"):
        renderer.render(_ctx(ffmpeg).scene.shots[0], _ctx(ffmpeg), tmp_path / "shot.mp4")
    assert len(pipe.calls) == 1 and renderer.tier == 48


def test_bad_inputs_are_named(pipes, tmp_path, ffmpeg):
    renderer = TextToVideoRenderer(pipes["ltx-video"], tiny_model("ltx-video"))
    with pytest.raises(RenderError, match="s01-sh01: cannot render 0 frames"):
        renderer.render(_ctx(ffmpeg).scene.shots[0], _ctx(ffmpeg, frames=0), tmp_path / "shot.mp4")
    with pytest.raises(ConfigError, match="'t2i' model"):
        TextToVideoRenderer(pipes["ltx-video"], entry("sdxl"))
    with pytest.raises(ConfigError, match="no 16 GB tier"):
        TextToVideoRenderer(pipes["ltx-video"], entry("ltx-video"), tier=16)
    with pytest.raises(ConfigError, match="steps must be >= 1, got 0"):
        TextToVideoRenderer(pipes["ltx-video"], entry("ltx-video"), steps=0)


def test_motion_maps_onto_the_models_own_controls():
    ltx, wan, svd = entry("ltx-video"), entry("wan2.1-t2v"), entry("svd")
    assert generation_rate(ltx, 30) == 30 and generation_rate(ltx, 120) == 48 and generation_rate(wan, 30) == 16
    calm, normal, lively = (motion_controls(ltx, m, 30)["frame_rate"] for m in (0.0, 0.5, 1.0))
    assert calm > normal == 30 > lively  # a lower told rate moves further per frame
    assert motion_controls(wan, 1.0, 16) == {}
    assert [motion_controls(svd, m, 7)["motion_bucket_id"] for m in (0.0, 1.0)] == [40, 200]


def test_registry_builds_every_t2v_entry_and_renders_through_it(pipes, tmp_path, ffmpeg):
    assert set(T2V_MODELS) == {n for n, m in catalogue().items() if m.task == "t2v"} <= set(renderer_names())
    assert {"ltx-video", "wan2.1-t2v", "cogvideox", "hunyuanvideo"} <= set(T2V_MODELS)
    plain = create_renderer("ltx-video", pipe=pipes["ltx-video"])
    assert plain.model == entry("ltx-video") and plain.pipe is pipes["ltx-video"]
    assert "Lightricks/LTX-Video" in plain.cache_token() and "steps=40" in plain.cache_token()
    assert create_renderer("ltx-video", pipe=pipes["ltx-video"], steps=8).cache_token() != plain.cache_token()

    renderer = create_renderer("ltx-video", pipe=pipes["ltx-video"], model=tiny_model("ltx-video"))
    assert renderer.name == "ltx-video"  # and it renders a shot, below: the SceneRenderer contract in use
    sp = tiny_screenplay()
    ctx = RenderContext(screenplay=sp, scene=sp.scenes[0], format=load_format("vertical", draft=True), seed=1,
                        ffmpeg=ffmpeg, frames=17)
    out = tmp_path / "shot.mp4"
    clip = renderer.render(sp.scenes[0].shots[0], ctx, out)
    assert clip.path == out and video_frames(out) == (17, 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.mp4"], "renderer left scratch files"


def test_describe_models_reads_the_local_cache_only(tmp_path):
    rows = describe_models(cache_dir=tmp_path)
    assert [r["name"] for r in rows] == list(catalogue())
    assert not any(r["installed"] for r in rows)
    ltx = next(r for r in rows if r["name"] == "ltx-video")
    assert ltx | {"installed": None} == {
        "name": "ltx-video", "task": "t2v", "pipeline": "LTXPipeline", "size": "768x512", "max_frames": 161,
        "fps": 24, "vram_gb": [12, 24, 48, 80], "download_gb": 28, "installed": None}
    assert not any(r["installed"] for r in describe_models())  # nothing downloaded on this machine

    # A snapshot laid out the way huggingface_hub caches one: installed once every component is there.
    repo = tmp_path / "models--Lightricks--LTX-Video"
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    (snap / "model_index.json").write_text(json.dumps({
        "_class_name": "LTXPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"],
        "transformer": ["diffusers", "LTXVideoTransformer3DModel"], "extra": [None, None]}))
    (snap / "vae").mkdir()
    assert not weights_installed(entry("ltx-video"), tmp_path)  # a download cut short
    (snap / "transformer").mkdir()
    assert weights_installed(entry("ltx-video"), tmp_path)


def test_missing_weights_offline_say_what_to_download(monkeypatch):
    if weights_installed(entry("ltx-video")):
        pytest.skip("LTX-Video weights are installed here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(MissingDependencyError) as err:
        create_renderer("ltx-video", offline=True)
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert "hf download Lightricks/LTX-Video" in message and "28 GB" in message and "--model-path" in message


def test_importing_the_module_loads_neither_torch_nor_diffusers():
    code = ("import sys, moviefactory.renderers.diffusion.t2v as m; m.describe_models; "
            "print(sorted(k for k in ('torch', 'diffusers', 'transformers') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.stdout.strip() == "[]"


@pytest.mark.gpu
@pytest.mark.weights
def test_real_ltx_on_cuda(tmp_path, ffmpeg):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU; see benchmarks/gpu_render.py")
    if not weights_installed(entry("ltx-video")):
        pytest.skip("needs the LTX-Video weights: hf download Lightricks/LTX-Video")
    renderer = create_renderer("ltx-video", offline=True, steps=20)
    ctx = _ctx(ffmpeg, "vertical", frames=48)
    clip = renderer.render(ctx.scene.shots[0], ctx, tmp_path / "shot.mp4")
    assert video_frames(clip.path) == (48, 30)
    frames = _decode(clip.path)
    assert frames.std() > 10  # a picture, not a flat frame


def test_a_shot_longer_than_one_call_is_extended_in_blended_chunks(tmp_path, ffmpeg):
    """StreamingT2V in a film: chunk 1 from text, the rest from the image-to-video twin (same weights)."""
    from dataclasses import replace

    from moviefactory.config import load_format
    from moviefactory.renderers import RenderContext
    from moviefactory.renderers.diffusion.t2v import TextToVideoRenderer

    from factories import tiny_screenplay
    from media import video_frames
    from tiny_diffusion import tiny_ltx, tiny_model

    model = replace(tiny_model("ltx-video"), max_frames=9)  # one call makes 9 frames
    renderer = TextToVideoRenderer(tiny_ltx(), model)
    sp, fmt = tiny_screenplay(), load_format("widescreen", draft=True)
    ctx = RenderContext(screenplay=sp, scene=sp.scenes[0], format=fmt, seed=3, ffmpeg=ffmpeg, frames=48)  # 2 s
    clip = renderer.render(sp.scenes[0].shots[0], ctx, tmp_path / "long.mp4")
    assert type(renderer._twin).__name__ == "LTXImageToVideoPipeline"
    assert clip.frames == 48 and video_frames(tmp_path / "long.mp4") == (48, 24.0)


def make_ltx_lora(folder: Path, seed: int) -> Path:
    """A tiny LoRA on the tiny LTX transformer's attention, saved as diffusers saves LoRAs."""
    from diffusers import LTXPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    donor = tiny_ltx()
    torch.manual_seed(seed)
    # init_lora_weights=False: random A and B, so the adapter changes the output from the first step.
    donor.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                             target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    LTXPipeline.save_lora_weights(str(folder), transformer_lora_layers=get_peft_model_state_dict(donor.transformer))
    return folder


def test_format_domain_adapter_changes_its_format_only(pipes, tmp_path, ffmpeg):
    lora = make_ltx_lora(tmp_path / "shorts-lora", seed=3)
    config = {"adapters": {"vertical": {"path": str(lora), "weight": 1.0}}}
    adapted = create_renderer("ltx-video", pipe=tiny_ltx(), model=tiny_model("ltx-video"), config=config)
    base = TextToVideoRenderer(pipes["ltx-video"], tiny_model("ltx-video"))
    assert "vertical=vertical:" in adapted.cache_token() and adapted.cache_token() != base.cache_token()

    frames = {}
    for fmt_name in ("vertical", "widescreen", "vertical"):
        ctx = _ctx(ffmpeg, fmt_name)
        shot = ctx.scene.shots[0]
        for label, renderer in (("adapted", adapted), ("base", base)):
            path = renderer.render(shot, ctx, tmp_path / f"{label}-{fmt_name}-{len(frames)}.mp4").path
            frames.setdefault((label, fmt_name), []).append(_decode(path).astype(int))
    # The vertical LoRA makes vertical shots look different; widescreen shots are the base model's.
    assert np.abs(frames["adapted", "vertical"][0] - frames["base", "vertical"][0]).mean() > 1.0
    assert np.array_equal(frames["adapted", "widescreen"][0], frames["base", "widescreen"][0])
    # Switching back re-enables the same adapter (loaded once): the same vertical look again.
    assert np.array_equal(frames["adapted", "vertical"][0], frames["adapted", "vertical"][1])
    assert adapted.pipe.get_list_adapters() == {"transformer": ["vertical"]}


def test_a_missing_adapter_is_named(pipes, tmp_path, ffmpeg):
    config = {"adapters": {"vertical": {"path": str(tmp_path / "nowhere"), "weight": 0.7}}}
    renderer = create_renderer("ltx-video", pipe=tiny_ltx(), model=tiny_model("ltx-video"), config=config)
    ctx = _ctx(ffmpeg)
    with pytest.raises(ConfigError, match="adapter 'vertical'.*nowhere.*does not exist"):
        renderer.render(ctx.scene.shots[0], ctx, tmp_path / "x.mp4")


def test_a_model_without_an_image_to_video_twin_continues_video_to_video(pipes, tmp_path, ffmpeg, monkeypatch):
    """Wan 2.1 T2V has no image-to-video weights: long shots continue through WanVideoToVideoPipeline
    built from the same components, each chunk re-denoising the last frames held."""
    from diffusers import WanVideoToVideoPipeline

    inputs = []
    real_call = WanVideoToVideoPipeline.__call__
    monkeypatch.setattr(WanVideoToVideoPipeline, "__call__",
                        lambda self, **kw: (inputs.append(kw["video"]), real_call(self, **kw))[1])
    model = replace(tiny_model("wan2.1-t2v"), max_frames=9)  # one call makes 9 frames at 16 fps
    renderer = TextToVideoRenderer(pipes["wan2.1-t2v"], model)
    ctx = _ctx(ffmpeg, "widescreen", frames=48)  # 2 s at 24 fps: 32 frames at Wan's 16
    clip = renderer.render(ctx.scene.shots[0], ctx, tmp_path / "long.mp4")

    assert type(renderer._twin).__name__ == "WanVideoToVideoPipeline"
    assert renderer._twin.transformer is pipes["wan2.1-t2v"].transformer  # the same weights, not a copy
    assert len(inputs) == 4  # 9 frames, then 7 new per chunk (2 overlap): 9, 16, 23, 30, 37 >= 32
    assert all(len(v) == 9 for v in inputs)  # a legal Wan length (4k+1)
    frames = _decode(clip.path).astype(int)
    assert frames.shape[0] == 48 and video_frames(clip.path) == (48, 24)
    assert np.abs(np.diff(frames[-12:], axis=0)).mean() > 0.5  # the tail is generated, not a held frame


@pytest.mark.parametrize("motion, words", [(0.05, "very subtle movement"), (0.9, "fast, energetic movement"),
                                           (0.5, None)])
def test_motion_is_said_in_words_to_a_model_without_motion_controls(pipes, tmp_path, ffmpeg, motion, words):
    ctx = _ctx(ffmpeg)
    shot = ctx.scene.shots[0].model_copy(update={"motion": motion})
    calls = {}
    for name in ("wan2.1-t2v", "ltx-video"):
        pipe = Recording(pipes[name])
        TextToVideoRenderer(pipe, tiny_model(name)).render(shot, ctx, tmp_path / f"{name}.mp4")
        calls[name] = pipe.calls[0]["prompt"]
    for phrase in ("movement", "still"):
        assert phrase not in calls["ltx-video"]  # LTX is told through its frame_rate instead
    if words:
        assert words in calls["wan2.1-t2v"]
    else:
        assert "movement" not in calls["wan2.1-t2v"]


def test_one_adapter_name_cannot_stand_for_two_sets_of_weights(tmp_path, ffmpeg):
    first, second = make_ltx_lora(tmp_path / "a", seed=1), make_ltx_lora(tmp_path / "b", seed=2)
    config = {"adapters": {"vertical": {"path": str(first), "name": "house"},
                           "widescreen": {"path": str(second), "name": "house"}}}
    renderer = create_renderer("ltx-video", pipe=tiny_ltx(), model=tiny_model("ltx-video"), config=config)
    ctx = _ctx(ffmpeg)
    renderer.render(ctx.scene.shots[0], ctx, tmp_path / "v.mp4")
    wide = _ctx(ffmpeg, "widescreen")
    with pytest.raises(ConfigError, match="two adapters are named 'house'"):
        renderer.render(wide.scene.shots[0], wide, tmp_path / "w.mp4")
