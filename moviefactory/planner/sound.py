"""What a film sounds like, from what it is about: the music brief from the theme's words, and each
scene's sound cues from its setting, its shots and the theme's subject and action (waves for a coast,
wind for snow, heavy footsteps for mammoths), so the retriever has something true to match.

Pure functions over the word tables in prompts/offline/en.yaml (`ambience`, `events`, `moods`).
"""
from __future__ import annotations

from collections.abc import Sequence

import re

from .material import find_keyword
from .subject import Lead, jieba_words

_CJK = re.compile(r"[\u3400-\u9fff]")


def _find(text: str, keywords: Sequence[str]) -> int:
    """Where the first keyword is in `text`, else -1: English words whole (find_keyword), Chinese ones
    as whole jieba words (猫 is not in 熊猫)."""
    english = find_keyword(text, [k for k in keywords if str(k).isascii()])
    chinese = [str(k) for k in keywords if not str(k).isascii()]
    spots = [english] if english >= 0 else []
    if chinese and _CJK.search(text):
        pos = 0
        for word in jieba_words(text):
            pos = text.find(word, pos)
            if word in chinese:
                spots.append(pos)
                break
    return min(spots, default=-1)


def theme_music(theme: str, moods: Sequence[dict], lead: Lead | None = None) -> dict | None:
    """The `moods` entry whose keyword comes first in the theme (or the subject's English), if any."""
    text = " ".join([theme.lower(), *(_lead_words(lead) if lead else [])])
    spots = [(p, i) for i, e in enumerate(moods) if (p := _find(text, e["keywords"])) >= 0]
    return moods[min(spots)[1]] if spots else None


def scene_ambience(setting: str, shots: Sequence[str], time_of_day: str, ambience: Sequence[dict]) -> str | None:
    """The scene's sound bed: the first entry whose keywords are in its setting, else in its shots."""
    for text in (setting.lower(), " ".join(shots).lower()):
        for e in ambience:
            if _find(text, e["keywords"]) >= 0:
                return e.get("night", e["sound"]) if time_of_day == "night" else e["sound"]
    return None


def scene_events(shots: Sequence[str], events: Sequence[dict], lead: Lead | None, theme: str = "") -> list[str]:
    """Sounds of what is in the scene: the theme's subject and action first (when its shots show the
    subject), then what the shots name, each once."""
    shown = " ".join(shots).lower()
    texts = []
    if lead is not None and find_keyword(shown, [lead.head]) >= 0:
        texts.append(" ".join(_lead_words(lead) + [theme.lower()]))
    texts.append(shown)
    found: list[str] = []
    for text in texts:
        spots = sorted((p, e["sound"]) for e in events if (p := _find(text, e["keywords"])) >= 0)
        found += [s for _, s in spots if s not in found]
    return found


def _lead_words(lead: Lead) -> list[str]:
    return [w.lower() for w in (lead.head, lead.noun, lead.phrase, lead.action, lead.role) if w]
