"""A real HTTP server on 127.0.0.1 speaking the Pexels and Pixabay APIs as they document them, over
media the test made:

    Pexels   GET /v1/search?query=&orientation=&per_page=&locale=   Authorization: <key>
             -> {"page", "per_page", "total_results", "photos": [{"id", "width", "height", "url",
                 "photographer", "photographer_url", "alt", "src": {"original", "large2x", "large", ...}}]}
             GET /videos/search?query=...  -> {"videos": [{"id", "width", "height", "url", "duration",
                 "user": {"id", "name", "url"}, "video_files": [{"id", "quality", "file_type", "width",
                 "height", "link"}]}]}
    Pixabay  GET /api/?key=&q=&image_type=photo&orientation=&lang=  -> {"total", "totalHits", "hits": [{"id",
                 "pageURL", "type", "tags", "largeImageURL", "imageWidth", "imageHeight", "user_id", "user"}]}
             GET /api/videos/?key=&q=...  -> {"hits": [{"id", "pageURL", "tags", "duration", "user_id", "user",
                 "videos": {"large": {"url", "width", "height", "size"}, "medium": {...}}}]}
    Files    GET /files/<name>  (the links above point here)

An item is found when one of its words is in the query. A wrong key is 401 on Pexels and 400 on
Pixabay ("[ERROR 400] Invalid or missing API key"), as they answer. `script` puts faults first
(any status, a Retry-After, a delay). Every request is recorded, the key left out.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from local_server import LocalServer, QuietHandler


@dataclass
class Item:
    id: int
    kind: str  # photo | video
    words: str  # what it shows: "red fox snow"
    file: Path
    width: int
    height: int
    duration: float = 0.0
    author: str = "Ana Lens"
    preview: Path | None = None  # a video's thumbnail (a photo's preview is the photo)


@dataclass
class Fault:
    status: int = 500
    delay: float = 0.0
    retry_after: float | None = None


@dataclass
class FakeStock(LocalServer):
    items: list[Item]
    key: str = "stock-key"
    script: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                key = q.pop("key", None) if url.path.startswith("/api") else self.headers.get("Authorization")
                fake.requests.append({"path": url.path, "query": q, "time": time.monotonic()})
                if url.path.startswith("/files/"):
                    return self._file(url.path[len("/files/"):])
                fault = fake.script.pop(0) if fake.script else None
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.status != 200:
                        return self.send_bytes(fault.status, b"scripted failure", "text/plain",
                                          {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {})
                if url.path in ("/v1/search", "/videos/search"):
                    if key != fake.key:
                        return self.send_json(401, {"error": "Unauthorized"})
                    return self._pexels(q, "photo" if url.path == "/v1/search" else "video")
                if url.path in ("/api/", "/api/videos/"):
                    if key != fake.key:
                        return self.send_bytes(400, b"[ERROR 400] Invalid or missing API key", "text/plain")
                    return self._pixabay(q, "photo" if url.path == "/api/" else "video")
                return self.send_json(404, {"error": "not found"})

            def _found(self, query: str, kind: str) -> list[Item]:
                words = set(re.findall(r"[a-z]+", query.lower()))
                return [i for i in fake.items if i.kind == kind and words & set(i.words.split())]

            def _pexels(self, q: dict, kind: str) -> None:
                found = self._found(q.get("query", ""), kind)[: int(q.get("per_page", 15))]
                base = f"http://127.0.0.1:{fake.port}"
                if kind == "photo":
                    body = {"page": 1, "per_page": len(found), "total_results": len(found), "photos": [
                        {"id": i.id, "width": i.width, "height": i.height, "alt": i.words,
                         "url": f"https://www.pexels.com/photo/{i.words.replace(' ', '-')}-{i.id}/",
                         "photographer": i.author, "photographer_url": f"https://www.pexels.com/@{i.id}",
                         "src": {"original": f"{base}/files/{i.file.name}", "large2x": f"{base}/files/{i.file.name}",
                                 "large": f"{base}/files/{i.file.name}", "small": f"{base}/files/{i.file.name}"}}
                        for i in found]}
                else:
                    body = {"page": 1, "per_page": len(found), "total_results": len(found), "videos": [
                        {"id": i.id, "width": i.width, "height": i.height, "duration": i.duration,
                         "url": f"https://www.pexels.com/video/{i.words.replace(' ', '-')}-{i.id}/",
                         "image": f"{base}/files/{i.preview.name}" if i.preview else "", "user": {"id": i.id, "name": i.author, "url": f"https://www.pexels.com/@{i.id}"},
                         "video_files": [{"id": i.id * 10, "quality": "hd", "file_type": "video/mp4", "width": i.width,
                                          "height": i.height, "link": f"{base}/files/{i.file.name}"}]}
                        for i in found]}
                self.send_json(200, body)

            def _pixabay(self, q: dict, kind: str) -> None:
                found = self._found(q.get("q", ""), kind)[: int(q.get("per_page", 20))]
                base = f"http://127.0.0.1:{fake.port}"
                hits = []
                for i in found:
                    hit = {"id": i.id, "pageURL": f"https://pixabay.com/{kind}s/{i.words.replace(' ', '-')}-{i.id}/",
                           "type": "photo" if kind == "photo" else "film", "tags": ", ".join(i.words.split()),
                           "user_id": i.id, "user": i.author}
                    if kind == "photo":
                        hit.update(largeImageURL=f"{base}/files/{i.file.name}", previewURL=f"{base}/files/{i.file.name}",
                                   imageWidth=i.width, imageHeight=i.height)
                    else:
                        hit.update(duration=int(i.duration), videos={"large": {
                            "url": f"{base}/files/{i.file.name}", "width": i.width, "height": i.height, "size": 1,
                            "thumbnail": f"{base}/files/{i.preview.name}" if i.preview else ""}})
                    hits.append(hit)
                self.send_json(200, {"total": len(hits), "totalHits": len(hits), "hits": hits})

            def _file(self, name: str) -> None:
                files = {p.name: p for i in fake.items for p in (i.file, i.preview) if p is not None}
                if name not in files:
                    return self.send_json(404, {"error": "no such file"})
                self.send_bytes(200, files[name].read_bytes(), "video/mp4" if name.endswith(".mp4") else "image/jpeg")

        self._serve(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def searches(self) -> list[dict]:
        return [r for r in self.requests if not r["path"].startswith("/files/")]

    def downloads(self) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith("/files/")]
