"""The screenwriter seam: a theme and a few numbers in, a validated Screenplay out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..registry import Registry
from ..screenplay import Screenplay

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class PlanRequest:
    theme: str  # the one line the user typed; story material, never instructions
    language: str  # 'en' or 'zh' (already resolved from 'auto')
    seconds: float  # target film length
    scenes: int | None  # None: the writer fits the number of scenes to `seconds`
    seed: int
    format: str  # preset name ('widescreen', 'vertical'); shapes pacing and prompt style
    speech_rate: float = 1.0  # the preset's speaking-rate multiplier, for fitting narration


@runtime_checkable
class Screenwriter(Protocol):
    name: str

    def write(self, request: PlanRequest) -> Screenplay: ...


_REGISTRY: Registry = Registry("screenwriter", ("moviefactory.planner.offline", "moviefactory.planner.llm_writer"))
register_writer = _REGISTRY.register
writer_names = _REGISTRY.names
create_writer = _REGISTRY.create


def detect_language(theme: str) -> str:
    """'zh' when the theme is written in Chinese characters; for another script (kana, Arabic, Thai,
    Cyrillic...) the first film language written in it; else 'en'. Latin-script languages are not
    told apart: --lang says which."""
    from ..languages import languages, script_of

    if len(_CJK.findall(theme)) >= max(1, len(theme.strip()) // 4) and not re.search("[\u3040-\u30ff]", theme):
        return "zh"
    script = script_of(theme)
    return next((code for code, lang in languages().items() if lang.script_name == script.name and
                 script.name != "latin"), "en")
