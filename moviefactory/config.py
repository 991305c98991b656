"""Format presets (configs/formats/*.yaml) and run settings (configs/default.yaml + --config)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .resources import configs_dir


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
    return sorted(p.stem for p in (configs_dir() / "formats").glob("*.yaml"))


def load_format(name: str, *, draft: bool = False, upscale: int = 1) -> Format:
    path = configs_dir() / "formats" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown format {name!r}; choose one of: {', '.join(format_names())}")
    data = _read_yaml(path)
    try:
        fmt = Format.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    fmt = fmt.upscaled_by(upscale)
    return fmt.drafted() if draft else fmt


@dataclass(frozen=True)
class Settings:
    """Run settings after merging configs/default.yaml, a --config file and command-line flags."""

    output_dir: Path = Path("runs")  # where run directories go
    format: str = "widescreen"  # preset name in configs/formats/
    language: str = "auto"  # 'en', 'zh' or 'auto' (from the theme's script)
    scenes: int | None = None  # number of scenes; None lets the writer decide from `seconds`
    seconds: float = 45.0  # target film length
    seed: int = 7  # drives every random choice, so a run is reproducible
    draft: bool = False  # render at the preset's draft_scale
    writer: str = "auto"  # screenwriter registry name; auto: 'llm' when one is configured, else 'offline'
    llm_model: str | None = None  # model name on the OpenAI-compatible server (--llm)
    llm_base_url: str | None = None  # server URL (--llm-base-url); None: OPENAI_BASE_URL or api.openai.com
    renderer: str = "animatic"  # scene renderer registry name
    tts: str = "espeak"  # speech backend registry name
    voice: str | None = None  # the narrator's voice id for that engine (None: the screenplay's choice)
    music: str = "default"  # music library: 'default', 'none', or an index folder made by `music index`
    sfx: str = "default"  # sound-effect library: 'default', 'none', or an index folder
    ffmpeg: str | None = None  # ffmpeg binary; None: imageio-ffmpeg's
    workers: int | None = None  # parallel shot renders; None: CPU count
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific keys, passed through

    def with_overrides(self, **overrides: Any) -> "Settings":
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "output_dir" in clean:
            clean["output_dir"] = Path(clean["output_dir"])
        return replace(self, **clean)

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, os.cpu_count() or 1)

    def cache_view(self) -> dict[str, Any]:
        """The settings that change what a run makes (they go into the run id)."""
        return {
            "format": self.format, "language": self.language, "scenes": self.scenes,
            "seconds": self.seconds, "seed": self.seed, "draft": self.draft, "writer": self.writer,
            "llm_model": self.llm_model, "llm_base_url": self.llm_base_url,
            "renderer": self.renderer, "tts": self.tts, "voice": self.voice, "music": self.music, "sfx": self.sfx,
            "extra": _without_secrets(self.extra),
        }


_SECRET = ("key", "secret", "token", "password")


def _without_secrets(value: Any) -> Any:
    """Config values fit for run files: anything named like a credential is dropped."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not any(s in str(k).lower() for s in _SECRET)
                or str(k).lower().endswith("_env")}
    return value


_FIELDS = {f for f in Settings.__dataclass_fields__ if f != "extra"}


def load_settings(config_file: Path | None = None) -> Settings:
    data = _read_yaml(configs_dir() / "default.yaml")
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")
        user = _read_yaml(config_file)
        if not isinstance(user, dict):
            raise ConfigError(f"{config_file}: expected a mapping of settings")
        data.update(user)
    known = {k: v for k, v in data.items() if k in _FIELDS}
    extra = {k: v for k, v in data.items() if k not in _FIELDS}
    try:
        settings = Settings(**known, extra=extra)
        settings = settings.with_overrides(output_dir=settings.output_dir)
        if settings.seconds is not None and not (5 <= float(settings.seconds) <= 3600):
            raise ConfigError(f"seconds must be between 5 and 3600, got {settings.seconds}")
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from None
    return settings


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
