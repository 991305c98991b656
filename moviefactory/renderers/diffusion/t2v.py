"""Text -> video shots with diffusers: LTX-Video, Wan 2.1, CogVideoX, HunyuanVideo.

One pipeline is loaded per run and serves every shot. Each shot is one call at the film's aspect
(vertical stays vertical), as many frames as the model makes for the shot's length, seeded from the
shot, then `write_clip` fits it to the film's exact size, rate and frame count.

torch, diffusers and huggingface_hub are imported inside functions: importing this module is cheap.
"""
from __future__ import annotations

import inspect
import math
import threading
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from ...errors import ConfigError, RenderError
from ...screenplay import Shot
from ..base import Clip, RenderContext, register_renderer
from .adapters import AdapterSpec, adapters_for, apply_adapter
from .base import (ModelEntry, catalogue, entry, generation_size, load_pipeline, model_frames, to_uint8_frames,
                   weights_installed, write_clip)
from .memory import apply_memory, detect_vram_gb, free_gpu_memory, is_out_of_memory
from .motion import generation_rate, motion_controls, motion_words

VERSION = 3  # bump when a change here alters the frames for the same shot, seed and model
NO_TEXT = "text, captions, letters, watermark"  # video models garble lettering; never ask for it
CAMERA_WORDS = {
    "static": "static camera",
    "push_in": "slow camera push-in",
    "pull_out": "slow camera pull-back",
    "pan_left": "camera pans left",
    "pan_right": "camera pans right",
    "tilt_up": "camera tilts up",
    "tilt_down": "camera tilts down",
}


class TextToVideoRenderer:
    """A `SceneRenderer` over a loaded diffusers text-to-video pipeline and its catalogue entry."""

    def __init__(self, pipe, model: ModelEntry, *, device: str = "cpu", steps: int | None = None,
                 guidance: float | None = None, tier: int | None = None, settings: dict[str, Any] | None = None,
                 adapters: Mapping[str, AdapterSpec | Mapping | str] | None = None, offline: bool = False):
        if model.task != "t2v":
            raise ConfigError(f"{model.name} is a {model.task!r} model, not text-to-video (t2v)")
        self.steps = model.steps if steps is None else int(steps)
        self.guidance = model.guidance if guidance is None else float(guidance)
        if self.steps < 1:
            raise ConfigError(f"{model.name}: steps must be >= 1, got {self.steps}")
        if self.guidance < 0:
            raise ConfigError(f"{model.name}: guidance must be >= 0, got {self.guidance}")
        if settings is None:
            if tier is not None and tier not in model.vram:
                raise ConfigError(f"{model.name} has no {tier} GB tier; its tiers are {sorted(model.vram)}")
            tier, settings = (tier, dict(model.vram[tier])) if tier else model.settings_for(None)
        self.pipe, self.model, self.device = pipe, model, str(device)
        self.tier, self.settings = tier or 0, dict(settings)
        self.name = model.name
        self.offline = offline  # adapters from the hub come from the local cache only
        # format name -> the domain adapter (LoRA) active for shots of that format
        self.adapters = {fmt: AdapterSpec.parse(spec, fmt) for fmt, spec in (adapters or {}).items()}
        # Shots are rendered from several threads; one pipeline (scheduler state, GPU memory) runs one at a time.
        self._lock = threading.Lock()
        self._released = False  # release() moved the pipeline off the GPU; render() puts it back
        self._twin = None  # the image- or video-to-video twin for long shots, from the same components on first need

    def cache_token(self) -> str:
        w, h = self.model.size
        token = (f"t2v-{VERSION}:{self.model.id}:{w}x{h}:steps={self.steps}:guidance={self.guidance:g}"
                 f":{self.settings.get('dtype', 'float32')}")
        if self.model.call:  # model-specific call arguments change the frames too
            token += f":{sorted(self.model.call.items())}"
        return "|".join([token, *(f"{fmt}={spec.token()}" for fmt, spec in sorted(self.adapters.items()))])

    def render(self, shot: Shot, ctx: RenderContext, out: Path) -> Clip:
        # 1. Check inputs
        self.check_inputs(shot, ctx)

        # 2. Prompt
        prompt, negative_prompt = shot_prompts(shot, ctx)

        # 3. Size and frames: the film's aspect at the model's pixel count; the shot's length at the rate we generate
        width, height = generation_size(self.model, ctx.format, ctx.upscale)
        # --interpolate N: generate 1/N of the frames; the interpolator makes the rest (write_clip)
        rate = generation_rate(self.model, Fraction(ctx.fps) / max(1, ctx.interpolate))
        seconds = ctx.frames / ctx.fps
        num_frames = model_frames(replace(self.model, fps=rate), float(seconds))

        # 4. Motion control: the model's own knobs, named in the catalogue; in words for models without any
        controls = motion_controls(self.model, shot.motion, rate)
        if not controls:
            prompt = _join([prompt, motion_words(shot.motion)])

        # 5. Generate (a fresh generator per attempt, so a retry after OOM makes the same shot)
        kwargs = dict(prompt=prompt, negative_prompt=negative_prompt, width=width, height=height,
                      num_frames=num_frames, num_inference_steps=self.steps, guidance_scale=self.guidance,
                      output_type="np", **self.model.call, **controls)
        video = to_uint8_frames(self._generate(kwargs, ctx.seed, shot, ctx, self.adapters.get(ctx.format.name)))

        # 5b. Long shot (StreamingT2V): longer than one call -> continue in conditioned, blended chunks
        wanted = math.ceil(float(seconds) * rate)
        if wanted > len(video) and self.can_extend():
            try:
                video = self._extend(video, wanted, prompt, negative_prompt, (width, height), controls, ctx.seed)
            except Exception as exc:  # noqa: BLE001 - the continuation fails like a shot does: one clear line
                self._raise_unless_oom(exc, shot, ctx)
                raise self._oom_error(shot, ctx, exc.with_traceback(None), [self.tier], self.tier,
                                      self.settings) from None

        # 6. Write: scaled, retimed and cut or held to exactly ctx.frames
        return write_clip(video, rate, ctx, out)

    def _extend(self, video, wanted: int, prompt: str, negative: str, size, controls, seed: int):
        """Continue the first chunk with the model's image-to-video twin (or else its video-to-video
        twin), built from the same loaded components: no second copy of the weights."""
        import diffusers

        from .extend import (DiffusersImageToVideoGenerator, DiffusersVideoToVideoGenerator,
                             FlowLatentVideoToVideoGenerator, continuation_overlap, extend)

        chunk = self.model.max_frames
        twin = self.model.i2v_pipeline or self.model.v2v_pipeline
        if twin and self._twin is None:
            self._twin = getattr(diffusers, twin)(**{k: v for k, v in self.pipe.components.items()
                                                     if k in _init_params(getattr(diffusers, twin))})
            self._twin.set_progress_bar_config(disable=True)
        # every chunk is called as the first was: the same guidance and model-specific arguments
        call = {"guidance_scale": self.guidance, **self.model.call, **controls}
        if self.model.i2v_pipeline:
            gen = DiffusersImageToVideoGenerator(self._twin, size=size, steps=self.steps, multiple=self.model.multiple,
                                                 legal_frames=self.model.legal_frames, negative_prompt=negative,
                                                 device=self.device, call_kwargs=call)
        elif self.model.v2v_pipeline:
            gen = DiffusersVideoToVideoGenerator(self._twin, size=size, steps=self.steps,
                                                 legal_frames=self.model.legal_frames, negative_prompt=negative,
                                                 call_kwargs=call)
        else:  # the text-to-video pipeline itself, started from the encoded frames (HunyuanVideo)
            gen = FlowLatentVideoToVideoGenerator(self.pipe, size=size, steps=self.steps,
                                                  legal_frames=self.model.legal_frames, negative_prompt=negative,
                                                  call_kwargs=call)
        with self._lock:
            try:
                return extend(gen, prompt, wanted, chunk_frames=chunk, overlap=continuation_overlap(chunk), seed=seed,
                              first=to_uint8_frames(video))
            finally:
                if hasattr(self.pipe, "maybe_free_model_hooks"):
                    self.pipe.maybe_free_model_hooks()  # the twin has no offload hooks of its own

    def release(self) -> None:
        """Give the GPU back (the film's other models load after the shots: scene bridges). The next
        render puts the pipeline back where its tier says."""
        with self._lock:
            if self.device.startswith("cuda") and not self._released:
                if self.settings.get("offload", "none") == "none":
                    self.pipe.to("cpu")
                elif hasattr(self.pipe, "maybe_free_model_hooks"):
                    self.pipe.maybe_free_model_hooks()
                free_gpu_memory()
            self._released = True

    def can_extend(self) -> bool:
        """A long shot can be continued: an image- or video-to-video sibling of the same weights, or a
        pipeline that starts from given latents on a given schedule."""
        if self.model.i2v_pipeline or self.model.v2v_pipeline:
            return True
        return {"latents", "sigmas"} <= set(inspect.signature(self.pipe.__call__).parameters)

    def check_inputs(self, shot: Shot, ctx: RenderContext) -> None:
        width, height = ctx.size
        if ctx.frames < 1:
            raise RenderError(f"shot {shot.id}: cannot render {ctx.frames} frames", stage="render", scene=ctx.scene.id)
        if width % 2 or height % 2:
            raise RenderError(f"shot {shot.id}: frame size {width}x{height} must be even for yuv420p",
                              stage="render", scene=ctx.scene.id)
        if not (shot.prompt or shot.description).strip():
            raise RenderError(f"shot {shot.id}: empty prompt and description", stage="render", scene=ctx.scene.id)

    def _generate(self, kwargs: dict[str, Any], seed: int, shot: Shot, ctx: RenderContext,
                  adapter: AdapterSpec | None = None):
        with self._lock:
            if self._released:
                apply_memory(self.pipe, self.settings, self.device)
                self._released = False
            apply_adapter(self.pipe, adapter, offline=self.offline)  # the format's look; twins share it
            try:
                return self._call(kwargs, seed)
            except Exception as exc:  # noqa: BLE001 - sorted below: OOM retries, the rest becomes a RenderError
                self._raise_unless_oom(exc, shot, ctx)
                # Drop the traceback: its frames hold the failed call's GPU tensors, which the retry needs.
                first = exc.with_traceback(None)
            failed_tier, failed_settings = self.tier, self.settings
            lower = self.model.lower_tier(self.tier)
            if lower is None:
                raise self._oom_error(shot, ctx, first, [failed_tier], failed_tier, failed_settings) from first
            # Later shots keep the lower tier: the one that OOMed will not fit them either.
            free_gpu_memory()
            self.tier, self.settings = lower
            apply_memory(self.pipe, self.settings, self.device)
            try:
                return self._call(kwargs, seed)
            except Exception as exc:  # noqa: BLE001
                self._raise_unless_oom(exc, shot, ctx)
                raise self._oom_error(shot, ctx, exc, [failed_tier, self.tier], self.tier, self.settings) from exc

    def _call(self, kwargs: dict[str, Any], seed: int):
        import torch

        # A CPU generator: the same seed gives the same noise on any device.
        generator = torch.Generator(device="cpu").manual_seed(seed)
        return self.pipe(**kwargs, generator=generator).frames

    def _raise_unless_oom(self, exc: Exception, shot: Shot, ctx: RenderContext) -> None:
        if is_out_of_memory(exc):
            return
        raise RenderError(f"{self.name} failed on shot {shot.id}: {type(exc).__name__}: {exc}", stage="render",
                          scene=ctx.scene.id) from exc

    def _oom_error(self, shot: Shot, ctx: RenderContext, exc: Exception, tiers: list[int], tier: int,
                   settings: dict[str, Any]) -> RenderError:
        tried = " and again at ".join(f"the {t} GB tier" for t in tiers)
        return RenderError(f"{self.name} ran out of GPU memory on shot {shot.id} at {tried}: "
                           f"{memory_advice(self.model, tier, settings)}", stage="render", scene=ctx.scene.id,
                           stderr=str(exc).splitlines()[0] if str(exc) else None)


def _init_params(cls) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters)


def shot_prompts(shot: Shot, ctx: RenderContext) -> tuple[str, str]:
    """(prompt, negative prompt) for a shot: its visual prompt (or description with the characters'
    fixed looks), the camera move in words, the format's style; the shot's and format's negatives."""
    text = shot.prompt or shot.description
    looks = [c.description for c in ctx.screenplay.characters
             if c.name in shot.characters and c.description.lower() not in text.lower()]
    camera = CAMERA_WORDS.get(shot.camera, "")
    prompt = _join([text, *looks, camera, ctx.format.style_prompt])
    negative = _join([shot.negative_prompt, ctx.format.negative_prompt])
    if "text" not in negative.lower():
        negative = _join([negative, NO_TEXT])
    return prompt, negative


def _join(parts: list[str]) -> str:
    """Comma-joined, without empty parts or a phrase said twice."""
    seen, out = set(), []
    for part in parts:
        for phrase in (p.strip() for p in part.split(",")):
            if phrase and phrase.lower() not in seen:
                seen.add(phrase.lower())
                out.append(phrase)
    return ", ".join(out)


def memory_advice(model: ModelEntry, tier: int, settings: dict[str, Any]) -> str:
    """The one setting to change after running out of memory at `tier`."""
    lower = model.lower_tier(tier)
    if lower is not None:
        return f"use a lower tier: --vram {lower[0]}"
    if settings.get("offload") != "sequential":
        return (f"enable offload: set `offload: sequential` (and `vae_tiling: true`) for {model.name}'s "
                f"{tier} GB tier in configs/models.yaml")
    return "it does not fit even fully offloaded: render at draft size (--draft) or with shorter shots"


# Factories: one renderer name per text-to-video entry of the catalogue ---------------------------------
def _factory(name: str):
    def create(*, pipe=None, model: ModelEntry | None = None, model_path: str | None = None, offline: bool = False,
               device: str | None = None, vram_gb: float | None = None, steps: int | None = None,
               guidance: float | None = None, adapters: Mapping[str, Any] | None = None,
               config: Mapping[str, Any] | None = None, **_options) -> TextToVideoRenderer:
        """`pipe` given: use it as is (tests, or a caller sharing components). Otherwise load the
        weights once, in the dtype and with the offload of the tier this GPU fits. `adapters`
        (format -> LoRA) or else the run `config`'s and the format presets' name the domain adapters."""
        model = model or entry(name)
        adapters = adapters if adapters is not None else adapters_for(model.name, config)
        if pipe is not None:
            return TextToVideoRenderer(pipe, model, device=device or str(getattr(pipe, "device", "cpu")),
                                       steps=steps, guidance=guidance, adapters=adapters)
        device = device or _default_device()
        on_gpu = device.startswith("cuda")
        tier, settings = model.settings_for((vram_gb if vram_gb is not None else detect_vram_gb()) if on_gpu else None)
        pipe = load_pipeline(model, source=model_path, offline=offline, dtype=settings.get("dtype"))
        apply_memory(pipe, settings, device)
        pipe.set_progress_bar_config(disable=True)
        return TextToVideoRenderer(pipe, model, device=device, steps=steps, guidance=guidance, tier=tier,
                                   settings=settings, adapters=adapters, offline=offline)

    create.__name__ = f"create_{name.replace('-', '_').replace('.', '_')}"
    return create


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


T2V_MODELS = tuple(name for name, m in catalogue().items() if m.task == "t2v")
for _name in T2V_MODELS:
    register_renderer(_name)(_factory(_name))


# The `moviefactory models` table --------------------------------------------------------------------
def describe_models(cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every catalogue model as a row, with `installed`: its weights are in the local HF cache
    (or at its local path). Reads the disk only; never the network."""
    rows = []
    for m in catalogue().values():
        rows.append({
            "name": m.name, "task": m.task, "pipeline": m.pipeline, "size": f"{m.size[0]}x{m.size[1]}",
            "max_frames": m.max_frames, "fps": m.fps, "vram_gb": sorted(m.vram), "download_gb": m.download_gb,
            "installed": weights_installed(m, cache_dir),
        })
    return rows
