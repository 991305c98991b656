"""Every film setting, once. The CLI flags, config files, batch-file keys, `make_film(**options)`,
run.json, the run id and resume are all derived from `FilmOptions`: adding a setting is adding a field.

Each field says what it does (`help`, shown by `--help` and `moviefactory options`), and its role:
- "film": it changes what the film is, so it is part of the run id;
- "run": it changes how the film is made (where, how many workers, which ffmpeg), not what: it is
  recorded in run.json, so resume runs the same way, but two runs that differ only there are one film.

Values are layered: the defaults here, then the user's `config.yaml` (in the config dir), then a
`--config FILE`, then flags / keyword arguments. An unknown key or a wrong type is refused with the
key, where it came from (the file and line, or the flag) and, for typos, the nearest known key.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .secrets import redact

LANGUAGES = ("auto", "en", "zh", "de", "fr", "es", "ru", "...")  # for help; configs/languages.yaml has them all


def setting(default: Any, help: str, *, role: str = "film", flag: str | None = "", short: str | None = None,
            **limits: Any) -> Any:
    """A field of FilmOptions. `flag`: the CLI flag ('' derives --name from the field name; None: no flag,
    config files only, e.g. mappings). Bool flags name both sides: '--draft/--full'."""
    return Field(default, description=help, json_schema_extra={"role": role, "flag": flag, "short": short}, **limits)


class FilmOptions(BaseModel):
    """What a film is made from, besides its theme."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # --- the film ---------------------------------------------------------------------------------
    format: str = setting("widescreen", "Format preset: widescreen, vertical, ... (moviefactory formats).",
                          short="-f")
    lang: str = setting("auto", f"Language of the narration and captions: {', '.join(LANGUAGES)} (auto: from the "
                                "theme's script).")
    scenes: int | None = setting(None, "Number of scenes (default: the writer picks from --seconds).", ge=1, le=40)
    seconds: float = setting(45.0, "Target length in seconds.", ge=5, le=3600)
    seed: int = setting(7, "Random seed: same seed and settings, same film (bit for bit).")
    draft: bool = setting(False, "Render at the preset's draft size (a quarter), fast.", flag="--draft/--full")

    # --- the screenwriter -------------------------------------------------------------------------
    writer: str = setting("auto", "Screenwriter: auto (llm when a model server is configured, else offline), llm, "
                                  "offline.")
    llm: str | None = setting(None, "Model on the OpenAI-compatible server, e.g. gpt-4o-mini, qwen2.5:14b "
                                    "(else $MOVIEFACTORY_LLM).")
    llm_base_url: str | None = setting(None, "OpenAI-compatible server, e.g. http://localhost:11434/v1 (else "
                                             "$OPENAI_BASE_URL). The key is read from $OPENAI_API_KEY only.")
    llm_temperature: float = setting(0.7, "Sampling temperature of the screenwriter.", ge=0, le=2)
    llm_max_tokens: int | None = setting(None, "Longest reply the model may write, in tokens (default: the "
                                               "server's).", ge=16)
    llm_max_repairs: int = setting(2, "Re-asks after a reply fails validation.", ge=0, le=10)
    llm_timeout: float = setting(120.0, "Seconds per request to the model server.", role="run", gt=0)
    llm_max_retries: int = setting(3, "Retries of timeouts, 429 and 5xx, with exponential backoff.", role="run",
                                   ge=0, le=20)

    # --- pictures ---------------------------------------------------------------------------------
    renderer: str = setting("animatic", "Scene renderer: animatic (CPU), footage (--media: your photos and "
                                        "clips), stock (Pexels, Pixabay), comfyui, openai-images (an image "
                                        "server), sd-turbo, or a diffusion model (moviefactory models).")
    model_path: Path | None = setting(None, "A local copy of the renderer's model weights.")
    media: Path | None = setting(None, "--renderer footage: your folder of photos and clips (only read; "
                                       "moviefactory media index FOLDER shows what it sees).")
    clip_model: Path | None = setting(None, "--renderer footage or stock: a local CLIP model folder (transformers); "
                                            "pictures are then also matched by what they show.")
    credits: str = setting("none", "Credits for the pictures: none (credits.txt and report.json only), or end "
                                   "(also an end card in the film).")
    stock: str = setting("pexels", "--renderer stock: the library, pexels ($PEXELS_API_KEY) or pixabay "
                                   "($PIXABAY_API_KEY).")
    pexels_base_url: str | None = setting(None, "Pexels' API root (default https://api.pexels.com).")
    pixabay_base_url: str | None = setting(None, "Pixabay's API root (default https://pixabay.com).")
    comfyui_url: str | None = setting(None, "--renderer comfyui: the ComfyUI server (default http://127.0.0.1:8188).")
    workflow: str | None = setting(None, "--renderer comfyui: a workflow in ComfyUI's API format with its .yaml "
                                         "mapping beside it, or a built-in one: sdxl-still.json, wan-t2v.json.")
    images_base_url: str | None = setting(None, "--renderer openai-images: an OpenAI-compatible image server, "
                                                "e.g. http://localhost:8080/v1 (default: OpenAI's).")
    images_model: str = setting("gpt-image-1", "--renderer openai-images: the image model, e.g. gpt-image-1, "
                                               "dall-e-3, or the server's own.")
    images_api_key_env: str = setting("OPENAI_API_KEY", "The environment variable holding the image server's key "
                                                        "(the key itself is never stored).", role="run")
    vram: float | None = setting(None, "GPU memory in GB: picks the memory tier (offload, tiling).", gt=0)
    offline: bool = setting(False, "Never touch the network for model weights.", role="run",
                            flag="--offline/--online")
    upscale: int = setting(1, "Super-resolve generated frames x2 or x4 (widescreen x4: a 3072x1280 film).")
    upscaler: str = setting("ffmpeg-lanczos", "Super-resolution: ffmpeg-lanczos, or spandrel (--upscale-weights).")
    upscale_weights: Path | None = setting(None, "Weights for a learned upscaler (a Real-ESRGAN-family .pth).")
    interpolate: int = setting(1, "Interpolate generated frames x2 or x4.")
    interpolator: str = setting("ffmpeg-minterpolate", "Frame interpolation: ffmpeg-minterpolate, or rife "
                                                       "(--interpolate-weights).")
    interpolate_weights: Path | None = setting(None, "Weights for rife (flownet.pkl or its train_log folder).")
    transitions: str | None = setting(None, "Generate scene transitions with a first-and-last-frame model "
                                            "(wan2.1-flf2v) instead of fading.")
    transitions_path: Path | None = setting(None, "A local copy of the transitions model's weights.")
    adapter: str | dict[str, Any] | None = setting(None, "A LoRA domain adapter for every format: a path or hub "
                                                         "id (config: {path, weight, name}).")
    adapters: dict[str, Any] = setting({}, "LoRA adapters per format name: {widescreen: {path, weight}} (config "
                                           "files only).", flag=None)

    # --- sound ------------------------------------------------------------------------------------
    tts: str = setting("auto", "Speech engine (moviefactory voices): auto is Piper where it has a voice for the "
                               "language, espeak-ng otherwise.")
    voice: str | None = setting(None, "The narrator's voice id for that engine (default: the screenplay's).")
    tts_base_url: str | None = setting(None, "OpenAI-compatible speech server for --tts openai, e.g. "
                                             "http://localhost:8880/v1 (default: OpenAI's).")
    tts_model: str = setting("tts-1", "Speech model for --tts openai: tts-1, gpt-4o-mini-tts, kokoro, ...")
    tts_api_key_env: str = setting("OPENAI_API_KEY", "The environment variable holding the speech server's key "
                                                     "(the key itself is never stored).", role="run")
    music: str = setting("default", "Music library: default, none, or a folder made by `moviefactory music index`.")
    sfx: str = setting("default", "Sound-effect library: default, none, or an index folder.")

    # --- running ----------------------------------------------------------------------------------
    output: Path = setting(Path("runs"), "Where run directories go.", role="run")
    workers: int | None = setting(None, "Shots rendered at once (default: the number of CPU cores).", role="run",
                                  ge=1, le=256)
    ffmpeg: str | None = setting(None, "The ffmpeg binary (default: the one imageio-ffmpeg ships).", role="run")
    config_dir: Path | None = setting(None, "Your folder of presets, prompts and config.yaml (default: "
                                            "$MOVIEFACTORY_CONFIG_DIR, else ~/.config/moviefactory).", role="run")

    @field_validator("lang")
    @classmethod
    def _language(cls, v: str) -> str:
        from .languages import languages

        known = languages()
        if v != "auto" and v not in known:
            raise ValueError(f"unknown language {v!r}; choose auto or one of {', '.join(known)}")
        return v

    @field_validator("upscale", "interpolate")
    @classmethod
    def _factor(cls, v: int) -> int:
        if v not in (1, 2, 4):
            raise ValueError("takes 2 or 4")
        return v

    @field_validator("model_path", "media", "clip_model", "upscale_weights", "interpolate_weights", "transitions_path", "config_dir")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        # the same file whatever the working directory: the run id and resume must not depend on it
        return v.expanduser().resolve() if v is not None else None

    @field_validator("workflow")
    @classmethod
    def _workflow_file(cls, v: str | None) -> str | None:
        # a file is the same file whatever the working directory; a bare name is a built-in workflow
        return str(Path(v).expanduser().resolve()) if v and Path(v).expanduser().is_file() else v

    @field_validator("credits")
    @classmethod
    def _credits(cls, v: str) -> str:
        if v not in ("none", "end"):
            raise ValueError("takes none or end")
        return v

    @field_validator("writer")
    @classmethod
    def _writer(cls, v: str) -> str:
        if v not in ("auto", "llm", "offline", "screenplay"):
            raise ValueError(f"unknown screenwriter {v!r}; choose auto, llm or offline")
        return v

    # --- what the rest of the package derives ---------------------------------------------------------
    @property
    def worker_count(self) -> int:
        import os

        return self.workers or max(1, os.cpu_count() or 1)

    def record(self) -> dict[str, Any]:
        """Every value, fit for run.json and logs: JSON types, credentials removed from URLs."""
        return redact(self.model_dump(mode="json"))

    def identity(self) -> dict[str, Any]:
        """The values that make the film what it is: these (and the theme) make the run id."""
        recorded = self.record()
        return {name: recorded[name] for name in FIELDS if FIELDS[name].role == "film"}

    @classmethod
    def from_record(cls, data: Mapping[str, Any], where: str = "run.json") -> "FilmOptions":
        return build_options([Layer(dict(data), where)])


@dataclass(frozen=True)
class FieldInfo:
    name: str
    help: str
    role: str
    flag: str | None  # the CLI flag declaration, None for config-only fields
    short: str | None
    annotation: Any
    default: Any


def _fields() -> dict[str, FieldInfo]:
    out = {}
    for name, f in FilmOptions.model_fields.items():
        extra = f.json_schema_extra or {}
        flag = extra.get("flag", "")
        if flag == "":
            flag = "--" + name.replace("_", "-")
        out[name] = FieldInfo(name, f.description or "", extra.get("role", "film"), flag, extra.get("short"),
                              f.annotation, f.default)
    return out


FIELDS: dict[str, FieldInfo] = _fields()


# --- layers: where each value came from, so an error can say so -------------------------------------
@dataclass(frozen=True)
class Layer:
    """Values from one source. `where` names it in errors ('my.yaml', 'batch.csv line 3', 'flags');
    `lines` maps a key to its line in that file."""

    values: dict[str, Any]
    where: str
    lines: Mapping[str, int] | None = None
    flags: bool = False  # the values came from command-line flags: name them as --flag

    def name(self, key: str) -> str:
        if self.flags and key in FIELDS and FIELDS[key].flag:
            return FIELDS[key].flag.split("/")[0]
        return key

    def at(self, key: str) -> str:
        line = (self.lines or {}).get(key)
        return f"{self.where} line {line}: " if line else f"{self.where}: " if self.where else ""


def build_options(layers: Iterable[Layer]) -> FilmOptions:
    """Merge layers (later ones win) and validate; the first problem becomes one ConfigError line."""
    layers = list(layers)
    merged: dict[str, Any] = {}
    origin: dict[str, Layer] = {}
    for layer in layers:
        for key, value in layer.values.items():
            if key not in FIELDS:
                raise ConfigError(f"{layer.at(key)}unknown setting {layer.name(key)!r}{_suggest(key)}")
            if value is None and FIELDS[key].default is not None and not layer.flags:
                value = FIELDS[key].default  # `key: null` in a file means the default
            merged[key], origin[key] = value, layer
    try:
        options = FilmOptions.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        layer = origin.get(key)
        message = _bounds(key) if err["type"] in _BOUNDS else err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        given = f" (got {value!r})" if "input" in err and not isinstance(value, dict) and repr(value) not in message \
            else ""
        where = f"{layer.at(key)}{layer.name(key)}" if layer else key
        raise ConfigError(f"{where}: {message}{given}") from None
    for key, check in _value_checks(options).items():  # names and files that must exist, said where they came from
        value = getattr(options, key)
        if value is not None and (problem := check(value)):
            layer = origin.get(key)
            where = f"{layer.at(key)}{layer.name(key)}" if layer else key
            raise ConfigError(f"{where}: {problem}")
    return options


def _value_checks(o: FilmOptions) -> dict[str, Any]:
    """Per field, a check of the value against what is installed here: None when it is fine, else why not."""
    from .audio import tts_names
    from .config import format_names
    from .renderers import renderer_names
    from .renderers.diffusion.base import catalogue  # light: no torch, no diffusers
    from .renderers.upscale import interpolator_names, upscaler_names
    from .resources import use_config_dir

    if o.config_dir is not None:
        if not o.config_dir.is_dir():
            return {"config_dir": lambda v: f"{v} is not a folder"}
        use_config_dir(o.config_dir)  # its presets are names too

    def one_of(kind: str, names) -> Any:
        return lambda v: None if v in names() else f"unknown {kind} {v!r}; available: {', '.join(names())}"

    def exists(v: Path) -> str | None:
        return None if v.exists() else f"{v} does not exist"

    def library(kind: str):
        def check(v: str) -> str | None:
            if v in ("default", "none", "off", "") or (Path(v).expanduser() / "index.json").is_file():
                return None
            return f"{kind} library {v!r} is not an index folder (no index.json); make one with: moviefactory {kind} index DIR"
        return check

    def first_last_frame(v: str) -> str | None:
        models = catalogue()
        if v in models and models[v].task == "flf2v":
            return None
        flf2v = ", ".join(n for n, m in models.items() if m.task == "flf2v")
        return f"takes a first-and-last-frame model ({flf2v}), not {v!r}"

    return {"format": one_of("format", format_names), "renderer": one_of("renderer", renderer_names),
            "tts": one_of("TTS engine", tts_names), "upscaler": one_of("upscaler", upscaler_names),
            "interpolator": one_of("interpolator", interpolator_names), "transitions": first_last_frame,
            "model_path": exists, "upscale_weights": exists, "interpolate_weights": exists, "transitions_path": exists,
            "music": library("music"), "sfx": library("sfx")}


_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _bounds(key: str) -> str:
    """'must be between 1 and 40' from the field's own limits."""
    limits = {name: getattr(m, name.lower()) for m in FilmOptions.model_fields[key].metadata
              for name in ("Ge", "Gt", "Le", "Lt") if hasattr(m, name.lower())}
    low = ("at least", limits["Ge"]) if "Ge" in limits else ("over", limits["Gt"]) if "Gt" in limits else None
    high = ("at most", limits["Le"]) if "Le" in limits else ("under", limits["Lt"]) if "Lt" in limits else None
    if low and high and low[0] == "at least" and high[0] == "at most":
        return f"must be between {low[1]:g} and {high[1]:g}"
    return "must be " + " and ".join(f"{word} {value:g}" for word, value in (b for b in (low, high) if b))


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key.replace("-", "_"), list(FIELDS), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; see `moviefactory options` for the {len(FIELDS)} known"


def options_yaml() -> str:
    """Every setting as a commented YAML mapping of its default: a starting point for --config."""
    import yaml

    lines = ["# moviefactory settings: every key is optional; flags win over this file.", ""]
    for info in FIELDS.values():
        value = info.default.as_posix() if isinstance(info.default, Path) else info.default
        dumped = yaml.safe_dump({info.name: value}, allow_unicode=True, width=1000).strip()
        lines.append(f"{dumped}    # {info.help}")
    return "\n".join(lines) + "\n"
