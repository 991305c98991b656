"""The studio's HTTP app (FastAPI): the API under /api, the page at /, OpenAPI at /docs.

Every route works on the queue (store.py) and the runs the workers (runner.py) make; nothing here
makes a film itself, except POST /api/plans, which writes a screenplay and stops (a plan-only run).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ..errors import InputError, MovieFactoryError
from ..version import __version__
from .requests import RequestError, film_request
from .runner import Hub, Runner, run_files
from .security import TooLarge, install
from .store import ENDED, Store
from .uploads import save_batch, save_media

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {".mp4": "video/mp4", ".srt": "application/x-subrip", ".vtt": "text/vtt", ".ass": "text/plain",
               ".otio": "application/json", ".json": "application/json", ".png": "image/png",
               ".jpg": "image/jpeg", ".txt": "text/plain"}
TERMINAL = ("done", "failed", "cancelled")
FILM_BODY = {"content": {"application/json": {"schema": {
    "type": "object", "description": "A theme and any film option (GET /api/options), or an edited screenplay "
                                     "(from POST /api/plans) and options.",
    "properties": {"theme": {"type": "string"}, "screenplay": {"type": "object"}, "format": {"type": "string"},
                   "lang": {"type": "string"}, "seconds": {"type": "number"}, "draft": {"type": "boolean"},
                   "renderer": {"type": "string"}, "media": {"type": "string"}}}}}, "required": True}


@dataclass(frozen=True)
class Settings:
    output: Path = Path("runs")
    config: str | None = None  # the server's film settings (paths, URLs, keys' variable names live here)
    token: str | None = None
    workers: int = 1
    cors: tuple[str, ...] = ()
    queue_limit: int = 20  # queued films before POST /api/films answers 429
    max_upload_mb: float = 500.0


def create_app(settings: Settings) -> FastAPI:
    output = Path(settings.output).expanduser().resolve()
    output.mkdir(parents=True, exist_ok=True)
    store = Store(output / "studio.sqlite")
    hub = Hub()
    runner = Runner(store, hub, output, settings.config, settings.workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.loop = asyncio.get_running_loop()
        await asyncio.to_thread(adopt_runs, store, output)
        runner.start()
        yield
        await asyncio.to_thread(runner.stop)
        store.close()

    from fastapi_offline import FastAPIOffline  # /docs without a CDN: Swagger UI's files come from the wheel

    app = FastAPIOffline(title="moviefactory studio", version=__version__, lifespan=lifespan,
                         description="Make films from one line: plan, edit, render, follow, download.")
    app.state.store, app.state.runner = store, runner
    install(app, settings.token, settings.cors, int(settings.max_upload_mb * 2**20))
    if settings.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["*"],
                           allow_headers=["*"], allow_credentials=True)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError):
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status)

    def media_folder(upload_id: str) -> Path | None:
        row = store.upload(upload_id)
        return output / ".studio" / "media" / row["id"] if row else None

    def checked(body: Any):
        return film_request(body, config=settings.config, output=output, media=media_folder)

    def film_or_404(film_id: str) -> dict[str, Any]:
        row = store.film(film_id)
        if row is None:
            raise _NotFound(f"no film {film_id!r}")
        return row

    def queue_room(needed: int = 1) -> None:
        queued = store.count("queued")
        if queued + needed > settings.queue_limit:
            wait = 30 * max(1, (queued + needed - settings.queue_limit) // settings.workers + 1)
            raise _Busy(f"the queue is full ({queued} films waiting); try again later", wait)

    # --- the page --------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # --- films -----------------------------------------------------------------------------------------
    @app.get("/api/options", tags=["studio"])
    def options():
        """Formats, languages, speech engines, the renderers usable here (and what each needs), defaults."""
        from ..job import options_layers
        from ..options import build_options
        from .menu import menu

        return menu(build_options(options_layers({}, settings.config)))

    @app.post("/api/plans", tags=["films"], openapi_extra={"requestBody": FILM_BODY})
    async def plan_film(request: Request):
        """Write the screenplay for a theme and options, and return it (edit it, then POST /api/films)."""
        body = await _json(request)
        job = checked(body)
        if job.kind != "make":
            raise RequestError(("theme",), "a plan is made from a theme")
        row = store.film(job.run_id)
        if row is not None and row["status"] in ("queued", "running"):  # the same run: one writer at a time
            raise RequestError(("theme",), f"this film ({job.run_id}) is {row['status']}; plan it when it has "
                                           "ended, or change an option", status=409)
        from ..api import plan

        try:
            result = await asyncio.to_thread(plan, job.theme, config=settings.config,
                                             **{**job.options, "output": output})
        except InputError as exc:
            raise RequestError(("theme",), exc.one_line()) from None
        except MovieFactoryError as exc:  # the writer failed (its model server, a reply that never validated)
            return JSONResponse({"detail": exc.one_line()}, status_code=502)
        return result.screenplay.model_dump(mode="json")

    @app.post("/api/films", status_code=202, tags=["films"], openapi_extra={"requestBody": FILM_BODY})
    async def add_film(request: Request):
        """Queue a film: {theme, ...options} or {screenplay, ...options}. The same request twice is the same
        film: one still queued or running is left as it is; one that ended is continued."""
        job = checked(await _json(request))
        row = store.film(job.run_id)
        if row is None or row["status"] in ENDED:
            queue_room()
            hub.publish(job.run_id, "queued", {"status": "queued"})  # a new attempt: the last one's events go
        store.add_film(job.run_id, job.kind, {"kind": job.kind, "theme": job.theme, "options": job.options,
                                              "screenplay": job.screenplay}, job.theme)
        return {"id": job.run_id}

    @app.get("/api/films", tags=["films"])
    async def list_films():
        """Every film the studio knows, newest first."""
        return [_summary(row, output) for row in store.films()]

    @app.get("/api/films/{film_id}", tags=["films"])
    async def get_film(film_id: str):
        """A film's status (queued, running, done, failed, cancelled), stage, progress, error and files."""
        # answered on the event loop, straight to JSON: pollers cost a film as little as they can
        return JSONResponse(_state(film_or_404(film_id), output))

    @app.delete("/api/films/{film_id}", status_code=202, tags=["films"])
    def cancel_film(film_id: str):
        """Stop a film: its process and the tools it runs end; the run keeps what is finished (resume it)."""
        row = film_or_404(film_id)
        if not runner.cancel(film_id):
            raise RequestError(("id",), f"film {film_id} has already ended ({row['status']})", status=409)
        return {"id": film_id, "status": "cancelled"}

    @app.post("/api/films/{film_id}/resume", status_code=202, tags=["films"])
    def resume(film_id: str):
        """Continue a failed, cancelled (or finished) film from its run's checkpoint: finished shots are kept.
        A run made from the command line (in the same output folder) can be resumed here too."""
        row = store.film(film_id)
        if row is None:
            if film_id not in _run_ids(output):
                raise _NotFound(f"no film {film_id!r}")
            queue_room()
            store.add_film(film_id, "resume", {"kind": "resume", "options": {}}, _theme_of(output, film_id))
            hub.publish(film_id, "queued", {"status": "queued"})
            return {"id": film_id}
        if row["status"] not in ENDED:
            raise RequestError(("id",), f"film {film_id} is {row['status']}", status=409)
        queue_room()
        hub.publish(film_id, "queued", {"status": "queued"})  # first: a worker may claim it at once
        if not store.requeue(film_id):  # two resumes at once: the second finds it queued already
            raise RequestError(("id",), f"film {film_id} is queued already", status=409)
        return {"id": film_id}

    @app.get("/api/films/{film_id}/events", tags=["films"])
    async def film_events(film_id: str, request: Request):
        """Server-sent events: status, stage, shot (with its thumbnail), progress, note, then done, failed or
        cancelled."""
        film_or_404(film_id)
        queue: asyncio.Queue = asyncio.Queue()
        replay = hub.subscribe(film_id, queue)

        async def stream():
            try:
                row = store.film(film_id)
                yield _sse("status", _state(row, output))
                seen_end = row["status"] in TERMINAL and not replay
                for name, data in replay:
                    yield _sse(name, data)
                    seen_end = seen_end or name in TERMINAL
                if seen_end or (row["status"] in TERMINAL and replay and replay[-1][0] in TERMINAL):
                    return
                while True:
                    try:
                        name, data = await asyncio.wait_for(queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        now = store.film(film_id)
                        if now is None or now["status"] in TERMINAL:  # ended without a word to us
                            yield _sse("status", _state(now, output) if now else {"id": film_id})
                            return
                        yield ": keep-alive\n\n"
                        continue
                    yield _sse(name, data)
                    if name in TERMINAL:
                        return
            finally:
                hub.unsubscribe(film_id, queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/films/{film_id}/files/{name}", tags=["films"])
    def film_file(film_id: str, name: str):
        """One of the film's files (film.mp4 with HTTP Range, captions, film.otio, contact_sheet.png,
        report.json, thumbnails), by name; anything else is 404."""
        film_or_404(film_id)
        path = run_files(output, film_id).get(name)
        if path is None:
            raise _NotFound(f"film {film_id} has no file {name!r}")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                            filename=None if path.suffix in (".mp4", ".png", ".jpg", ".vtt") else path.name)

    # --- batches and media -----------------------------------------------------------------------------
    @app.post("/api/batches", status_code=202, tags=["batches"])
    async def add_batch(request: Request):
        """A batch: an uploaded batch file (multipart field `file`: .txt, .csv, .jsonl or .yaml) or JSON
        {"themes": [...], ...options for all}. Each film is queued like POST /api/films."""
        batch_id = "b-" + uuid.uuid4().hex[:12]
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            name, bodies = await save_batch(request, output / ".studio" / "batches", batch_id, settings.max_upload_mb)
        else:
            body = await _json(request)
            themes = body.get("themes") if isinstance(body, dict) else None
            if not isinstance(themes, list) or not themes:
                raise RequestError(("themes",), "a list of themes (or upload a batch file as `file`)")
            common = {k: v for k, v in body.items() if k not in ("themes", "name")}
            name, bodies = str(body.get("name") or "themes"), [{**common, "theme": t} for t in themes]
        jobs = []
        for n, body in enumerate(bodies):
            at = body.pop("_at", None)
            if "screenplay" in body:
                raise RequestError(("films", n, "screenplay"), "a batch is made of themes; send an edited "
                                                               "screenplay with POST /api/films")
            if isinstance(body.get("theme"), (int, float)) and not isinstance(body["theme"], bool):
                body["theme"] = str(body["theme"])  # `- 1984` is a theme
            try:
                jobs.append(checked(body))
            except RequestError as exc:
                raise RequestError(("films", n, *exc.loc), f"{at}: {exc.msg}" if at else exc.msg) from None
        queue_room(len(jobs))
        for job in jobs:
            if store.add_film(job.run_id, job.kind, {"kind": job.kind, "theme": job.theme, "options": job.options,
                                                     "screenplay": None}, job.theme, batch=batch_id):
                hub.publish(job.run_id, "queued", {"status": "queued"})
        store.add_batch(batch_id, name, [job.run_id for job in jobs])
        return {"id": batch_id, "films": [job.run_id for job in jobs]}

    @app.get("/api/batches/{batch_id}", tags=["batches"])
    def get_batch(batch_id: str):
        """A batch's films and their status; the batch is running until every film has ended."""
        row = store.batch(batch_id)
        if row is None:
            raise _NotFound(f"no batch {batch_id!r}")
        films = [_summary(store.film(fid), output) for fid in row["films"] if store.film(fid)]
        counts = {s: sum(f["status"] == s for f in films) for s in ("queued", "running", "done", "failed", "cancelled")}
        status = "running" if counts["queued"] + counts["running"] else ("done" if counts["done"] == len(films)
                                                                        else "failed")
        return {"id": batch_id, "name": row["name"], "status": status, "counts": counts, "films": films}

    @app.post("/api/media", status_code=201, tags=["media"])
    async def upload_media(request: Request):
        """Photos and clips for the footage renderer (multipart field `files`; JPEG, PNG, WebP, MP4, MOV,
        WebM, checked by content). Returns an id: give it as `media` with renderer footage."""
        upload_id = "m-" + uuid.uuid4().hex[:12]
        files = await save_media(request, output / ".studio" / "media" / upload_id, settings.max_upload_mb)
        store.add_upload(upload_id, files)
        return {"media": upload_id, "files": files}

    app.add_exception_handler(TooLarge, _too_large)
    app.add_exception_handler(_NotFound, _not_found)
    app.add_exception_handler(_Busy, _busy)
    app.add_exception_handler(InputError, _input_error)
    return app


class _NotFound(Exception):
    pass


class _Busy(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def _too_large(request: Request, exc: TooLarge):
    return JSONResponse({"detail": str(exc)}, status_code=413)


async def _not_found(request: Request, exc: _NotFound):
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _busy(request: Request, exc: _Busy):
    return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def _input_error(request: Request, exc: InputError):
    return JSONResponse({"detail": [{"loc": ["body"], "msg": exc.one_line(), "type": "value_error"}]},
                        status_code=422)


async def _json(request: Request) -> Any:
    # JSON only as application/json: a web page elsewhere cannot send that without a CORS preflight,
    # so it cannot queue films on a studio it does not own (a text/plain POST needs none)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise RequestError((), "send JSON with Content-Type: application/json", status=415)
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise RequestError((), f"the body is not JSON ({str(exc)[:200]})") from None


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _summary(row: dict[str, Any], output: Path, files: dict[str, Path] | None = None) -> dict[str, Any]:
    files = run_files(output, row["id"]) if files is None else files
    thumbs = sorted(n for n in files if n.startswith("thumb-")) or [n for n in ("contact_sheet.png",) if n in files]
    return {"id": row["id"], "theme": row["theme"], "title": row["title"], "status": row["status"],
            "stage": row["stage"], "progress": row["progress"], "error": row["error"], "kind": row["kind"],
            "batch": row["batch"], "created": row["created"], "thumb": thumbs[0] if thumbs else None,
            "has_film": "film.mp4" in files and row["status"] == "done"}


def _state(row: dict[str, Any], output: Path) -> dict[str, Any]:
    files = run_files(output, row["id"])
    elapsed = None
    if row["started"]:
        elapsed = round((row["finished"] or time.time()) - row["started"], 2)
    return {**_summary(row, output, files), "files": sorted(files), "elapsed": elapsed,
            "shots": sorted(n for n in files if n.startswith("thumb-")), "started": row["started"],
            "finished": row["finished"]}


def adopt_runs(store: Store, output: Path) -> None:
    """Runs in the output folder that the studio did not make (the CLI's, a batch's) join its history: a
    finished one as done, one that stopped after it began rendering as cancelled (resumable). A run that
    holds only a screenplay (a plan) is not a film yet and is left out."""
    for run_id in _run_ids(output):
        if store.film(run_id) is not None:
            continue
        root = output / run_id
        try:
            report = json.loads((root / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        created = (root / "run.json").stat().st_mtime
        if report is not None and (root / "film.mp4").is_file():
            store.add_ended(run_id, _theme_of(output, run_id), "done", report.get("title"), None, created)
        elif (root / "scenes").is_dir() or (root / "audio").is_dir():
            store.add_ended(run_id, _theme_of(output, run_id), "cancelled", None,
                            "stopped before the end, outside the studio: resume it to finish", created)


def _run_ids(output: Path) -> set[str]:
    return {e.name for e in os.scandir(output) if e.is_dir() and (Path(e.path) / "run.json").is_file()}


def _theme_of(output: Path, run_id: str) -> str:
    try:
        return json.loads((output / run_id / "run.json").read_text(encoding="utf-8"))["theme"]
    except (OSError, ValueError, KeyError):
        return run_id


__all__ = ["Settings", "create_app"]
