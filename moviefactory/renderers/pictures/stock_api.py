"""Stock libraries as Pexels and Pixabay document their APIs: search photos and videos, and download
the file that fits the film, into a shared cache keyed by the item (resume and later films never
download or search twice).

- Pexels: GET {base}/v1/search and {base}/videos/search ?query, orientation (landscape | portrait |
  square), locale, per_page; the key in the `Authorization` header. Photos carry `alt`, `url`,
  `photographer`, `src`; videos `url`, `user`, `duration`, `video_files` [{link, width, height, file_type}].
- Pixabay: GET {base}/api/ and {base}/api/videos/ ?key, q, orientation (horizontal | vertical), lang,
  per_page. Hits carry `tags`, `pageURL`, `user`, `largeImageURL` / `videos` {large, medium, small}.

429 is retried after its Retry-After, 5xx and timeouts with backoff, a bounded number of times
(tenacity); 401/403 say which variable holds the key. The key never leaves the request: not in
errors, logs, the cache or credits.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from ...errors import InputError, RenderError

RETRIES = 3  # tries after the first, for 429, 5xx and timeouts


@dataclass(frozen=True)
class StockItem:
    key: str  # "pexels-video-1234": unique, names the cached file
    service: str  # pexels | pixabay
    kind: str  # photo | video
    id: str
    text: str  # its words: alt text, the page's slug, tags
    tags: tuple[str, ...]
    width: int
    height: int
    duration: float
    download: str  # the file that fits the film
    page: str  # its page on the library
    author: str
    author_url: str
    licence: str
    licence_url: str
    preview: str = ""  # a small picture of it (a photo's small size, a video's thumbnail), for CLIP


@cache
def services() -> dict:
    from ...resources import config_path
    from ...yamlfile import read_yaml

    return read_yaml(config_path("stock.yaml"), "stock libraries") or {}


class StockAPI:
    """One library: its searches and downloads, cached under `cache` (shared by every film)."""

    def __init__(self, service: str, *, base_url: str | None = None, key_env: str | None = None,
                 cache: Path | None = None, timeout: float = 30.0, retries: int = RETRIES) -> None:
        table = services()
        if service not in ("pexels", "pixabay"):
            raise InputError(f"unknown stock library {service!r}; choose pexels or pixabay")
        self.service, self.conf = service, table[service]
        self.base = (base_url or self.conf["base_url"]).rstrip("/")
        self.key_env = key_env or self.conf["key_env"]
        self.timeout, self.retries = timeout, retries
        # another server speaking the same API (a mirror, a test's stand-in) has its own items: its own folder
        own = "" if self.base == self.conf["base_url"].rstrip("/") else \
            "-" + hashlib.sha256(self.base.encode()).hexdigest()[:10]
        self.cache = Path(cache) if cache else _cache_root() / f"{service}{own}"
        self._key = os.environ.get(self.key_env, "")

    @property
    def label(self) -> str:
        return f"{self.service.capitalize()} ({_public(self.base)})"

    def check_key(self) -> None:
        if not self._key:
            raise InputError(f"--renderer stock --stock {self.service} needs a key in ${self.key_env}")

    # --- search --------------------------------------------------------------------------------
    def search(self, query: str, kind: str, *, aspect: float, language: str = "en", per_page: int = 15) -> list[StockItem]:
        """Items for `query` (photo or video) in the film's orientation; the answer is cached on disk."""
        params = self._params(query, kind, aspect, language, per_page)
        path = "/v1/search" if (self.service, kind) == ("pexels", "photo") else "/videos/search" \
            if self.service == "pexels" else "/api/" if kind == "photo" else "/api/videos/"
        record = self.cache / "searches" / (hashlib.sha256(json.dumps([path, params], sort_keys=True).encode())
                                            .hexdigest()[:24] + ".json")
        if record.is_file():
            return [StockItem(**{**e, "tags": tuple(e["tags"])}) for e in json.loads(record.read_text("utf-8"))]
        reply = self._get(self.base + path, params, what=f"search for {kind}s")
        items = self._pexels(reply, kind) if self.service == "pexels" else self._pixabay(reply, kind)
        _write(record, json.dumps([asdict(i) for i in items], ensure_ascii=False).encode())
        return items

    def _params(self, query: str, kind: str, aspect: float, language: str, per_page: int) -> dict:
        locale = self.conf.get("locales", {}).get(language)
        if self.service == "pexels":
            orientation = "landscape" if aspect > 1.1 else "portrait" if aspect < 0.9 else "square"
            p = {"query": query, "orientation": orientation, "per_page": per_page}
            return {**p, "locale": locale} if locale else p
        orientation = "horizontal" if aspect > 1.1 else "vertical" if aspect < 0.9 else "all"
        p = {"q": query[:100], "orientation": orientation, "per_page": max(3, per_page), "safesearch": "true"}
        if kind == "photo":
            p["image_type"] = "photo"
        return {**p, "lang": locale} if locale else p

    def _pexels(self, reply: dict, kind: str) -> list[StockItem]:
        out = []
        for e in reply.get("photos" if kind == "photo" else "videos", []):
            page = str(e.get("url", ""))
            if kind == "photo":
                src = e.get("src") or {}
                download = src.get("large2x") or src.get("original") or src.get("large") or ""
                preview = src.get("small") or src.get("tiny") or src.get("medium") or ""
                author, author_url = e.get("photographer", ""), e.get("photographer_url", "")
                text, duration = " ".join([str(e.get("alt") or ""), _slug(page)]), 0.0
            else:
                download = _best_file(e.get("video_files") or [])
                preview = str(e.get("image") or "")
                user = e.get("user") or {}
                author, author_url = user.get("name", ""), user.get("url", "")
                text, duration = _slug(page), float(e.get("duration") or 0)
            if download:
                out.append(self._item(kind, e.get("id"), text, (), e.get("width"), e.get("height"), duration, download,
                                      page, author, author_url, preview))
        return out

    def _pixabay(self, reply: dict, kind: str) -> list[StockItem]:
        out = []
        for e in reply.get("hits", []):
            tags = tuple(t.strip() for t in str(e.get("tags", "")).split(",") if t.strip())
            author = str(e.get("user", ""))
            author_url = f"https://pixabay.com/users/{author}-{e.get('user_id')}/" if author else ""
            if kind == "photo":
                download, w, h, duration = e.get("largeImageURL") or e.get("webformatURL") or "", \
                    e.get("imageWidth"), e.get("imageHeight"), 0.0
                preview = e.get("previewURL") or e.get("webformatURL") or ""
            else:
                files = [dict(f, link=f.get("url")) for f in (e.get("videos") or {}).values() if f.get("url")]
                download = _best_file(files)
                best = next((f for f in files if f["link"] == download), {})
                w, h, duration = best.get("width"), best.get("height"), float(e.get("duration") or 0)
                preview = next((f.get("thumbnail") for f in files if f.get("thumbnail")), "")
            if download:
                out.append(self._item(kind, e.get("id"), _slug(str(e.get("pageURL", ""))), tags, w, h, duration,
                                      download, str(e.get("pageURL", "")), author, author_url, preview))
        return out

    def _item(self, kind, id_, text, tags, w, h, duration, download, page, author, author_url, preview) -> StockItem:
        return StockItem(f"{self.service}-{kind}-{id_}", self.service, kind, str(id_), " ".join(text.split()), tags,
                         int(w or 0), int(h or 0), duration, str(download), page, str(author), str(author_url),
                         self.conf["licence"], self.conf["licence_url"], str(preview))

    # --- download ------------------------------------------------------------------------------
    def download(self, item: StockItem) -> Path:
        """The item's file in the shared cache, fetched the first time only."""
        suffix = Path(urlparse(item.download).path).suffix.lower() or (".mp4" if item.kind == "video" else ".jpg")
        path = self.cache / "files" / f"{item.key}{suffix if len(suffix) <= 5 else ''}"
        if not path.is_file():
            _write(path, self._fetch(item.download, what=f"download of {item.page or item.key}"))
        return path

    def preview(self, item: StockItem) -> Path | None:
        """The item's small picture in the shared cache (fetched the first time only), if it has one."""
        if not item.preview:
            return None
        suffix = Path(urlparse(item.preview).path).suffix.lower()
        path = self.cache / "previews" / f"{item.key}{suffix if 1 < len(suffix) <= 5 else '.jpg'}"
        if not path.is_file():
            _write(path, self._fetch(item.preview, what=f"preview of {item.page or item.key}"))
        return path

    # --- HTTP ----------------------------------------------------------------------------------
    def _get(self, url: str, params: dict, *, what: str) -> dict:
        headers = {"Authorization": self._key} if self.service == "pexels" else {}
        if self.service == "pixabay":
            params = {"key": self._key, **params}
        reply = self._request(url, params, headers, what)
        try:
            return reply.json()
        except ValueError:
            raise RenderError(f"{self.label}: the {what} answered with something that is not JSON",
                              stage="render") from None

    def _fetch(self, url: str, *, what: str) -> bytes:
        return self._request(url, {}, {}, what).content

    def _request(self, url: str, params: dict, headers: dict, what: str):
        import httpx
        from tenacity import (RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential)

        def again(exc: BaseException) -> bool:
            return isinstance(exc, (httpx.TimeoutException, httpx.TransportError)) or (
                isinstance(exc, _Status) and (exc.status == 429 or exc.status >= 500))

        backoff = wait_exponential(multiplier=0.5, max=8)

        def wait(state) -> float:  # a 429's Retry-After is what it asks for; the rest back off
            exc = state.outcome.exception()
            return exc.retry_after if isinstance(exc, _Status) and exc.retry_after is not None else backoff(state)

        def once():
            reply = httpx.get(url, params=params, headers=headers, timeout=self.timeout, follow_redirects=True)
            if reply.status_code >= 400:
                raise _Status(reply.status_code, _retry_after(reply.headers.get("Retry-After")))
            return reply

        try:
            for attempt in Retrying(stop=stop_after_attempt(self.retries + 1), wait=wait, retry=retry_if_exception(again),
                                    reraise=False):
                with attempt:
                    return once()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise self._failure(last, what, tries=self.retries + 1) from None
        except (_Status, httpx.HTTPError) as exc:
            raise self._failure(exc, what, tries=1) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(self, exc, what: str, *, tries: int) -> RenderError:
        import httpx

        if isinstance(exc, _Status):
            hint = {401: f": the key was refused (set ${self.key_env})", 403: f": the key was refused (set ${self.key_env})",
                    429: ": too many requests, still after waiting as it asked"}.get(exc.status, "")
            if exc.status == 400 and self.service == "pixabay":  # how Pixabay refuses a key
                hint = f": the key was refused or the search is malformed (set ${self.key_env})"
            said = f"answered {exc.status}{hint}"
        elif isinstance(exc, httpx.TimeoutException):
            said = "did not answer in time"
        else:
            said = "cannot be reached"
        return RenderError(f"{self.label}: the {what} {said}" + (f" ({tries} tries)" if tries > 1 else ""),
                           stage="render")


class _Status(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status, self.retry_after = status, retry_after


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def _best_file(files: list[dict]) -> str:
    """The smallest mp4 at least 1080 px on its short side, else the largest there is."""
    mp4 = [f for f in files if f.get("link") and str(f.get("file_type", "video/mp4")).endswith("mp4")] or \
        [f for f in files if f.get("link")]
    if not mp4:
        return ""
    def short(f):
        return min(int(f.get("width") or 0), int(f.get("height") or 0))
    big = [f for f in mp4 if short(f) >= 1080]
    return str((min(big, key=short) if big else max(mp4, key=short))["link"])


def _slug(page: str) -> str:
    """The words in a library page's address: .../video/a-fox-in-the-snow-1234/ -> a fox in the snow."""
    last = [p for p in urlparse(page).path.split("/") if p]
    return " ".join(w for w in re.split(r"[-_]", last[-1]) if w and not w.isdigit()) if last else ""


def _public(url: str) -> str:
    from ...secrets import public_url

    return public_url(url) or url


def _cache_root() -> Path:
    from ...audio.library import cache_dir

    return cache_dir() / "stock"


def _write(path: Path, data: bytes) -> None:
    from ...media.files import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
