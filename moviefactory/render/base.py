"""The scene-renderer seam: a Protocol, the context a renderer gets, and a registry by name."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from ..config import Format
from ..errors import InputError
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

    @property
    def fps(self) -> Fraction:
        return self.format.frame_rate

    @property
    def size(self) -> tuple[int, int]:
        return self.format.width, self.format.height


@dataclass(frozen=True)
class Clip:
    """A rendered shot on disk: a video-only file of exactly `frames` frames."""

    path: Path
    frames: int
    fps: Fraction
    width: int
    height: int

    @property
    def duration(self) -> Fraction:
        return self.frames / self.fps


@runtime_checkable
class SceneRenderer(Protocol):
    """Makes one shot. Writes a video-only file at `out` (the caller picks a temp name and renames)."""

    name: str

    def cache_token(self) -> str:
        """What, besides the shot and context, changes this renderer's output (model id, version)."""
        ...

    def render(self, shot: Shot, ctx: RenderContext, out: Path) -> Clip: ...


RendererFactory = Callable[..., SceneRenderer]
_REGISTRY: dict[str, RendererFactory] = {}


def register_renderer(name: str) -> Callable[[RendererFactory], RendererFactory]:
    def add(factory: RendererFactory) -> RendererFactory:
        _REGISTRY[name] = factory
        return factory

    return add


def renderer_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create_renderer(name: str, **options) -> SceneRenderer:
    _load_builtins()
    if name not in _REGISTRY:
        raise InputError(f"unknown renderer {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def _load_builtins() -> None:
    from . import animatic  # noqa: F401  (registers itself)
