"""A real HTTP server on 127.0.0.1 speaking OpenAI's image-generation route, as OpenAI documents it:

    POST /v1/images/generations  {"model", "prompt", "n", "size": "WxH", "response_format": "b64_json"|"url"}
    -> 200 {"created": <unix time>, "data": [{"b64_json": <base64 PNG>} | {"url": ...}]}, or an error
       status with {"error": {"message", "type", "code"}}; a wrong or missing "Authorization: Bearer
       <key>" -> 401; a 429 carries Retry-After.

It stands in for a remote image service (OpenAI, LocalAI, a local Stable Diffusion server). `paint(body)
-> PNG bytes` makes the picture (the tests paint a colour per prompt); `script` can put errors or delays
first. Every request is recorded.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from local_server import LocalServer, QuietHandler


@dataclass
class Fault:
    status: int = 500
    delay: float = 0.0  # answer this late (the client times out first)
    retry_after: float | None = None  # a 429's Retry-After, in seconds


@dataclass
class FakeImages(LocalServer):
    paint: Callable[[dict[str, Any]], bytes]
    key: str | None = None  # the bearer key the server wants (None: any)
    script: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"path": self.path, "body": body, "time": time.monotonic(),
                                      "authorization": self.headers.get("Authorization", "")})
                if self.path.rstrip("/") != "/v1/images/generations":
                    return self._error(404, "not found", "invalid_request_error")
                if fake.key is not None and self.headers.get("Authorization") != f"Bearer {fake.key}":
                    return self._error(401, "Incorrect API key provided", "invalid_request_error")
                fault = fake.script.pop(0) if fake.script else None
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.status != 200:
                        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                        return self._error(fault.status, "scripted failure", "server_error", headers)
                size = str(body.get("size", "1024x1024"))
                if not body.get("prompt") or not body.get("model") or "x" not in size:
                    return self._error(400, "model, prompt and size are required", "invalid_request_error")
                image = base64.b64encode(fake.paint(body)).decode()
                self.send_json(200, {"created": int(time.time()), "data": [{"b64_json": image}]})

            def _error(self, status: int, message: str, kind: str, headers: dict | None = None) -> None:
                self.send_json(status, {"error": {"message": message, "type": kind, "code": None}}, headers)

        self._serve(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
