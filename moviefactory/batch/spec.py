"""batch.yaml: which films to make, with which settings, run by which executor, on which schedule.

    name: daily-shorts
    output: runs/batches            # each film's run directory goes under output/name/
    executor: local                 # local (this process, or a process pool with workers > 1) | ray
    workers: 1                      # films made at once
    schedule: "0 9 * * *"           # cron, for `moviefactory batch schedule`
    defaults: {format: vertical, seconds: 30}
    films:
      - theme: "三分钟讲清楚光合作用"
        lang: zh
      - theme: "A day in the life of a street cat"
        seed: 3

A film's keys are `make_film` options (format, lang, scenes, seconds, seed, draft, renderer, ...);
they override `defaults`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError
from ..options import FIELDS
from ..screenplay.validation import describe_errors
from ..yamlfile import line_of

# make_film options a batch may set: every film option, and a config file
FILM_OPTIONS = frozenset({*FIELDS, "config"})


def _known(options: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(options) - FILM_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} in {where}; known: {', '.join(sorted(FILM_OPTIONS))}")
    return options


class FilmSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    theme: str = Field(..., min_length=1)

    @model_validator(mode="after")
    def _options_known(self) -> "FilmSpec":
        _known(dict(self.model_extra or {}), f"film {self.theme!r}")
        return self

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    output: Path = Path("runs/batches")
    executor: str = "local"
    workers: int = Field(1, ge=1, le=256)
    schedule: str | None = None
    defaults: dict[str, Any] = {}
    films: tuple[FilmSpec, ...] = Field(..., min_length=1)
    ray: dict[str, Any] = {}  # ray.init() arguments (address, num_cpus, ...) and `gpus_per_film`

    @field_validator("defaults")
    @classmethod
    def _defaults_known(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _known(v, "defaults")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from croniter import croniter

            if not croniter.is_valid(v):
                raise ValueError(f"{v!r} is not a cron expression (minute hour day month weekday)")
        return v

    @property
    def folder(self) -> Path:
        return self.output / self.name

    def jobs(self, folder: Path | None = None) -> list[dict[str, Any]]:
        """One job per film: its theme and options, defaults filled in, run directories in `folder`
        (default: output/name)."""
        where = str(folder or self.folder)
        return [{"theme": f.theme, "options": {**self.defaults, **f.options, "output": where}} for f in self.films]


def load_batch(path: Path) -> BatchSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read batch file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with name and films")
    try:
        return BatchSpec.model_validate(data)
    except ValidationError as exc:
        line = line_of(text, exc.errors()[0]["loc"])
        at = f"{path} line {line}" if line else str(path)
        raise InputError(f"{at}: {describe_errors(exc, limit=1)}") from None
