"""A real HTTP server on 127.0.0.1 speaking OpenAI's text-to-speech route, as OpenAI documents it:

    POST /v1/audio/speech  {"model", "input", "voice", "response_format": "wav"|"mp3"|..., "speed"}
    -> 200 with the audio bytes (Content-Type audio/wav), or an error status with
       {"error": {"message", "type", "code"}}; a wrong or missing "Authorization: Bearer <key>" -> 401.

It stands in for a remote speech service (OpenAI, Kokoro-FastAPI, LocalAI). `speak(body) -> bytes` makes
the audio (the tests use Piper); `script` can put errors or delays first. Every request is recorded.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from local_server import LocalServer, QuietHandler


@dataclass
class Fault:
    status: int = 500
    delay: float = 0.0  # answer this late (the client times out first)


@dataclass
class FakeSpeech(LocalServer):
    speak: Callable[[dict[str, Any]], bytes]
    key: str | None = None  # the bearer key the server wants (None: any)
    script: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"path": self.path, "body": body,
                                      "authorization": self.headers.get("Authorization", "")})
                if self.path.rstrip("/") != "/v1/audio/speech":
                    return self._error(404, "not found", "invalid_request_error")
                if fake.key is not None and self.headers.get("Authorization") != f"Bearer {fake.key}":
                    return self._error(401, "Incorrect API key provided", "invalid_request_error")
                fault = fake.script.pop(0) if fake.script else None
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.status != 200:
                        return self._error(fault.status, "scripted failure", "server_error")
                if not body.get("input") or not body.get("voice") or not body.get("model"):
                    return self._error(400, "model, input and voice are required", "invalid_request_error")
                self.send_bytes(200, fake.speak(body), "audio/wav")

            def _error(self, status: int, message: str, kind: str) -> None:
                self.send_json(status, {"error": {"message": message, "type": kind, "code": None}})

        self._serve(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
