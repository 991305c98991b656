"""Text relevance without a model: the words of a query against the words of documents (sound
library items, the user's photos and clips, stock results). TF-IDF (1 + log tf, smoothed idf) with
cosine scoring, the query widened by configs/synonyms.yaml. English words are lower-cased, stop-words
dropped and lightly stemmed; Chinese is split into character bigrams. Scores are in [0, 1]: 0 is
nothing in common, 1 the query is the document exactly.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Sequence

import yaml

from .resources import config_path

_STOP = frozenset(
    "a an and are as at be by for from in into is it its of on or over the this to with without "
    "sound sounds music track clip audio effect effects sfx file".split()
)
_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _stem(word: str) -> str:
    """A light suffix stripper: storms -> storm, rumbling/rumbles/rumble -> rumbl, crashes -> crash."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running -> run
            return word
    if word.endswith("es") and word[-3:-2] in ("s", "x", "z", "h") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Stemmed English words without stop-words; Chinese as overlapping character bigrams."""
    out: list[str] = []
    for run in _TOKEN.findall(text.lower()):
        if _CJK.match(run):
            out += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
        elif run not in _STOP:
            out.append(_stem(run))
    return out


SYNONYM_WEIGHT = 0.5  # a synonym counts this much of the word the query used


@functools.cache
def synonyms() -> dict[str, tuple[str, ...]]:
    """configs/synonyms.yaml as stems: a screenplay's word -> the library words it stands for."""
    data = yaml.safe_load(config_path("synonyms.yaml").read_text(encoding="utf-8")) or {}
    return {_stem(word.lower()): tuple(t for s in words for t in tokenize(s)) for word, words in data.items()}


def expand(tokens: list[str]) -> dict[str, float]:
    """Query term counts with each word's synonyms added at SYNONYM_WEIGHT (never above the word's own)."""
    counts: dict[str, float] = dict(Counter(tokens))
    extra: dict[str, float] = {}
    for token in counts:
        for syn in synonyms().get(token, ()):
            if syn not in counts:
                extra[syn] = max(extra.get(syn, 0.0), SYNONYM_WEIGHT)
    return {**extra, **counts}


class TfIdf:
    """Documents (token lists, e.g. `tokenize(text)`) scored against a query text."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        counted = [Counter(d) for d in docs]
        df = Counter(t for d in counted for t in d)
        self._n = len(counted)
        self._idf = {t: math.log((1 + self._n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._docs = [_unit({t: (1 + math.log(c)) * self._idf[t] for t, c in d.items()}) for d in counted]

    def search(self, text: str) -> list[tuple[float, int]]:
        """(score, document number) of every document sharing a word with `text`, best first."""
        counts = expand(tokenize(text))
        unseen = math.log(1 + self._n) + 1.0  # idf of a word no document has: it only lowers every score
        # a synonym's weight (< 1) scales its term directly; a word said c >= 1 times gets 1 + log c
        query = _unit({t: (1 + math.log(c) if c >= 1 else c) * self._idf.get(t, unseen) for t, c in counts.items()})
        scored = []
        for n, doc in enumerate(self._docs):
            score = sum(w * doc.get(t, 0.0) for t, w in query.items())
            if score > 0:
                scored.append((min(score, 1.0), n))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return scored


def _unit(vec: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}
