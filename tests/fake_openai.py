"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol and replays a script.

It stands in for the one thing that cannot exist in tests: a remote LLM. The real `openai` client
talks to it over HTTP. Each request takes the next scripted reply:

    Reply(content="{...}")                 200 with that assistant message
    Reply(status=429) / Reply(status=503)  an error status (the client's own backoff retries it)
    Reply(delay=5)                         answer late (the client times out)
    Reply(status=400, error="response_format is not supported")
    Reply(respond=lambda body: "...")      compute the content from the request body

Every request body and its headers are recorded for assertions.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    error: str = ""
    delay: float = 0.0
    respond: Callable[[dict[str, Any]], str] | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    script: list[Reply] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    default: Reply | None = None  # used when the script runs out

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = fake.script.pop(0) if fake.script else fake.default
                if reply is None:
                    return self._send(500, {"error": {"message": "script exhausted", "type": "server_error"}})
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    return self._send(reply.status, {"error": {"message": reply.error or f"status {reply.status}",
                                                               "type": "invalid_request_error", "code": None}})
                content = reply.respond(body) if reply.respond else reply.content
                self._send(200, {
                    "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
