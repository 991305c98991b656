"""The offline story material (prompts/offline/{en,zh}.yaml) and the keyword match over it.

The offline writer builds whole screenplays from it; the llm writer's repairs borrow its pacing,
archetype looks and voice pools, so a model's gaps are filled the way an offline film's would be.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml


@cache
def story_material(language: str, root: str) -> dict:
    """The material for `language` under the prompts folder `root` (read once per process)."""
    return yaml.safe_load((Path(root) / "offline" / f"{language}.yaml").read_text(encoding="utf-8"))


def find_keyword(low: str, keywords) -> int:
    """Where the first keyword occurs in `low` (English words whole, plural or possessive), else -1."""
    spots = [low.find(kw) if not kw.isascii() else
             (m.start() if (m := re.search(rf"(?<![a-z]){re.escape(kw)}(?:s|es|'s|’s)?(?![a-z])", low)) else -1)
             for kw in (str(k).lower() for k in keywords)]
    return min((p for p in spots if p >= 0), default=-1)
