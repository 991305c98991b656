"""`--renderer stock [--stock pexels|pixabay]`: stock video first, photos when no clip fits, matched to
the shots, each item once while others remain, credited (author, page, licence) in credits.txt and
report.json. A shot the library has nothing for is an animatic panel, and the report says so.

Each shot is searched with a short query (its subject and its place: a stock search wants "red fox
snowy pine valley", not the whole image prompt), the answers ranked by the library's order and by how
many of the shot's words they share, and, where CLIP weights are given (--clip-model), by how their
previews (a photo's small size, a video's thumbnail) look beside the shot's words. Searches and files are cached (stock_api.py): a resumed run or a
later film asks the library for nothing it already has.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

from ...media.camera import SUFFIX
from ...screenplay import Screenplay, Shot
from ...textmatch import TfIdf, tokenize
from ..base import RenderContext, register_renderer
from .fit import clip_shot, still_shot
from .match import shot_query
from .stock_api import StockAPI, StockItem, services

RANK_WEIGHT = 0.5  # the library's first answer is worth this much relevance over its last
LOOK_WEIGHT = 1.0  # a preview's CLIP similarity to the shot counts as much as shared words
_CUT = re.compile(r",|\b(?:with|wearing|holding|while|as|under|beneath|against)\b")


def stock_query(shot: Shot, setting: str) -> str:
    """The subject (the description's first phrase, its last three content words: 'slender red fox')
    and the scene's place ('snowy pine valley'), without the words that say how it is filmed."""
    stop = set(services().get("query_stopwords", []))

    def words(text: str) -> list[str]:
        return [w for w in re.findall(r"[a-z][a-z'-]*", text.lower()) if w not in stop]

    subject = words(_CUT.split(shot.description, maxsplit=1)[0])[-3:]
    place = [w for w in words(setting) if w not in subject][:3]
    return " ".join(subject + place) or " ".join(words(shot.description)[:4]) or shot.description[:60]


class StockRenderer:
    name = "stock"
    suffix = ".mp4"  # a clip's; a photo's shot is a still (source_for says which)

    def __init__(self, api: StockAPI, *, aspect: float = 16 / 9, ranker=None) -> None:
        self.api, self.aspect, self.ranker = api, aspect, ranker  # ranker: a ClipRanker, where CLIP weights are given
        self._looks: dict[str, np.ndarray] = {}  # item key -> its preview's embedding
        self._lock = threading.Lock()
        self._cast: dict[str, dict[str, tuple[StockItem | None, str]]] = {}

    def cache_token(self) -> str:
        return f"stock-1 {self.api.label}" + (f" clip {self.ranker.model_id}" if self.ranker else "")

    def picks(self, screenplay: Screenplay) -> dict[str, tuple[StockItem | None, str]]:
        """shot id -> (the item that plays it, or None for an animatic panel; its query)."""
        key = screenplay.model_dump_json()
        with self._lock:  # the shots render in parallel: one casting for all of them
            if key not in self._cast:
                self._cast = {key: self._cast_film(screenplay)}
            return self._cast[key]

    def _cast_film(self, screenplay: Screenplay) -> dict[str, tuple[StockItem | None, str]]:
        used: set[str] = set()
        out: dict[str, tuple[StockItem | None, str]] = {}
        before: str | None = None
        for scene, shot in screenplay.shots():
            query = stock_query(shot, scene.setting)
            item = None
            for kind in ("video", "photo"):  # stock video first, photos when no clip fits
                found = self.api.search(query, kind, aspect=self.aspect, language=screenplay.language)
                ranked = _rank(found, shot_query(shot, screenplay), self._similarity(found, shot, screenplay))
                item = next((i for i in ranked if i.key not in used), None)
                if item is not None:
                    break
            if item is None:  # everything it found is used: the best of it again, never twice in a row
                found = self.api.search(query, "video", aspect=self.aspect, language=screenplay.language) or \
                    self.api.search(query, "photo", aspect=self.aspect, language=screenplay.language)
                looks = self._similarity(found, shot, screenplay)
                item = next((i for i in _rank(found, shot_query(shot, screenplay), looks) if i.key != before), None)
            out[shot.id] = (item, query)
            if item is not None:
                used.add(item.key)
            before = item.key if item else None
        return out

    def _similarity(self, found: list[StockItem], shot: Shot, screenplay: Screenplay) -> dict[str, float]:
        """Each item's preview against the shot's words (CLIP), where a model is given."""
        if self.ranker is None or not found:
            return {}
        from PIL import Image

        for item in found:
            if item.key not in self._looks and (path := self.api.preview(item)) is not None:
                with Image.open(path) as image:
                    self._looks[item.key] = self.ranker.image_vectors([image.convert("RGB")])[0]
        seen = [i for i in found if i.key in self._looks]
        if not seen:
            return {}
        row = self.ranker.scores([shot_query(shot, screenplay)], np.stack([self._looks[i.key] for i in seen]))[0]
        return {i.key: float(s) for i, s in zip(seen, row)}

    def source_for(self, shot: Shot, screenplay: Screenplay) -> tuple[str, str]:
        item, query = self.picks(screenplay)[shot.id]
        if item is None:
            return SUFFIX, f"animatic: nothing for {query!r}"
        return (".mp4" if item.kind == "video" else SUFFIX), item.key

    def render(self, shot: Shot, ctx: RenderContext, out: Path):
        item, _ = self.picks(ctx.screenplay)[shot.id]
        if item is None:
            from ..animatic import AnimaticRenderer

            return AnimaticRenderer().render(shot, ctx, out)
        path = self.api.download(item)
        if item.kind == "video":
            return clip_shot(path, shot, ctx, out)
        from PIL import Image

        with Image.open(path) as image:
            return still_shot(image, shot, ctx, out)

    def credits(self, screenplay: Screenplay) -> list[dict]:
        out = []
        for shot_id, (item, query) in self.picks(screenplay).items():
            if item is None:
                out.append({"shot": shot_id, "source": "animatic", "query": query,
                            "why": f"{self.api.label} has nothing for {query!r}"})
            else:
                out.append({"shot": shot_id, "source": item.service, "kind": item.kind, "id": item.id,
                            "query": query, "page": item.page, "author": item.author, "author_url": item.author_url,
                            "licence": item.licence, "licence_url": item.licence_url})
        return out


def _rank(found: list[StockItem], query: str, looks: dict[str, float] | None = None) -> list[StockItem]:
    """Best first: the library's order, the words shared with the shot, and (CLIP) how the item looks."""
    if not found:
        return []
    words = dict((n, s) for s, n in TfIdf([tokenize(i.text) + 2 * tokenize(" ".join(i.tags)) for i in found])
                 .search(query))
    score = {i.key: words.get(n, 0.0) + RANK_WEIGHT * (1 - n / max(len(found), 1))
             + LOOK_WEIGHT * (looks or {}).get(i.key, 0.0) for n, i in enumerate(found)}
    return sorted(found, key=lambda i: -score[i.key])


def credits_text(title: str, credits: list[dict]) -> str:
    """credits.txt: every stock item the film shows, with its author, page and licence."""
    lines = [f"{title}", "", "Pictures"]
    for c in credits:
        if c.get("source") in ("pexels", "pixabay"):
            by = f"{c['author']} ({c['author_url']})" if c.get("author_url") else c.get("author") or "unknown"
            lines.append(f"  {c['shot']}: {c['kind']} by {by}, {c['page']}, {c['licence']} ({c['licence_url']})")
    return "\n".join(lines) + "\n"


@register_renderer("stock")
def create_stock(*, stock: str = "pexels", pexels_base_url: str | None = None, pixabay_base_url: str | None = None,
                 aspect: float = 16 / 9, clip_model=None, **_options) -> StockRenderer:
    api = StockAPI(stock, base_url=pexels_base_url if stock == "pexels" else pixabay_base_url)
    api.check_key()
    ranker = None
    if clip_model:
        from .clip_rank import load_clip

        ranker = load_clip(clip_model)
    return StockRenderer(api, aspect=aspect, ranker=ranker)
