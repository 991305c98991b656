"""Format presets (configs/formats/*.yaml, the user's config dir first): everything that differs between a
cinema film and a vertical short, as data."""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .resources import config_names, config_path
from .yamlfile import read_yaml


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SafeArea(_Frozen):
    left: float = Field(0.1, ge=0, lt=0.5)
    right: float = Field(0.1, ge=0, lt=0.5)
    top: float = Field(0.05, ge=0, lt=0.5)
    bottom: float = Field(0.05, ge=0, lt=0.5)


class CaptionStyle(_Frozen):
    style: Literal["subtitle", "karaoke"] = "subtitle"
    font_size: float = Field(0.05, gt=0, lt=0.3, description="Fraction of frame height.")
    bold: bool = False
    uppercase: bool = False
    primary_colour: str = "&H00FFFFFF"
    secondary_colour: str = "&H00FFFFFF"
    outline: float = 0.003
    shadow: float = 0.0
    alignment: int = Field(2, ge=1, le=9)
    position_y: float | None = None
    safe_area: SafeArea = SafeArea()
    max_lines: int = Field(2, ge=1, le=4)
    max_words: int = Field(14, ge=1)


class Encoder(_Frozen):
    video_codec: str = "libx264"
    preset: str = "veryfast"
    crf: int = Field(21, ge=0, le=51)
    pix_fmt: str = "yuv420p"
    audio_codec: str = "aac"
    audio_bitrate: str = "192k"
    sample_rate: int = 48000


class Intermediate(_Frozen):
    preset: str = "ultrafast"
    crf: int = Field(16, ge=0, le=51)


class TransitionSpec(_Frozen):
    kind: Literal["cut", "crossfade", "fade_black"] = "crossfade"
    duration: float = Field(0.5, ge=0, le=3)


class Format(_Frozen):
    """A domain preset: everything that differs between a cinema film and a vertical short."""

    name: str
    description: str = ""
    width: int = Field(..., ge=16, le=8192)
    height: int = Field(..., ge=16, le=8192)
    fps: int = Field(..., ge=1, le=120)
    draft_scale: float = Field(0.25, gt=0, le=1)
    loudness_lufs: float = Field(-23.0, ge=-40, le=-5)
    true_peak_db: float = Field(-1.0, ge=-9, le=0)
    speech_rate: float = Field(1.0, gt=0.4, le=2.0)
    style_prompt: str = ""
    negative_prompt: str = ""
    scene_transition: TransitionSpec = TransitionSpec()
    caption: CaptionStyle = CaptionStyle()
    encoder: Encoder = Encoder()
    intermediate: Intermediate = Intermediate()
    # Film size when generated frames are super-resolved by a factor (--upscale 2|4): the renderer
    # generates at this size / factor and the upscaler brings it here (MovieFactory: 768x320 -> 3072x1280).
    upscaled: dict[Literal[2, 4], tuple[int, int]] = {}
    # Domain adapters per diffusion model name: {path, weight, name} (see renderers/diffusion/adapters.py)
    adapters: dict[str, dict[str, Any]] = {}

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.fps)

    def upscaled_by(self, factor: int) -> "Format":
        """The preset for frames super-resolved by `factor`: its `upscaled` size, or its own size."""
        if factor <= 1 or factor not in self.upscaled:
            return self
        width, height = self.upscaled[factor]
        return self.model_copy(update={"width": width, "height": height})

    def drafted(self) -> "Format":
        """The same preset at draft size (even dimensions, as yuv420p needs)."""
        even = lambda v: max(16, int(round(v * self.draft_scale / 2)) * 2)  # noqa: E731
        return self.model_copy(update={"width": even(self.width), "height": even(self.height)})


def format_names() -> list[str]:
    return config_names("formats")


def load_format(name: str, *, draft: bool = False, upscale: int = 1) -> Format:
    """The preset `name` (the user's config dir first), at draft size or super-resolved size if asked."""
    path = config_path(f"formats/{name}.yaml")
    if not path.is_file():
        raise ConfigError(f"unknown format {name!r}; choose one of: {', '.join(format_names())}")
    data = read_yaml(path, "format preset")
    try:
        fmt = Format.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    fmt = fmt.upscaled_by(upscale)
    return fmt.drafted() if draft else fmt
