"""One studio film in its own process: the pipeline's progress events go back to the server through a
pipe as they happen, each shot's thumbnail is cut as the shot lands, and the outcome comes last.

The process leads its own process group, so cancelling the film stops it and every tool it started
(ffmpeg, a model's workers) at once. It also holds the reading end of a "lifeline" pipe from the
server: when the server dies, the pipe closes and the film ends its own group, so a restarted server
never finds a film of the old one still writing into a run it continues.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

THUMBS = "thumbs"  # in the run directory: a small JPEG of each shot, named after the shot


def film_main(job: dict[str, Any], events: Connection, lifeline: Connection) -> None:
    os.setpgrp()
    threading.Thread(target=_watch_server, args=(lifeline,), daemon=True).start()
    lock = threading.Lock()  # shots finish on several threads; the pipe takes one message at a time

    def send(kind: str, data: dict[str, Any]) -> None:
        with lock:
            events.send((kind, data))

    from ..errors import MovieFactoryError

    try:
        result = _make(job, Relay(send, Path(job["options"]["output"]) / job["run_id"]))
        send("done", {"run_id": result.run_id, "title": result.title, "duration": result.duration})
    except MovieFactoryError as exc:
        send("failed", {"error": exc.one_line(), "exit_code": exc.exit_code})
    except Exception as exc:  # noqa: BLE001 - a bug is this film's failure, in words, not the server's
        send("failed", {"error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": 70})
    events.close()


def _watch_server(lifeline: Connection) -> None:
    try:
        lifeline.recv()  # never sent: returns (EOFError) only when the server's end closes
    except (EOFError, OSError):
        pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _make(job: dict[str, Any], progress):
    from ..api import make_film, render, resume_film
    from ..screenplay import Screenplay

    options, config = dict(job["options"]), job.get("config")
    if job["kind"] == "resume":
        return resume_film(job["run_id"], output=options["output"], progress=progress)
    if job["kind"] == "render":
        return render(Screenplay.model_validate(job["screenplay"]), config=config, progress=progress, **options)
    return make_film(job["theme"], config=config, progress=progress, **options)


class Relay:
    """The pipeline's progress callback in the film's process: each Event as a message, stamped with the
    time it happened; a finished shot also gets its thumbnail."""

    def __init__(self, send, run_root: Path) -> None:
        self.send, self.root, self.shots = send, run_root, 0
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        data = {"stage": event.stage, "kind": event.kind, "done": event.done, "total": event.total,
                "detail": event.detail, "t": time.time()}
        if event.stage == "render" and event.kind in ("step", "cached"):
            with self.lock:
                self.shots += 1
                data.update(shot=self.shots, shots=event.total)
            if event.artifact:
                data["thumb"] = self._thumbnail(event.artifact)
        self.send("event", data)

    def _thumbnail(self, artifact: str) -> str | None:
        """A 320-pixel-wide JPEG of the shot (a still's picture, or a clip's frame at 0.4 s)."""
        from ..errors import ToolError
        from ..media.camera import SUFFIX, is_still

        clip = self.root / artifact
        name = clip.name.removesuffix(SUFFIX).rsplit(".", 1)[0] + ".jpg"
        out = self.root / THUMBS / name
        if out.is_file():
            return name
        out.parent.mkdir(exist_ok=True)
        part = out.with_name(f".{name}.{os.getpid()}.part.jpg")
        try:
            _still_thumbnail(clip, part) if is_still(clip) else _clip_thumbnail(clip, part)
            part.replace(out)
        except (ToolError, OSError, ValueError):
            part.unlink(missing_ok=True)
            return None
        return name


def _still_thumbnail(still: Path, out: Path) -> None:
    import numpy as np
    from PIL import Image

    from ..media.camera import read_still, rgb_from_yuv420

    (y, u, v), _, _ = read_still(still)
    rgb = rgb_from_yuv420(np.concatenate([y.ravel(), u.ravel(), v.ravel()]), y.shape[1], y.shape[0])
    picture = Image.fromarray(rgb)
    picture.thumbnail((320, 320 * picture.height // max(1, picture.width)))
    picture.save(out, format="JPEG", quality=82)


def _clip_thumbnail(clip: Path, out: Path) -> None:
    from ..media.ffmpeg import ffmpeg_binary, run_ffmpeg

    seek = ["-ss", "0.4"] if clip.suffix in (".mp4", ".webm", ".mov", ".mkv") else []
    run_ffmpeg(ffmpeg_binary(), [*seek, "-i", str(clip), "-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "5",
                                 "-f", "mjpeg", str(out)], stage="render")
