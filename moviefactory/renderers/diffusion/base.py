"""What every diffusion backend shares: the model catalogue, sizes, memory tiers, loading, and
turning generated frames into a shot file of exactly the frames, size and rate the film wants.

torch and diffusers are imported inside functions: the CPU default path never loads them.
"""
from __future__ import annotations

import json
import functools
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ...config import Format
from ...errors import ConfigError, MissingDependencyError
from ...media.frames import write_blocks
from ...resources import config_path
from ..base import Clip, RenderContext
from .memory import apply_memory, detect_vram_gb

TIERS = (12, 24, 48, 80)


@dataclass(frozen=True)
class ModelEntry:
    name: str  # catalogue key and renderer name, e.g. 'ltx-video'
    id: str  # hub id (or a local path) for from_pretrained
    pipeline: str  # diffusers class name
    task: str  # t2v | i2v | t2i | i2i | v2v | flf2v
    size: tuple[int, int]  # native (width, height), landscape
    multiple: int  # width and height must divide by this
    max_frames: int  # frames one call can make
    frame_rule: tuple[int, int]  # frames = a*k + b
    fps: int  # the rate the model was trained at (0 for image models)
    steps: int
    guidance: float
    download_gb: float
    vram: dict[int, dict[str, Any]]
    i2v_pipeline: str | None = None  # the same weights continuing from a frame (long shots)
    v2v_pipeline: str | None = None  # the same weights re-denoising a video (long shots without an i2v twin)
    motion: dict[str, Any] = field(default_factory=dict)
    call: dict[str, Any] = field(default_factory=dict)  # extra arguments for every call of the pipeline

    def legal_frames(self, wanted: int) -> int:
        """The smallest frame count the model accepts that is >= wanted (capped at max_frames)."""
        a, b = self.frame_rule
        if a <= 1:
            return max(1, min(wanted, self.max_frames))
        k = max(0, math.ceil((wanted - b) / a))
        return min(a * k + b, self.max_frames)

    def settings_for(self, vram_gb: float | None) -> tuple[int, dict[str, Any]]:
        """The memory tier for a GPU of `vram_gb`; None is the CPU: tier 0, full precision, no offload."""
        if vram_gb is None:
            return 0, {"offload": "none", "dtype": "float32"}
        tiers = sorted(self.vram)
        # A "24 GB" card reports ~22.5 GiB to torch (an "80 GB" one ~79.2): allow for the difference.
        fitting = [t for t in tiers if t <= vram_gb * 1.1]
        tier = fitting[-1] if fitting else tiers[0]
        return tier, dict(self.vram[tier])

    def lower_tier(self, tier: int) -> tuple[int, dict[str, Any]] | None:
        lower = [t for t in sorted(self.vram) if t < tier]
        return (lower[-1], dict(self.vram[lower[-1]])) if lower else None


@cache
def catalogue() -> dict[str, ModelEntry]:
    data = yaml.safe_load(config_path("models.yaml").read_text(encoding="utf-8"))
    out = {}
    for name, e in data.items():
        e = dict(e)
        e["size"], e["frame_rule"] = tuple(e["size"]), tuple(e["frame_rule"])
        e["vram"] = {int(k): v for k, v in e["vram"].items()}
        out[name] = ModelEntry(name=name, **e)
    return out


def entry(name: str) -> ModelEntry:
    models = catalogue()
    if name not in models:
        raise ConfigError(f"unknown model {name!r}; see `moviefactory models`: {', '.join(sorted(models))}")
    return models[name]


def generation_size(model: ModelEntry, fmt: Format, upscale: int = 1) -> tuple[int, int]:
    """The format's aspect at about the model's native pixel count, in multiples the model accepts.

    A vertical film gets a vertical generation (not a crop of a landscape one), a 2.39:1 film a
    wide one, so clips look like their domain. When the frames will be super-resolved by `upscale`,
    the generation is the film's size divided by it (widescreen x4: 768x320 for 3072x1280).
    """
    m = model.multiple
    if upscale > 1:
        w, h = fmt.width / upscale, fmt.height / upscale
    else:
        area = model.size[0] * model.size[1]
        aspect = fmt.width / fmt.height
        h = math.sqrt(area / aspect)
        w = h * aspect
    return max(m, round(w / m) * m), max(m, round(h / m) * m)


def model_frames(model: ModelEntry, seconds: float) -> int:
    """Frames to ask the model for to cover `seconds` at its own rate (one call's worth at most)."""
    return model.legal_frames(max(1, math.ceil(seconds * (model.fps or 1))))


def weights_installed(model: ModelEntry, cache_dir: str | Path | None = None) -> bool:
    """True when model_index.json and a folder for each component it names are on disk."""
    local = Path(model.id).expanduser()
    if local.is_dir():
        index = local / "model_index.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model.id, "model_index.json", cache_dir=str(cache_dir) if cache_dir else None)
        if not isinstance(found, str):
            return False
        index = Path(found)
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # A download cut short leaves the index without every component folder.
    return all((index.parent / key).is_dir() for key, value in components.items()
               if not key.startswith("_") and isinstance(value, list) and value[0] is not None)


def renderer_models(renderer: str) -> list[ModelEntry]:
    """The catalogue models a renderer name loads: 'ltx-video' -> [ltx-video], 'sdxl+svd' -> [sdxl, svd]."""
    models = catalogue()
    names = renderer.split("+")
    return [models[n] for n in names] if all(n in models for n in names) else []


def check_weights(renderer: str, *, model_path: str | Path | None = None, offline: bool = False) -> None:
    """Fail before any work when a renderer's weights cannot be there: a --model-path without them,
    or --offline with nothing in the local cache. (Online, from_pretrained may still download.)"""
    models = renderer_models(renderer)
    for model in models:
        if model_path is not None:
            where = Path(model_path) if len(models) == 1 else Path(model_path) / model.name
            if (where / "model_index.json").is_file():
                continue
            raise MissingDependencyError(missing_message(model, str(where), "no model_index.json there"))
        if offline and not weights_installed(model):
            raise MissingDependencyError(missing_message(model, model.id, "not in the local cache"))


def missing_message(model: ModelEntry, where: str, why: str) -> str:
    return (f"{model.name} weights are not available ({where}): download them once with "
            f"`hf download {model.id}` (about {model.download_gb:g} GB), or point to a local copy "
            f"with --model-path DIR; --offline never touches the network ({why[:120]})")


def load_pipeline(model: ModelEntry, *, source: str | None = None, offline: bool = False,
                  dtype: str | None = None, image_to_video: bool = False, video_to_video: bool = False):
    """`from_pretrained` on the hub id or a local copy; missing weights say what to download."""
    try:
        import diffusers
        import torch
    except ImportError:
        raise MissingDependencyError("diffusion renderers need torch and diffusers: pip install torch diffusers "
                                     "transformers accelerate") from None
    import transformers

    # Library chatter (loading bars, prompt-truncation notes) is not the user's business: our own
    # progress display says what is happening.
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    cls_name = (model.i2v_pipeline if image_to_video and model.i2v_pipeline else
                model.v2v_pipeline if video_to_video and model.v2v_pipeline else model.pipeline)
    cls = getattr(diffusers, cls_name)
    kwargs: dict[str, Any] = {"local_files_only": offline}
    if dtype:
        kwargs["torch_dtype"] = getattr(torch, dtype)
    where = source or model.id
    try:
        with warnings.catch_warnings():
            # diffusers 0.42 renames torch_dtype to dtype; older releases know only torch_dtype.
            warnings.simplefilter("ignore", FutureWarning)
            return cls.from_pretrained(where, **kwargs)
    except (OSError, EnvironmentError) as exc:
        raise MissingDependencyError(missing_message(model, where, first_line(exc))) from None
    except ValueError as exc:  # weights missing, or something else wrong with the folder (wrong model, ...)
        if re.search(r"not found|does not exist|cannot find|can't find|no such file|local_files_only|offline|"
                     r"snapshot|does not appear to have|neither a valid local path", str(exc), re.I):
            raise MissingDependencyError(missing_message(model, where, first_line(exc))) from None
        raise ConfigError(f"{model.name} cannot be loaded from {where}: {first_line(exc)[:200]}") from None


def load_for_device(model: ModelEntry, *, source: str | None = None, offline: bool = False,
                    device: str | None = None, vram_gb: float | None = None, **which: bool):
    """`load_pipeline` at the memory tier of this GPU (or full precision on the CPU), placed and quiet:
    (pipe, tier settings, device). `which`: image_to_video / video_to_video, to load a twin class."""
    if vram_gb is None and device is None:
        vram_gb = detect_vram_gb()
    device = device or ("cuda" if vram_gb else "cpu")
    _, settings = model.settings_for(vram_gb)
    pipe = load_pipeline(model, source=source, offline=offline, dtype=settings.get("dtype"), **which)
    apply_memory(pipe, settings, device)
    pipe.set_progress_bar_config(disable=True)
    return pipe, settings, device


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def to_uint8_frames(frames: Any) -> np.ndarray:
    """Pipeline output (np floats in [0,1], PIL images, or a list of them) -> (T, H, W, 3) uint8."""
    if isinstance(frames, np.ndarray) and frames.ndim == 5:
        frames = frames[0]
    if isinstance(frames, list) and frames and isinstance(frames[0], list):
        frames = frames[0]
    if isinstance(frames, list):
        frames = np.stack([np.asarray(f) for f in frames])
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[None]
    return arr[..., :3]


_POST_LOCK = threading.Lock()  # shots render on several threads; a learned model loads once


@functools.lru_cache(maxsize=4)
def _post_model(kind: str, name: str, weights: str | None):
    from ..upscale import create_interpolator, create_upscaler

    create = create_upscaler if kind == "upscaler" else create_interpolator
    return create(name, weights=weights) if weights else create(name)


def post_model(kind: str, name: str, weights: str | None):
    """An upscaler or interpolator by registry name, loaded once per process (learned ones read weights)."""
    with _POST_LOCK:
        return _post_model(kind, name, weights)


post_model.cache_clear = _post_model.cache_clear  # type: ignore[attr-defined]


def write_clip(frames: np.ndarray, source_fps: float, ctx: RenderContext, out: Path, *,
               chunk: int = 16) -> Clip:
    """Encode generated frames as the shot: scaled to the film's size, retimed to its rate, and cut
    or held to exactly `ctx.frames` frames.

    With --interpolate the in-betweens are made first, at the generated size (cheap); with --upscale
    the frames are super-resolved `chunk` at a time on their way into the encoder, so a 3072x1280
    shot never sits in memory whole. What remains of the fit is lanczos in ffmpeg."""
    frames = to_uint8_frames(frames)
    if ctx.interpolate > 1 and len(frames) > 1:
        frames = post_model("interpolator", ctx.interpolator, ctx.interpolate_weights).interpolate(frames, ctx.interpolate)
        source_fps = (source_fps or float(ctx.fps)) * ctx.interpolate
    upscaler = post_model("upscaler", ctx.upscaler, ctx.upscale_weights) if ctx.upscale > 1 else None
    width, height = ctx.size
    rate = Fraction(source_fps).limit_denominator(1001) if source_fps else ctx.fps
    fps = f"{ctx.fps.numerator}/{ctx.fps.denominator}"
    # cover-scale and crop to the film's frame, retime, and hold the last frame for as long as needed
    graph = (f"scale={width}:{height}:flags=lanczos:force_original_aspect_ratio=increase,crop={width}:{height},"
             f"fps={fps},tpad=stop_mode=clone:stop=-1,format=yuv420p")
    blocks = (frames[start:start + chunk] for start in range(0, len(frames), chunk))
    if upscaler is not None:  # lazily: once the encoder has ctx.frames, no more blocks are upscaled
        blocks = (upscaler.upscale(block, ctx.upscale) for block in blocks)
    # `out` is already the caller's temp name (SceneRenderer.render's contract): no second one
    return write_blocks(blocks, ctx.fps, out, atomic=False, ffmpeg=ctx.ffmpeg, input_fps=rate, vf=graph,
                        size=(width, height), frames=ctx.frames, crf=ctx.format.intermediate.crf,
                        preset=ctx.format.intermediate.preset, stage="render", scene=ctx.scene.id)
