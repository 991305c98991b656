"""The "sdxl+svd" keyframe -> video renderer, run on diffusers' real pipeline classes at toy size on
the CPU (random weights, nothing downloaded): SDXL paints the keyframe, InstructPix2Pix edits it,
Stable Video Diffusion animates it; LoRA domain adapters are made here with peft."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction

import av
import numpy as np
import pytest

from moviefactory.config import load_format
from moviefactory.errors import MissingDependencyError, RenderError
from moviefactory.renderers import RenderContext, create_renderer, renderer_names
from moviefactory.renderers.diffusion.adapters import AdapterSpec, adapter_for, apply_adapter
from moviefactory.renderers.diffusion.base import entry, generation_size
from moviefactory.renderers.diffusion.keyframe import KeyframeVideoRenderer, animate, keyframe_prompts

from factories import tiny_screenplay
from media import video_frames
from tiny_image_video import tiny_models, tiny_pix2pix, tiny_sdxl, tiny_svd

BIBLE = "a lighthouse keeper in a yellow raincoat"  # Ada, in tests/factories.py


class Recorder:
    """A thin wrapper around a real pipeline: records each call's keyword arguments and output."""

    def __init__(self, pipe):
        self.pipe, self.calls, self.outputs = pipe, [], []
        self.__signature__ = inspect.signature(pipe)

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        self.outputs.append(self.pipe(**kwargs))
        return self.outputs[-1]

    def __getattr__(self, name):
        return getattr(self.pipe, name)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Toy-size models gain nothing from intra-op threads, and with other work on the 2 cores the
    threads' spinning made these tests 10-30x slower; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny-pipes")
    return {"image": tiny_sdxl(tmp), "video": tiny_svd(), "edit": tiny_pix2pix(tmp)}


def make_renderer(pipes, *, edit=False, image=True, adapters=None):
    image_model, video_model, edit_model = tiny_models()
    return KeyframeVideoRenderer(
        Recorder(pipes["image"]) if image else None, Recorder(pipes["video"]),
        edit_pipe=Recorder(pipes["edit"]) if edit else None, image_model=image_model, video_model=video_model,
        edit_model=edit_model, adapters=adapters, decode_chunk_size=2)


def context(ffmpeg, fmt="vertical", *, scene=1, shot=1, seed=11, **shot_update):
    """A draft-size context for one shot of the tiny screenplay (scene 2, shot 2 shows Ada)."""
    screenplay = tiny_screenplay()
    sc = screenplay.scenes[scene]
    sh = sc.shots[shot].model_copy(update=shot_update)
    f = load_format(fmt, draft=True)
    return sh, RenderContext(screenplay=screenplay, scene=sc, format=f, seed=seed, ffmpeg=ffmpeg,
                             frames=round(sh.duration * f.fps), scene_index=scene, shot_index=shot)


def decoded(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


@pytest.mark.parametrize("fmt", ["vertical", "widescreen"])
def test_shot_file_has_exact_frames_at_film_size_and_rate(pipes, ffmpeg, tmp_path, fmt):
    renderer = make_renderer(pipes)
    shot, ctx = context(ffmpeg, fmt)
    clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")

    frames = decoded(clip.path)
    assert video_frames(clip.path) == (ctx.frames, ctx.format.fps)
    assert frames.shape[:3] == (ctx.frames, ctx.format.height, ctx.format.width)
    assert (clip.frames, clip.width, clip.height) == (ctx.frames, ctx.format.width, ctx.format.height)
    # Both models work at the film's aspect: tall for vertical, wide for widescreen.
    image_call, video_call = renderer.image_pipe.calls[0], renderer.video_pipe.calls[0]
    image_model, video_model, _ = tiny_models()
    assert (image_call["width"], image_call["height"]) == generation_size(image_model, ctx.format)
    assert (video_call["width"], video_call["height"]) == generation_size(video_model, ctx.format)
    tall = ctx.format.height > ctx.format.width
    assert (image_call["height"] > image_call["width"]) == tall == (video_call["height"] > video_call["width"])
    assert video_call["image"].size == (video_call["width"], video_call["height"])
    # The character bible description reaches the keyframe prompt verbatim, with the shot and the style.
    assert BIBLE in image_call["prompt"]
    assert shot.description in image_call["prompt"] and ctx.format.style_prompt in image_call["prompt"]
    assert image_call["negative_prompt"] == ctx.format.negative_prompt


def test_prompt_names_only_the_characters_in_the_shot(ffmpeg):
    shot, ctx = context(ffmpeg, "widescreen", shot=0)  # the lighthouse, nobody in it
    assert BIBLE not in keyframe_prompts(shot, ctx).prompt
    shot, ctx = context(ffmpeg, "widescreen", prompt="a keeper at the lamp, close-up", negative_prompt="crowds")
    prompts = keyframe_prompts(shot, ctx)
    assert prompts.prompt.startswith(BIBLE) and "a keeper at the lamp, close-up" in prompts.prompt
    assert shot.description not in prompts.prompt  # the model-friendly prompt replaces the description
    assert prompts.negative == f"crowds, {ctx.format.negative_prompt}"


@pytest.mark.parametrize("model", ["sdxl", "svd", "instruct-pix2pix"])
@pytest.mark.parametrize("fmt", ["vertical", "widescreen"])
def test_generation_sizes_are_aspect_correct_multiples(model, fmt):
    m, f = entry(model), load_format(fmt)
    w, h = generation_size(m, f)
    assert w % m.multiple == 0 and h % m.multiple == 0
    assert abs(w / h - f.width / f.height) / (f.width / f.height) < 0.15
    assert 0.75 < (w * h) / (m.size[0] * m.size[1]) < 1.3  # about the model's native pixel count
    assert generation_size(m, load_format(fmt, draft=True)) == (w, h)  # drafts change the film, not the model


def test_motion_strength_sets_svd_motion_bucket_and_fps_conditioning(pipes, ffmpeg, tmp_path):
    renderer = make_renderer(pipes)
    for motion in (0.1, 0.9):
        shot, ctx = context(ffmpeg, motion=motion)
        renderer.render(shot, ctx, tmp_path / f"m{motion}.mp4")
    calm, lively = renderer.video_pipe.calls
    low, high = entry("svd").motion["bucket_range"]
    assert low <= calm["motion_bucket_id"] < lively["motion_bucket_id"] <= high
    assert (calm["motion_bucket_id"], lively["motion_bucket_id"]) == (56, 184)
    assert calm["fps"] == lively["fps"] == entry("svd").fps == 7  # the rate SVD was trained at
    assert calm["decode_chunk_size"] == 2  # chunked decoding, from the memory tier
    assert calm["num_frames"] == 7  # 1 s at the model's 7 fps
    calm_frames, lively_frames = (out.frames for out in renderer.video_pipe.outputs)
    assert not np.array_equal(calm_frames, lively_frames)  # the bucket is real conditioning


def test_seed_reproduces_and_another_seed_differs(pipes, ffmpeg, tmp_path):
    renderer = make_renderer(pipes)
    shot, ctx = context(ffmpeg, "widescreen", seed=3)
    a = decoded(renderer.render(shot, ctx, tmp_path / "a.mp4").path)
    b = decoded(renderer.render(shot, ctx, tmp_path / "b.mp4").path)
    c = decoded(renderer.render(shot, replace(ctx, seed=4), tmp_path / "c.mp4").path)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert renderer.cache_token() == make_renderer(pipes).cache_token()


def make_lora(tmp, folder: str, seed: int):
    """A tiny LoRA on the tiny SDXL UNet's attention projections, saved as diffusers saves LoRAs."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    donor = tiny_sdxl(tmp)
    torch.manual_seed(seed)
    # init_lora_weights=False: random A and B, so the adapter changes the output from the first step.
    donor.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                      target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    layers = get_peft_model_state_dict(donor.unet)
    StableDiffusionXLPipeline.save_lora_weights(str(tmp / folder), unet_lora_layers=layers)
    return tmp / folder


def test_lora_adapter_changes_the_keyframe_and_weight_zero_is_the_base_model(tmp_path):
    import torch

    pipe = tiny_sdxl(tmp_path)
    lora = make_lora(tmp_path, "cinema", seed=1)

    def keyframe():
        return pipe(prompt="a lighthouse keeper", height=48, width=80, num_inference_steps=2,
                    generator=torch.Generator().manual_seed(0), output_type="np").images[0]

    base = keyframe()
    apply_adapter(pipe, AdapterSpec(lora, 1.0, "widescreen"))
    adapted = keyframe()
    apply_adapter(pipe, AdapterSpec(lora, 0.0, "widescreen"))
    zero = keyframe()
    apply_adapter(pipe, None)
    off = keyframe()
    assert np.abs(adapted - base).max() > 1e-3
    assert np.abs(zero - base).max() < 1e-6
    assert np.abs(off - base).max() < 1e-6
    # A single weights file works as well as a folder.
    apply_adapter(pipe, AdapterSpec(lora / "pytorch_lora_weights.safetensors", 1.0, "as-file"))
    assert np.abs(keyframe() - adapted).max() < 1e-5


def test_formats_switch_named_adapters_on_one_pipeline_without_reloading(pipes, ffmpeg, tmp_path, monkeypatch):
    config = {"adapters": {"vertical": {"path": str(make_lora(tmp_path, "shorts", 2)), "weight": 0.8},
                           "widescreen": {"path": str(make_lora(tmp_path, "cinema", 3)), "weight": 1.0}}}
    specs = {f: adapter_for(f, config) for f in ("vertical", "widescreen")}
    assert specs["vertical"] == AdapterSpec(tmp_path / "shorts", 0.8, "vertical")
    image = tiny_sdxl(tmp_path)  # its own pipe: adapters stay out of the shared one
    loads = []
    real_load = image.load_lora_weights
    monkeypatch.setattr(image, "load_lora_weights",
                        lambda *a, **k: (loads.append(k["adapter_name"]), real_load(*a, **k))[1])
    renderer = make_renderer({**pipes, "image": image}, adapters=specs)

    active = []
    for i, fmt in enumerate(("vertical", "widescreen", "vertical")):
        shot, ctx = context(ffmpeg, fmt)
        renderer.render(shot, ctx, tmp_path / f"{i}.mp4")
        active.append(image.get_active_adapters())
    assert loads == ["vertical", "widescreen"]  # each loaded once, then switched by name
    assert active == [["vertical"], ["widescreen"], ["vertical"]]
    first, _, again = (np.asarray(out.images[0]) for out in renderer.image_pipe.outputs)
    assert np.array_equal(first, again)  # switching back restores the vertical look exactly
    assert "vertical=vertical:" in renderer.cache_token() and "widescreen=widescreen:" in renderer.cache_token()


def test_edit_pipe_edits_the_keyframe_when_given_an_instruction(pipes, ffmpeg, tmp_path):
    from PIL import ImageOps

    renderer = make_renderer(pipes, edit=True)
    shot, ctx = context(ffmpeg)
    renderer.render(shot, ctx, tmp_path / "plain.mp4")
    assert renderer.edit_pipe.calls == []
    renderer.render(shot, ctx, tmp_path / "edited.mp4", edit_instruction="make it night")

    (edit_call,), edit_out = renderer.edit_pipe.calls, renderer.edit_pipe.outputs[0].images[0]
    assert edit_call["prompt"] == "make it night"
    assert edit_call["image"] is renderer.image_pipe.outputs[1].images[0]  # the keyframe goes in
    animated = renderer.video_pipe.calls[1]["image"]  # the edit, framed at the video model's size, is animated
    assert np.array_equal(np.asarray(animated), np.asarray(ImageOps.fit(edit_out, animated.size)))
    assert not np.array_equal(np.asarray(animated), np.asarray(renderer.video_pipe.calls[0]["image"]))
    with pytest.raises(RenderError, match="make it night"):
        make_renderer(pipes).render(shot, ctx, tmp_path / "x.mp4", edit_instruction="make it night")


def test_animate_a_still_uses_the_same_path(pipes, ffmpeg, tmp_path):
    from PIL import Image

    still = tmp_path / "still.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(still)
    renderer = make_renderer(pipes, image=False)  # no text-to-image model needed to animate a still
    clip = animate(still, "the clouds drift apart", 1.0, tmp_path / "out" / "still.mp4", renderer=renderer,
                   fps=12, motion=0.9, ffmpeg=ffmpeg)
    assert video_frames(clip.path) == (12, 12.0)
    assert (clip.width, clip.height) == (96, 64)  # the still's own frame
    (call,) = renderer.video_pipe.calls
    assert call["motion_bucket_id"] == 184 and call["width"] > call["height"]
    with pytest.raises(RenderError, match="text-to-image"):
        shot, ctx = context(ffmpeg)
        renderer.render(shot, ctx, tmp_path / "x.mp4")


def test_factory_through_the_registry(pipes, ffmpeg, tmp_path):
    assert "sdxl+svd" in renderer_names()
    image_model, video_model, _ = tiny_models()
    renderer = create_renderer("sdxl+svd", image_pipe=pipes["image"], video_pipe=pipes["video"],
                               image_model=image_model, video_model=video_model,
                               config={"adapter": {"path": str(tmp_path / "house"), "weight": 0.5}})
    assert isinstance(renderer, KeyframeVideoRenderer) and renderer.name == "sdxl+svd"
    assert set(renderer.adapters) == {"square", "vertical", "widescreen"}  # the run-wide adapter, for every format
    renderer.adapters = {}
    shot, ctx = context(ffmpeg, "widescreen")
    clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")
    assert video_frames(clip.path) == (ctx.frames, 24.0)


def test_factory_without_weights_offline_says_what_to_download(tmp_path):
    with pytest.raises(MissingDependencyError) as info:
        create_renderer("sdxl+svd", offline=True)
    message = info.value.message
    assert "hf download stabilityai/stable-diffusion-xl-base-1.0" in message
    assert "hf download stabilityai/stable-video-diffusion-img2vid-xt" in message
    with pytest.raises(MissingDependencyError, match="--model-path"):
        create_renderer("sdxl+svd", offline=True, model_path=tmp_path / "models")


def test_importing_the_backend_loads_neither_torch_nor_diffusers():
    code = ("import sys, moviefactory.renderers.diffusion.keyframe, moviefactory.renderers.diffusion.adapters;"
            "from moviefactory.renderers import renderer_names; assert 'sdxl+svd' in renderer_names();"
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.gpu
@pytest.mark.weights
def test_real_sdxl_and_svd_on_cuda(ffmpeg, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU and the sdxl + svd weights (huggingface-cli download ...)")
    renderer = create_renderer("sdxl+svd", offline=True)
    shot, ctx = context(ffmpeg, "widescreen")
    clip = renderer.render(shot, ctx, tmp_path / "shot.mp4")
    assert video_frames(clip.path) == (ctx.frames, 24.0)


def test_a_shots_own_edit_loads_the_edit_model_on_first_need_only(pipes, ffmpeg, tmp_path):
    image_model, video_model, edit_model = tiny_models()
    loads = []

    def load_edit():
        loads.append(1)
        return Recorder(pipes["edit"])

    renderer = KeyframeVideoRenderer(Recorder(pipes["image"]), Recorder(pipes["video"]), image_model=image_model,
                                     video_model=video_model, edit_model=edit_model, decode_chunk_size=2,
                                     edit_loader=load_edit)
    shot, ctx = context(ffmpeg)
    renderer.render(shot, ctx, tmp_path / "plain.mp4")
    assert loads == []  # no shot asked for an edit: the edit model is never loaded
    night = shot.model_copy(update={"edit": "make it night, keep the coat yellow"})
    renderer.render(night, ctx, tmp_path / "night.mp4")
    renderer.render(night, ctx, tmp_path / "night2.mp4")
    assert loads == [1]
    assert [c["prompt"] for c in renderer.edit_pipe.calls] == ["make it night, keep the coat yellow"] * 2
    assert not np.array_equal(decoded(tmp_path / "plain.mp4"), decoded(tmp_path / "night.mp4"))


def test_a_shot_longer_than_one_video_call_is_continued_by_the_video_model(pipes, ffmpeg, tmp_path):
    renderer = make_renderer(pipes)
    shot, ctx = context(ffmpeg, duration=3.0)  # 21 frames at SVD's 7 fps; one tiny call makes 8
    clip = renderer.render(shot, ctx, tmp_path / "long.mp4")
    frames = decoded(clip.path).astype(int)
    assert frames.shape[0] == ctx.frames == 3 * ctx.format.fps
    calls = renderer.video_pipe.calls
    assert len(calls) == 4  # 8 frames, then 6 new ones per chunk (2 overlap): 8, 14, 20, 26 >= 21
    # Each continuation starts from the shot so far, not from the keyframe again.
    assert not np.array_equal(np.asarray(calls[1]["image"]), np.asarray(calls[0]["image"]))
    # The tail moves: it is generated, not the first call's last frame held.
    assert np.abs(np.diff(frames[-ctx.format.fps:], axis=0)).mean() > 0.5


@pytest.mark.slow
def test_a_film_from_an_edited_screenplay_applies_its_shot_edit(pipes, tmp_path):
    """The Mora recipe in a film: a person writes `edit:` on one shot of the plan; only that shot's
    keyframe goes through the instruction-edit model, which loads when that shot comes up."""
    import moviefactory as mf
    from moviefactory.screenplay.validation import dump_screenplay

    sp = tiny_screenplay()
    edited_shot = sp.scenes[1].shots[0].model_copy(update={"edit": "make it night"})
    scenes = list(sp.scenes)
    scenes[1] = scenes[1].model_copy(update={"shots": (edited_shot, *scenes[1].shots[1:])})
    plan = tmp_path / "plan.yaml"
    dump_screenplay(sp.model_copy(update={"scenes": tuple(scenes)}), plan)
    image_model, video_model, edit_model = tiny_models()
    loads = []
    renderer = KeyframeVideoRenderer(Recorder(pipes["image"]), Recorder(pipes["video"]), image_model=image_model,
                                     video_model=video_model, edit_model=edit_model, decode_chunk_size=2,
                                     edit_loader=lambda: (loads.append(1), Recorder(pipes["edit"]))[1])
    result = mf.render(plan, renderer=renderer, format="vertical", draft=True, music="none", sfx="none",
                       output=tmp_path / "runs")
    frames, fps = video_frames(result.video)
    timeline = json.loads(result.timeline.read_text())  # the planned length, not one probed from the same file
    assert fps == 30 and abs(frames - Fraction(timeline["duration"]) * Fraction(timeline["fps"])) <= 1
    assert loads == [1] and [c["prompt"] for c in renderer.edit_pipe.calls] == ["make it night"]
    assert len(renderer.image_pipe.calls) == len(sp.shots())  # every shot painted its keyframe


class RaisesFirst(Recorder):
    """The real pipeline, after raising the queued errors on its first calls."""

    def __init__(self, pipe, *errors):
        super().__init__(pipe)
        self.errors = list(errors)

    def __call__(self, **kwargs):
        if self.errors:
            self.calls.append(kwargs)
            raise self.errors.pop(0)
        return super().__call__(**kwargs)


def test_out_of_memory_retries_once_leaner_with_the_same_noise(pipes, ffmpeg, tmp_path):
    import torch

    image_model, video_model, _ = tiny_models()
    shot, ctx = context(ffmpeg)
    clean = make_renderer(pipes).render(shot, ctx, tmp_path / "clean.mp4")
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
    renderer = KeyframeVideoRenderer(Recorder(pipes["image"]), RaisesFirst(pipes["video"], oom),
                                     image_model=image_model, video_model=video_model, decode_chunk_size=8)
    retried = renderer.render(shot, ctx, tmp_path / "retried.mp4")
    assert renderer.decode_chunk_size == 2  # a quarter as many frames decoded at once, for later shots too
    assert renderer.video_pipe.calls[-1]["decode_chunk_size"] == 2
    assert np.array_equal(decoded(retried.path), decoded(clean.path))  # the same shot: fresh generators

    twice = KeyframeVideoRenderer(Recorder(pipes["image"]), RaisesFirst(pipes["video"], oom, oom),
                                  image_model=image_model, video_model=video_model, decode_chunk_size=8)
    with pytest.raises(RenderError, match=r"ran out of GPU memory.*--vram 12"):
        twice.render(shot, ctx, tmp_path / "x.mp4")
    other = KeyframeVideoRenderer(Recorder(pipes["image"]), RaisesFirst(pipes["video"], ValueError("bad shape")),
                                  image_model=image_model, video_model=video_model)
    with pytest.raises(RenderError, match="ValueError: bad shape"):
        other.render(shot, ctx, tmp_path / "y.mp4")
    assert len(other.video_pipe.calls) == 1  # other errors are not retried
