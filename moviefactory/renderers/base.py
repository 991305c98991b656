"""The scene-renderer seam: a Protocol, the context a renderer gets, and a registry by name."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from ..config import Format
from ..media.clip import Clip
from ..registry import Registry
from ..screenplay import Scene, Screenplay, Shot


@dataclass(frozen=True)
class RenderContext:
    """Everything a renderer may read besides the shot itself. Nothing here is mutable."""

    screenplay: Screenplay
    scene: Scene
    format: Format  # size, fps, style/negative prompts, intermediate encoder settings
    seed: int  # per-shot seed, already derived from the run seed and the shot id
    ffmpeg: str  # path of the ffmpeg binary to use
    frames: int  # exact number of frames to produce
    scene_index: int = 0  # 0-based position of the scene in the film
    shot_index: int = 0  # 0-based position of the shot in its scene
    upscale: int = 1  # generated frames are super-resolved by this factor before they are fitted (--upscale)
    upscaler: str = "ffmpeg-lanczos"  # Upscaler registry name
    interpolate: int = 1  # generated frames are multiplied by this factor, at that many times the rate
    interpolator: str = "ffmpeg-minterpolate"  # Interpolator registry name
    upscale_weights: str | None = None  # a learned upscaler's weights file (spandrel)
    interpolate_weights: str | None = None  # a learned interpolator's weights file (rife)
    # how a renderer that waits on a server says where it is ("comfyui 12/30"), shown in the progress display
    report: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    @property
    def fps(self) -> Fraction:
        return self.format.frame_rate

    @property
    def size(self) -> tuple[int, int]:
        return self.format.width, self.format.height


@dataclass(frozen=True)
class Prompts:
    prompt: str
    negative: str


def keyframe_prompts(shot: Shot, ctx: RenderContext) -> Prompts:
    """Character bible (verbatim, for the characters in the shot) + what the shot shows + the
    format's style; the negative prompt joins the shot's and the format's."""
    bible = {c.name: c.description for c in ctx.screenplay.characters}
    parts = [bible[name] for name in shot.characters if name in bible]
    parts += [shot.prompt or shot.description, ctx.format.style_prompt]
    negative = [shot.negative_prompt, ctx.format.negative_prompt]
    return Prompts(", ".join(p for p in parts if p), ", ".join(n for n in negative if n))


@runtime_checkable
class SceneRenderer(Protocol):
    """Makes one shot. Writes a video-only file at `out` (the caller picks a temp name and renames)."""

    name: str

    def cache_token(self) -> str:
        """What, besides the shot and context, changes this renderer's output (model id, version)."""
        ...

    def render(self, shot: Shot, ctx: RenderContext, out: Path) -> Clip: ...


def shot_source(renderer: SceneRenderer, shot: Shot, screenplay: Screenplay) -> tuple[str, str]:
    """The shot file's suffix and what, besides the shot, it is made from. Renderers that choose a
    source per shot (a photo or a clip from a folder, a stock item) say so with `source_for`; the
    others make every shot the same way (`suffix`, default .mp4)."""
    source_for = getattr(renderer, "source_for", None)
    if callable(source_for):
        return source_for(shot, screenplay)
    return getattr(renderer, "suffix", ".mp4"), ""


def release_renderer(renderer: SceneRenderer) -> None:
    """Let a renderer give back the memory it holds (GPU renderers have `release()`; others need not)."""
    release = getattr(renderer, "release", None)
    if callable(release):
        release()


_REGISTRY: Registry = Registry("renderer", ("moviefactory.renderers.animatic", "moviefactory.renderers.diffusion.t2v",
                                           "moviefactory.renderers.diffusion.keyframe",
                                           "moviefactory.renderers.pictures.footage",
                                           "moviefactory.renderers.pictures.openai_images",
                                           "moviefactory.renderers.pictures.stock",
                                           "moviefactory.renderers.pictures.comfyui",
                                           "moviefactory.renderers.diffusion.turbo"))
register_renderer = _REGISTRY.register
renderer_names = _REGISTRY.names
create_renderer = _REGISTRY.create
