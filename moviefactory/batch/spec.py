"""A batch: which films to make, with which settings, run by which executor, on which schedule.

It is read from a theme list (.txt, .csv, .jsonl or a YAML list: see formats.py), named after the
file, or from a batch YAML:

    name: daily-shorts
    output: runs/batches            # each film's run directory goes under output/name/
    executor: local                 # local (each film in its own process, `workers` at once) | ray
    workers: 1                      # films made at once
    schedule: "0 9 * * *"           # cron, for `moviefactory batch schedule`
    defaults: {format: vertical, seconds: 30}
    films:
      - theme: "三分钟讲清楚光合作用"
        lang: zh
      - A day in the life of a street cat

A film's keys are film options (`moviefactory options`) and `config` (a file of them). A film's own
keys win over the command line's flags, which win over the file's `defaults`. Every film is
validated here, so a bad value stops the batch before anything is made, naming file, line and key.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError, InputError
from ..job import clean_theme, file_layer
from ..options import Layer, build_options
from ..screenplay.validation import describe_errors
from ..yamlfile import key_lines, line_of, parse_yaml, read_text
from .formats import FILM_KEYS, LISTS, Entry, yaml_entries

NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
OUTPUT = Path("runs/batches")


class BatchFile(BaseModel):
    """A batch YAML's own keys; its films are read by formats.yaml_entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., pattern=NAME)
    output: Path = OUTPUT
    executor: str = "local"
    workers: int = Field(1, ge=1, le=256)
    schedule: str | None = None
    defaults: dict[str, Any] = {}
    films: list[Any] = Field(..., min_length=1)
    ray: dict[str, Any] = {}  # ray.init() arguments (address, num_cpus, ...) and `gpus_per_film`

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from croniter import croniter

            if not croniter.is_valid(v):
                raise ValueError(f"{v!r} is not a cron expression (minute hour day month weekday)")
        return v


@dataclass(frozen=True)
class FilmSpec:
    theme: str
    options: dict[str, Any]  # typed make_film options: the film's keys > flags > defaults
    at: str  # where the film is written, e.g. 'themes.csv line 3'


@dataclass(frozen=True)
class BatchSpec:
    name: str
    films: tuple[FilmSpec, ...]
    output: Path = OUTPUT
    executor: str = "local"
    workers: int = 1
    schedule: str | None = None
    ray: Mapping[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.output / self.name

    def jobs(self, folder: Path | None = None) -> list[dict[str, Any]]:
        """One picklable job per film, {theme, options}, its run directory in `folder` (default: output/name)."""
        where = str(folder or self.folder)
        return [{"theme": f.theme, "options": {**f.options, "output": where}} for f in self.films]


def load_batch(path: Path, *, flags: Mapping[str, Any] | None = None, output: Path | None = None,
               config: Path | None = None) -> BatchSpec:
    """The batch in `path` with every film checked. `flags`: film options from the command line (typed),
    over the file's defaults and under a film's own keys; `output`: over the file's; `config`: a file of
    settings for the films that name none."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*LISTS, ".yaml", ".yml"):
        raise InputError(f"{path}: a batch is a .txt (a theme a line), .csv, .jsonl or .yaml file")
    text = read_text(path, "batch file", error=InputError).removeprefix("\ufeff")  # a BOM, as spreadsheets write
    data = parse_yaml(text, path, error=InputError) if suffix not in LISTS else None
    if isinstance(data, dict):
        head = _batch_file(data, path, text)
        header = head.model_dump(exclude={"defaults", "films"})
        defaults = Layer(dict(head.defaults), str(path), key_lines(text, ["defaults"]))
        entries = yaml_entries(head.films, path, text, ["films"])
    else:
        header, defaults = {"name": batch_name(path)}, Layer({}, str(path))
        if data is None:
            entries = LISTS[suffix](path, text)
        elif isinstance(data, list):
            entries = yaml_entries(data, path, text)
        else:
            raise InputError(f"{path}: expected a batch (name, films, ...) or a list of themes")
        if not entries:
            raise InputError(f"{path}: no films in it (a theme a line; a line starting with # is a comment)")
    if output is not None:
        header["output"] = Path(output)
    flag_layer = Layer(dict(flags or {}), "", flags=True)
    films = tuple(_film(entry, defaults, flag_layer, config) for entry in entries)
    return BatchSpec(films=films, **header)


def _batch_file(data: dict[str, Any], path: Path, text: str) -> BatchFile:
    try:
        return BatchFile.model_validate(data)
    except ValidationError as exc:
        line = line_of(text, exc.errors()[0]["loc"])
        at = f"{path} line {line}" if line else str(path)
        raise InputError(f"{at}: {describe_errors(exc, limit=1)}") from None


def _film(entry: Entry, defaults: Layer, flags: Layer, config: Path | None) -> FilmSpec:
    """One film's options, merged and validated; a problem is one line naming where it was written."""
    theme = entry.theme
    if isinstance(theme, (int, float)) and not isinstance(theme, bool):
        theme = str(theme)  # `- 1984` is a theme
    try:
        theme = clean_theme(theme)
    except InputError as exc:
        raise InputError(f"{entry.at}: {exc.message}") from None
    layers = [defaults, flags, entry.layer]
    for layer in layers:
        if "output" in layer.values:  # every film of a batch goes under output/name (it finds them there again)
            raise ConfigError(f"{layer.at('output')}{layer.name('output')}: a batch's films all go in the batch's "
                              "folder; set the batch's `output:` (or --output), not a film's")
    for layer in (defaults, entry.layer):
        if not isinstance(layer.values.get("config", ""), (str, Path)):
            raise ConfigError(f"{layer.at('config')}config: the path of a settings file (YAML)")
    # a film's own config file, else --config, else the defaults'
    config = entry.layer.values.get("config") or config or defaults.values.get("config")
    layers = [replace(layer, values={k: v for k, v in layer.values.items() if k != "config"}) for layer in layers]
    # make_film reads the config file itself; it is read here only so that its errors stop the batch now
    checked = build_options([*([file_layer(Path(config))] if config else []), *layers])
    options = {key: getattr(checked, key) for layer in layers for key in layer.values}
    if config:
        options["config"] = str(config)
    return FilmSpec(theme, options, entry.at)


def batch_name(path: Path) -> str:
    """A batch's name from its file's: 'My themes (2026).txt' -> 'my-themes-2026'."""
    ascii_text = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", ascii_text).strip("-_")[:64].strip("-_")
    # a name with nothing ASCII in it ('主题.txt') still needs its own folder
    return name or "batch-" + hashlib.sha256(path.stem.encode()).hexdigest()[:8]


__all__ = ["BatchFile", "BatchSpec", "FILM_KEYS", "FilmSpec", "batch_name", "load_batch"]
