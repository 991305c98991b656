"""`--renderer comfyui --comfyui-url URL --workflow FILE.json`: shots made by a running ComfyUI server.

A workflow is ComfyUI's API format (its "Save (API)" export); the nodes that receive the prompt, the
negative prompt, the seed, the size and the frame count are named in a mapping beside it (FILE.yaml,
see configs/comfyui/). Per shot: POST /prompt {prompt, client_id}; follow the /ws websocket
("progress" value/max, shown in our progress display; "executing" with no node ends it;
"execution_error" fails it); GET /history/{prompt_id} for the output node's files; GET /view for each.
A still is played with the shot's camera move; a clip is fitted to the shot like the user's own.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import uuid
from pathlib import Path
from urllib.parse import urlparse

from ...errors import InputError, RenderError
from ...media.camera import SUFFIX
from ...screenplay import Shot
from ...secrets import public_url
from ..base import RenderContext, keyframe_prompts, register_renderer
from .fit import clip_shot, still_shot

FIELDS = ("prompt", "negative", "seed", "width", "height", "frames", "fps")


def load_workflow(path: Path) -> tuple[dict, dict]:
    """The workflow (API format) and its mapping (the .yaml beside it), checked against each other."""
    from ...yamlfile import read_yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"no ComfyUI workflow at {path}")
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(graph, dict) or not all(isinstance(n, dict) and "class_type" in n for n in graph.values()):
        raise InputError(f"{path} is not a workflow in ComfyUI's API format (export it with Save (API))")
    mapping_path = path.with_suffix(".yaml")
    if not mapping_path.is_file():
        raise InputError(f"{path.name} needs a mapping beside it, {mapping_path.name}, naming the nodes that receive "
                         f"the prompt, seed, size and output (see configs/comfyui/)")
    mapping = read_yaml(mapping_path, "ComfyUI workflow mapping") or {}
    for name in ("prompt", "output"):
        if name not in mapping:
            raise InputError(f"{mapping_path.name}: name the {name} node ({name}: {{node: ID}})")
    for name in (*FIELDS, "output"):
        spot = mapping.get(name)
        if spot is None:
            continue
        node = str(spot.get("node"))
        if node not in graph:
            raise InputError(f"{mapping_path.name}: {name} names node {node}, which {path.name} does not have")
        if name != "output" and spot.get("input") not in graph[node].get("inputs", {}):
            raise InputError(f"{mapping_path.name}: node {node} ({graph[node]['class_type']}) has no input "
                             f"{spot.get('input')!r} for the {name}")
    if mapping.get("kind", "still") not in ("still", "clip"):
        raise InputError(f"{mapping_path.name}: kind is still or clip")
    return graph, mapping


class ComfyUIRenderer:
    name = "comfyui"

    def __init__(self, url: str, workflow: Path, *, aspect: float = 16 / 9, timeout: float = 600.0) -> None:
        self.url, self.aspect, self.timeout = server_address(url), aspect, timeout
        self.workflow_path = Path(workflow).expanduser()
        self.graph, self.mapping = load_workflow(self.workflow_path)
        self.kind = self.mapping.get("kind", "still")
        self.suffix = SUFFIX if self.kind == "still" else ".mp4"
        self._digest = hashlib.sha256(json.dumps([self.graph, self.mapping], sort_keys=True).encode()).hexdigest()[:12]

    def cache_token(self) -> str:
        return f"comfyui-1 {public_url(self.url)} {self.workflow_path.name} {self._digest}"

    # --- the workflow for one shot --------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        w0, h0 = self.mapping.get("size", [1024, 1024])
        m = int(self.mapping.get("multiple", 64))
        w = math.sqrt(w0 * h0 * self.aspect)
        return max(m, round(w / m) * m), max(m, round(w / self.aspect / m) * m)

    def frames(self, seconds: float) -> tuple[int, float]:
        """Frames to ask for (the model's rule, at most its maximum) and the rate they are made at."""
        fps = float(self.mapping.get("fps_value") or self._input("fps") or 16)
        a, b = self.mapping.get("frame_rule", [1, 0])
        want = min(int(self.mapping.get("max_frames", 121)), max(b + a, math.ceil(seconds * fps)))
        return (max(1, (want - b + a - 1) // a) * a + b), fps

    def shot_graph(self, shot: Shot, ctx: RenderContext) -> dict:
        graph = copy.deepcopy(self.graph)
        prompts = keyframe_prompts(shot, ctx)
        width, height = self.size()
        frames, fps = self.frames(float(ctx.frames / ctx.fps))
        values = {"prompt": prompts.prompt, "negative": prompts.negative, "seed": ctx.seed % 2**48,
                  "width": width, "height": height, "frames": frames, "fps": fps}
        for name, value in values.items():
            spot = self.mapping.get(name)
            if spot is not None:
                graph[str(spot["node"])]["inputs"][spot["input"]] = value
        return graph

    def _input(self, name: str):
        spot = self.mapping.get(name)
        return self.graph[str(spot["node"])]["inputs"].get(spot["input"]) if spot else None

    # --- one shot ---------------------------------------------------------------------------------
    def render(self, shot: Shot, ctx: RenderContext, out: Path):
        data, filename = self._run(self.shot_graph(shot, ctx), ctx)
        if self.kind == "still":
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(data)) as image:
                    return still_shot(image, shot, ctx, out)
            except (UnidentifiedImageError, OSError) as exc:
                raise RenderError(f"ComfyUI at {public_url(self.url)} sent {filename}, which is not a picture",
                                  stage="render", scene=ctx.scene.id) from exc
        source = Path(out).with_name(f".{Path(out).name}.source{Path(filename).suffix or '.mp4'}")
        try:
            source.write_bytes(data)
            return clip_shot(source, shot, ctx, out)
        finally:
            source.unlink(missing_ok=True)

    def _run(self, graph: dict, ctx: RenderContext) -> tuple[bytes, str]:
        import httpx
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        where, said = dict(stage="render", scene=ctx.scene.id), f"ComfyUI at {public_url(self.url)}"
        client_id = uuid.uuid4().hex
        ws_url = ("wss" if self.url.startswith("https") else "ws") + self.url[self.url.index(":"):] + \
            f"/ws?clientId={client_id}"
        try:
            with connect(ws_url, open_timeout=30, max_size=None) as ws, httpx.Client(timeout=60) as http:
                reply = http.post(f"{self.url}/prompt", json={"prompt": graph, "client_id": client_id})
                if reply.status_code != 200:
                    raise RenderError(f"{said} refused the workflow ({reply.status_code}): {_why(reply)}", **where)
                prompt_id = reply.json().get("prompt_id")
                self._follow(ws, prompt_id, ctx, said)
                history = http.get(f"{self.url}/history/{prompt_id}").json().get(prompt_id, {})
                files = _files(history.get("outputs", {}).get(str(self.mapping["output"]["node"]), {}))
                if not files:
                    raise RenderError(f"{said} finished, but its output node {self.mapping['output']['node']} "
                                      f"made no file", **where)
                f = files[0]
                view = http.get(f"{self.url}/view", params={"filename": f["filename"],
                                                            "subfolder": f.get("subfolder", ""),
                                                            "type": f.get("type", "output")})
                if view.status_code != 200:
                    raise RenderError(f"{said} would not send {f['filename']} ({view.status_code})", **where)
                return view.content, f["filename"]
        except (OSError, WebSocketException, httpx.HTTPError, TimeoutError) as exc:
            raise RenderError(f"{said} cannot be reached or stopped answering ({type(exc).__name__})", **where) from None

    def _follow(self, ws, prompt_id: str, ctx: RenderContext, said: str) -> None:
        """Messages until this prompt is done: progress to the display, an error to one line."""
        import time

        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RenderError(f"{said} did not finish the shot in {self.timeout:.0f} s", stage="render",
                                  scene=ctx.scene.id)
            message = ws.recv(timeout=left)
            if isinstance(message, bytes):  # a preview picture
                continue
            event = json.loads(message)
            kind, data = event.get("type"), event.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue  # another client's work
            if kind == "progress" and ctx.report is not None:
                ctx.report(f"comfyui {data.get('value', 0)}/{data.get('max', 0)}")
            elif kind == "execution_error":
                raise RenderError(f"{said} failed in node {data.get('node_id')} ({data.get('node_type')}): "
                                  f"{str(data.get('exception_message', '')).strip()[:200]}", stage="render",
                                  scene=ctx.scene.id)
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None
                                                 and data.get("prompt_id") == prompt_id):
                return


def _files(output: dict) -> list[dict]:
    return [f for key in ("images", "gifs", "videos", "animated") for f in output.get(key, []) or []
            if isinstance(f, dict) and f.get("filename")]


def _why(reply) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:200]
    error = body.get("error") or {}
    nodes = body.get("node_errors") or {}
    first = next(iter(nodes.items()), None)
    detail = f"; node {first[0]}: {first[1].get('errors', [{}])[0].get('message', '')}" if first else ""
    return f"{error.get('message', 'invalid prompt')}{detail}"


DEFAULT_URL = "http://127.0.0.1:8188"


def server_address(url: str | None) -> str:
    """The server's address without a trailing slash; not an http(s) address is one line."""
    url = url or DEFAULT_URL
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"--comfyui-url: {url!r} is not an http(s) address")
    return parsed.geturl().rstrip("/")


def workflow_path(workflow: str | Path | None) -> Path:
    """A workflow file, or the name of a built-in one (wan-t2v.json); the default is sdxl-still.json."""
    from ...resources import config_path

    path = Path(workflow).expanduser() if workflow else config_path("comfyui/sdxl-still.json")
    if workflow and not path.is_file() and config_path(f"comfyui/{workflow}").is_file():
        path = config_path(f"comfyui/{workflow}")
    return path


@register_renderer("comfyui")
def create_comfyui(*, comfyui_url: str | None = None, workflow: str | Path | None = None, aspect: float = 16 / 9,
                   **_options) -> ComfyUIRenderer:
    return ComfyUIRenderer(server_address(comfyui_url), workflow_path(workflow), aspect=aspect)
