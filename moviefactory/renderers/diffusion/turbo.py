"""`--renderer sd-turbo | sdxl-turbo`: one-step text-to-image keyframes (diffusers, `stabilityai/sd-turbo`,
`sdxl-turbo`) on a CPU or a GPU, played with the shot's camera move.

The prompt carries the character bible (renderers.base.keyframe_prompts), and the noise of a shot with
characters is seeded by its first character's name, not the shot: the same character is drawn from the
same noise in every shot, which keeps its look steady (a one-step model follows its noise closely).
Shots without characters use the shot's own seed. torch and diffusers are imported inside functions.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from ...errors import RenderError
from ...media.camera import SUFFIX
from ...screenplay import Shot
from ..base import RenderContext, keyframe_prompts, register_renderer
from .base import ModelEntry, entry, generation_size

VERSION = 1


class TurboRenderer:
    suffix = SUFFIX

    def __init__(self, pipe, model: ModelEntry, *, device: str = "cpu") -> None:
        self.pipe, self.model, self.device = pipe, model, device
        self.name = model.name

    def cache_token(self) -> str:
        return f"turbo-{VERSION} {self.model.id} {self.model.steps} steps"

    def seed_for(self, shot: Shot, ctx: RenderContext) -> int:
        """The first character's name, else the shot's own seed (see the module's docstring)."""
        if shot.characters:
            return zlib.crc32(f"{shot.characters[0]}|{ctx.screenplay.title}".encode()) % 2**31
        return ctx.seed % 2**31

    def keyframe(self, shot: Shot, ctx: RenderContext):
        import torch

        width, height = generation_size(self.model, ctx.format)
        prompts = keyframe_prompts(shot, ctx)
        kwargs: dict[str, Any] = dict(prompt=prompts.prompt, width=width, height=height,
                                      num_inference_steps=self.model.steps, guidance_scale=self.model.guidance,
                                      generator=torch.Generator("cpu").manual_seed(self.seed_for(shot, ctx)),
                                      output_type="pil")
        if self.model.guidance > 1 and prompts.negative:  # a negative prompt needs guidance (turbo has none)
            kwargs["negative_prompt"] = prompts.negative
        try:
            with torch.inference_mode():
                return self.pipe(**kwargs).images[0]
        except RuntimeError as exc:
            raise RenderError(f"{self.name} could not paint shot {shot.id}: {str(exc).splitlines()[0][:200]}",
                              stage="render", scene=ctx.scene.id) from exc

    def render(self, shot: Shot, ctx: RenderContext, out: Path):
        from ..pictures.fit import still_shot

        return still_shot(self.keyframe(shot, ctx), shot, ctx, out)


def _factory(name: str):
    def create(*, pipe=None, model: ModelEntry | None = None, model_path: str | None = None, offline: bool = False,
               device: str | None = None, vram_gb: float | None = None, **_options) -> TurboRenderer:
        """A given pipe is used as it is (tests); else the catalogue's model loads, from --model-path when given."""
        from .keyframe import load_models
        from .memory import detect_vram_gb

        model = model or entry(name)
        if pipe is None:
            if vram_gb is None and device is None:
                vram_gb = detect_vram_gb()
            device = device or ("cuda" if vram_gb else "cpu")
            source = {model.name: model_path} if model_path else None
            pipe = load_models([model], model_path=source, offline=offline, device=device, vram_gb=vram_gb)[0][0]
        return TurboRenderer(pipe, model, device=device or "cpu")

    return create


for _name in ("sd-turbo", "sdxl-turbo"):
    register_renderer(_name)(_factory(_name))
