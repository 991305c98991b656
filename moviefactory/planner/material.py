"""The offline story material (prompts/offline/{en,zh}.yaml) and the keyword match over it.

The offline writer builds whole screenplays from it; the llm writer's repairs borrow its pacing,
archetype looks and voice pools, so a model's gaps are filled the way an offline film's would be.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml


def story_material(language: str, root: str | None = None) -> dict:
    """The material for `language`: prompts/offline/<language>.yaml (the user's config dir first), or
    under the prompts folder `root`."""
    from ..resources import prompt_path

    path = Path(root) / "offline" / f"{language}.yaml" if root else prompt_path(f"offline/{language}.yaml")
    return _read(str(path))


def material_token(language: str) -> str:
    """A digest of the material a film in `language` is written from: editing it writes the film anew."""
    import hashlib

    from ..resources import prompt_path

    h = hashlib.sha256()
    for lang in dict.fromkeys(("en", language if language in ("en", "zh") else "en")):
        h.update(prompt_path(f"offline/{lang}.yaml").read_bytes())
    return h.hexdigest()[:16]


@cache
def _read(path: str) -> dict:  # read once per process
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def find_keyword(low: str, keywords) -> int:
    """Where the first keyword occurs in `low` (English words whole, plural or possessive), else -1."""
    spots = [low.find(kw) if not kw.isascii() else
             (m.start() if (m := re.search(rf"(?<![a-z]){re.escape(kw)}(?:s|es|'s|’s)?(?![a-z])", low)) else -1)
             for kw in (str(k).lower() for k in keywords)]
    return min((p for p in spots if p >= 0), default=-1)
