"""The film languages (configs/languages.yaml): codes --lang takes, their names, scripts and speaking rates."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class FilmLanguage:
    code: str
    name: str
    script: str  # latin, cjk, cyrillic, greek
    per_second: float  # words (characters for cjk) per second at speech_rate 1.0

    @property
    def spaced(self) -> bool:
        """Words are separated by spaces (captions break at them); cjk breaks by character."""
        return self.script != "cjk"


@cache
def _table(path: str) -> dict[str, FilmLanguage]:
    from pathlib import Path

    from .yamlfile import read_yaml

    data = read_yaml(Path(path), "language list") or {}
    return {str(code): FilmLanguage(str(code), str(e["name"]), str(e.get("script", "latin")),
                                    float(e.get("per_second", 2.6))) for code, e in data.items()}


def languages() -> dict[str, FilmLanguage]:
    from .resources import config_path

    return _table(str(config_path("languages.yaml")))


def language(code: str) -> FilmLanguage:
    """The language of `code`; an unknown code is English's rates under its own code (never raises)."""
    return languages().get(code) or FilmLanguage(code, code, "latin", 2.6)


# the languages the offline writer has material for
OFFLINE = ("en", "zh")
