"""A real HTTP + WebSocket server on 127.0.0.1 speaking ComfyUI's API as its server documents it
(server.py routes, the websocket message types its frontend and API examples read):

    POST /prompt {"prompt": <workflow, API format>, "client_id"} -> {"prompt_id", "number", "node_errors": {}}
         a node without class_type/inputs -> 400 {"error": {"type", "message"}, "node_errors": {...}}
    GET  /ws?clientId=<id>  (RFC 6455 upgrade) -> JSON text messages to that client:
         {"type": "status"}, {"type": "execution_start", "data": {"prompt_id"}},
         {"type": "executing", "data": {"node", "prompt_id"}}, {"type": "progress", "data": {"value", "max",
         "prompt_id", "node"}}, {"type": "executed", "data": {"node", "output", "prompt_id"}},
         {"type": "executing", "data": {"node": null, "prompt_id"}} when done, or {"type": "execution_error", ...}
    GET  /history/<prompt_id> -> {<prompt_id>: {"prompt": [...], "outputs": {<node>: {"images": [{"filename",
         "subfolder", "type": "output"}]}}, "status": {"status_str": "success", "completed": true}}}
    GET  /view?filename=&subfolder=&type=output -> the file

It "runs" a workflow the way the graph says, not the way our mapping does: it follows the sampler's
`positive` link to its CLIPTextEncode for the prompt, reads the size (and a video's length) from the
latent node, and the save node's class decides the file: SaveImage a PNG, SaveWEBM a .webm of
`length` frames at its `fps`. `make(prompt, width, height, frames, fps) -> (bytes, suffix)` paints it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, urlparse

from local_server import LocalServer, QuietHandler

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
SAVERS = ("SaveImage", "SaveWEBM", "SaveAnimatedWEBP", "VHS_VideoCombine", "SaveVideo")


@dataclass
class FakeComfyUI(LocalServer):
    make: Callable[[str, int, int, int, float], tuple[bytes, str]]
    fail_node: str | None = None  # this node raises an execution_error
    steps: int = 4  # progress messages per prompt
    delay: float = 0.0  # seconds per step
    prompts: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self
        self.files: dict[str, bytes] = {}
        self.history: dict[str, dict] = {}
        self.clients: dict[str, queue.Queue] = {}

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                fake.requests.append(f"POST {self.path}")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if urlparse(self.path).path != "/prompt":
                    return self.send_json(404, {"error": "not found"})
                graph, client = body.get("prompt"), body.get("client_id")
                bad = {k: n for k, n in (graph or {}).items() if not isinstance(n, dict) or "class_type" not in n
                       or "inputs" not in n} if isinstance(graph, dict) else {"?": None}
                if not graph or bad:
                    return self.send_json(400, {"error": {"type": "prompt_outputs_failed_validation",
                                                      "message": "Prompt outputs failed validation"},
                                            "node_errors": {k: {"errors": [{"message": "missing class_type"}]}
                                                            for k in bad}})
                prompt_id = str(uuid.uuid4())
                fake.prompts.append({"prompt_id": prompt_id, "graph": graph, "client_id": client})
                threading.Thread(target=fake._execute, args=(prompt_id, graph, client), daemon=True).start()
                self.send_json(200, {"prompt_id": prompt_id, "number": len(fake.prompts), "node_errors": {}})

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append(f"GET {url.path}")
                if url.path == "/ws":
                    return self._websocket(parse_qs(url.query).get("clientId", [""])[0])
                if url.path.startswith("/history/"):
                    pid = url.path[len("/history/"):]
                    return self.send_json(200, {pid: fake.history[pid]} if pid in fake.history else {})
                if url.path == "/view":
                    name = parse_qs(url.query).get("filename", [""])[0]
                    if name not in fake.files:
                        return self.send_json(404, {"error": "no such file"})
                    return self.send_bytes(200, fake.files[name], "application/octet-stream")
                return self.send_json(404, {"error": "not found"})

            def _websocket(self, client: str) -> None:
                key = self.headers.get("Sec-WebSocket-Key", "")
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                inbox = fake.clients.setdefault(client, queue.Queue())
                self._frame(json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                                   "sid": client}}))
                self.connection.settimeout(0.05)
                while True:  # send what the executions post; stop when the client closes
                    try:
                        if not self.connection.recv(1, 2):  # MSG_PEEK: the client hung up
                            return
                        return  # anything from the client (its close frame): done
                    except (TimeoutError, BlockingIOError, OSError):
                        pass
                    try:
                        self._frame(inbox.get(timeout=0.05))
                    except queue.Empty:
                        continue
                    except (BrokenPipeError, ConnectionResetError):
                        return

            def _frame(self, text: str) -> None:
                data = text.encode()
                head = bytes([0x81]) + (bytes([len(data)]) if len(data) < 126 else
                                        bytes([126]) + len(data).to_bytes(2, "big") if len(data) < 65536 else
                                        bytes([127]) + len(data).to_bytes(8, "big"))
                self.wfile.write(head + data)
                self.wfile.flush()

        self._serve(Handler)

    def _post(self, client: str, kind: str, data: dict) -> None:
        self.clients.setdefault(client, queue.Queue()).put(json.dumps({"type": kind, "data": data}))

    def _execute(self, prompt_id: str, graph: dict, client: str) -> None:
        time.sleep(0.05)
        send = lambda kind, **data: self._post(client, kind, {**data, "prompt_id": prompt_id})  # noqa: E731
        send("execution_start", timestamp=int(time.time() * 1000))
        sampler = next(k for k, n in graph.items() if n["class_type"].startswith("KSampler"))
        positive = graph[str(graph[sampler]["inputs"]["positive"][0])]["inputs"]["text"]
        latent = graph[str(graph[sampler]["inputs"]["latent_image"][0])]["inputs"]
        saver = next(k for k, n in graph.items() if n["class_type"] in SAVERS)
        for node in graph:
            send("executing", node=node)
            if node == self.fail_node:
                send("execution_error", node_id=node, node_type=graph[node]["class_type"],
                     exception_message="CUDA out of memory. Tried to allocate 2.00 GiB", exception_type="OutOfMemoryError")
                self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {}, [saver]], "outputs": {},
                                           "status": {"status_str": "error", "completed": False}}
                return
            if node == sampler:
                for step in range(1, self.steps + 1):
                    time.sleep(self.delay)
                    send("progress", value=step, max=self.steps, node=node)
        frames = int(latent.get("length", 1))
        fps = float(graph[saver]["inputs"].get("fps", 8) or 8)
        data, suffix = self.make(positive, int(latent["width"]), int(latent["height"]), frames, fps)
        name = f"{graph[saver]['inputs'].get('filename_prefix', 'ComfyUI')}_{len(self.files) + 1:05d}_{suffix}"
        self.files[name] = data
        output = {"images": [{"filename": name, "subfolder": "", "type": "output"}]}
        send("executed", node=saver, output=output)
        self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {}, [saver]], "outputs": {saver: output},
                                   "status": {"status_str": "success", "completed": True, "messages": []}}
        send("executing", node=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
