"""Domain adapters: one LoRA per format, so a vertical short and a widescreen film each get a model
tuned to look like their domain, on the same loaded pipeline.

A run config names them per format (or one for every format):

    adapters:
      widescreen: {path: loras/cinema, weight: 0.8}            # a folder with pytorch_lora_weights.safetensors
      vertical: {path: loras/vertical.safetensors, weight: 0.6, name: vertical}
    adapter: {path: loras/house-style, weight: 0.5}            # any format without its own entry

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


def loaded_adapters(pipe) -> set[str]:
    getter = getattr(pipe, "get_list_adapters", None)
    if getter is None:
        return set()
    try:
        return {name for names in getter().values() for name in names}
    except ValueError:  # diffusers without the PEFT backend: nothing can be loaded
        return set()


def apply_adapter(pipe, spec: AdapterSpec | None) -> None:
    """Make `spec` the only active adapter of `pipe` (loading it the first time), or none for None."""
    loaded = loaded_adapters(pipe)
    if spec is None:
        if loaded:
            pipe.disable_lora()
        return
    if not hasattr(pipe, "load_lora_weights"):
        raise ConfigError(f"adapter {spec.name!r}: {type(pipe).__name__} cannot load LoRA adapters")
    if spec.name not in loaded:
        if not spec.path.exists():
            raise ConfigError(f"adapter {spec.name!r}: {spec.path} does not exist")
        if spec.path.is_file():
            pipe.load_lora_weights(str(spec.path.parent), weight_name=spec.path.name, adapter_name=spec.name)
        else:
            pipe.load_lora_weights(str(spec.path), adapter_name=spec.name)
    pipe.enable_lora()
    pipe.set_adapters([spec.name], adapter_weights=[spec.weight])
