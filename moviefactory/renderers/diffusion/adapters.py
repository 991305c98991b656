"""Domain adapters: one LoRA per format, so a vertical short and a widescreen film each get a model
tuned to look like their domain, on the same loaded pipeline.

A run config (--config) names them per format (or one for every format):

    adapters:
      widescreen: {path: loras/cinema, weight: 0.8}            # a folder with pytorch_lora_weights.safetensors
      vertical: {path: loras/vertical.safetensors, weight: 0.6, name: vertical}
    adapter: {path: loras/house-style, weight: 0.5}            # any format without its own entry

and a format preset (configs/formats/*.yaml) may name one per model, used when the run config names
none for that format:

    adapters:
      ltx-video: {path: owner/cinema-lora, weight: 0.8}        # a hub repo (or repo/file.safetensors)

Adapters are loaded once under their name and switched with `set_adapters`: going back and forth
between formats never reloads weights. torch/diffusers are never imported here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ...errors import ConfigError


@dataclass(frozen=True)
class AdapterSpec:
    path: Path  # a LoRA folder (diffusers' save_lora_weights layout) or a .safetensors / .bin file
    weight: float = 1.0  # LoRA scale; 0 is the base model
    name: str = "adapter"  # adapter name inside the pipeline; one name per set of weights

    @classmethod
    def parse(cls, value: Any, default_name: str) -> "AdapterSpec":
        """From a config mapping (`{path, weight, name}`), a bare path, or an AdapterSpec."""
        if isinstance(value, AdapterSpec):
            return value
        if isinstance(value, (str, Path)):
            value = {"path": value}
        if not isinstance(value, Mapping) or not value.get("path"):
            raise ConfigError(f"adapter for {default_name!r}: expected {{path: ..., weight: 0.8, name: ...}}, "
                              f"got {value!r}")
        unknown = set(value) - {"path", "weight", "name"}
        if unknown:
            raise ConfigError(f"adapter for {default_name!r}: unknown keys {sorted(unknown)}")
        try:
            weight = float(value.get("weight", 1.0))
        except (TypeError, ValueError):
            raise ConfigError(f"adapter for {default_name!r}: weight must be a number, "
                              f"got {value['weight']!r}") from None
        name = str(value.get("name") or default_name)
        return cls(path=Path(value["path"]).expanduser(), weight=weight, name=name)

    def token(self) -> str:
        """What goes into a renderer's cache token: which weights, under which name, how strong."""
        return f"{self.name}:{self.path}:{self.weight:g}"


def adapter_for(format_name: str, config: Mapping[str, Any] | None) -> AdapterSpec | None:
    """The adapter a run config names for `format_name`: `adapters.<format>` first, then `adapter`."""
    if not config:
        return None
    per_format = config.get("adapters") or {}
    if not isinstance(per_format, Mapping):
        raise ConfigError(f"adapters: expected a mapping of format name to adapter, got {per_format!r}")
    if per_format.get(format_name):
        return AdapterSpec.parse(per_format[format_name], format_name)
    if config.get("adapter"):
        return AdapterSpec.parse(config["adapter"], "adapter")
    return None


def adapters_for(model_name: str, config: Mapping[str, Any] | None = None) -> dict[str, AdapterSpec]:
    """format name -> adapter for a renderer of `model_name`: the run config's, else the format preset's."""
    from ...config import format_names, load_format

    out = {}
    for fmt in format_names():
        spec = adapter_for(fmt, config)
        if spec is None and (preset := load_format(fmt).adapters.get(model_name)):
            spec = AdapterSpec.parse(preset, fmt)
        if spec is not None:
            out[fmt] = spec
    return out


def loaded_adapters(pipe) -> set[str]:
    getter = getattr(pipe, "get_list_adapters", None)
    if getter is None:
        return set()
    try:
        return {name for names in getter().values() for name in names}
    except ValueError:  # diffusers without the PEFT backend: nothing can be loaded
        return set()


def apply_adapter(pipe, spec: AdapterSpec | None, *, offline: bool = False) -> None:
    """Make `spec` the only active adapter of `pipe` (loading it the first time), or none for None.
    `offline`: a hub adapter comes from the local cache only."""
    loaded = loaded_adapters(pipe)
    if spec is None:
        if loaded:
            pipe.disable_lora()
        return
    if not hasattr(pipe, "load_lora_weights"):
        raise ConfigError(f"adapter {spec.name!r}: {type(pipe).__name__} cannot load LoRA adapters")
    # which weights each adapter name was loaded from: one name must not stand for two sets of weights
    sources = pipe.__dict__.setdefault("_moviefactory_adapter_paths", {})
    if spec.name in loaded and sources.get(spec.name, spec.path) != spec.path:
        raise ConfigError(f"two adapters are named {spec.name!r} ({sources[spec.name]} and {spec.path}): "
                          "give each its own `name:`")
    if spec.name not in loaded:
        where, weight_name = _where(spec)
        try:
            pipe.load_lora_weights(where, adapter_name=spec.name, local_files_only=offline,
                                   **({"weight_name": weight_name} if weight_name else {}))
        except (OSError, ValueError) as exc:  # hub repo missing offline, wrong file, weights for another model
            raise ConfigError(f"adapter {spec.name!r} ({spec.path}) cannot be loaded: "
                              f"{(str(exc).splitlines() or [type(exc).__name__])[0][:160]}") from None
        sources[spec.name] = spec.path
    pipe.enable_lora()
    pipe.set_adapters([spec.name], adapter_weights=[spec.weight])


def _where(spec: AdapterSpec) -> tuple[str, str | None]:
    """(folder or hub repo, weight file name or None) for load_lora_weights."""
    path = spec.path
    if path.exists():
        return (str(path.parent), path.name) if path.is_file() else (str(path), None)
    parts = path.as_posix().split("/")
    local_looking = path.is_absolute() or path.as_posix().startswith(".") or Path(parts[0]).is_dir()
    if not local_looking and len(parts) in (2, 3):
        # owner/repo, or owner/repo/file.safetensors, on the Hugging Face hub
        return "/".join(parts[:2]), (parts[2] if len(parts) == 3 else None)
    raise ConfigError(f"adapter {spec.name!r}: {path} does not exist")
