"""What a request over HTTP may ask for, and the checked job it becomes.

Only options that choose what the film is are taken from a request. Anything that reaches the server's
files, programs, environment or network (paths, binaries, config folders, server URLs, the names of the
variables that hold keys) comes from the server's own settings (`moviefactory serve --config FILE`), so
a request can neither read the server's files nor send its keys elsewhere. A footage film names an
upload (`media`: an id from POST /api/media), looked up in the queue, never a path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from ..errors import MovieFactoryError
from ..options import FilmOptions
from .menu import FROM_REQUEST, LIBRARIES, usable_renderer, usable_tts

class RequestError(Exception):
    """A request the studio refuses: 422 with the field it is about (FastAPI's shape: loc + msg)."""

    def __init__(self, loc: tuple[Any, ...], msg: str, status: int = 422) -> None:
        super().__init__(msg)
        self.loc, self.msg, self.status = loc, msg, status

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": ["body", *self.loc], "msg": self.msg, "type": "value_error"}]


@dataclass(frozen=True)
class FilmRequest:
    kind: str  # make | render
    theme: str
    options: dict[str, Any]
    screenplay: dict[str, Any] | None
    run_id: str

    def child_job(self, config: str | None, output: Path) -> dict[str, Any]:
        return {"kind": self.kind, "theme": self.theme, "options": {**self.options, "output": str(output)},
                "screenplay": self.screenplay, "config": config, "run_id": self.run_id}


def film_options(body: dict[str, Any], media: Callable[[str], Path | None], prefix: tuple = ()) -> dict[str, Any]:
    """The film options in a request body, typed; an unknown, server-only or invalid one is a RequestError."""
    options = {}
    for key, value in body.items():
        if key in ("theme", "screenplay"):
            continue
        if key not in FilmOptions.model_fields:
            raise RequestError((*prefix, key), f"unknown option {key!r} (GET /api/options lists them)")
        if key not in FROM_REQUEST:
            raise RequestError((*prefix, key), f"{key} is the server's setting, not a request's "
                                               "(moviefactory serve --config FILE sets it)")
        if value is None:
            continue
        if key in ("music", "sfx") and value not in LIBRARIES:
            raise RequestError((*prefix, key), f"{key}: {' or '.join(LIBRARIES)} (a library folder is the "
                                               "server's setting)")
        if key == "voice" and not _voice_id(value):
            raise RequestError((*prefix, key), "a voice id (moviefactory voices lists them), not a path")
        if key == "media":
            folder = media(str(value))
            if folder is None:
                raise RequestError((*prefix, key), f"no upload {value!r} (POST /api/media returns the id)")
            value = folder
        options[key] = value
    try:
        typed = FilmOptions.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RequestError((*prefix, *error["loc"]), error["msg"].removeprefix("Value error, ")) from None
    return {key: getattr(typed, key) for key in options}


def film_request(body: Any, *, config: str | None, output: Path, media: Callable[[str], Path | None]) -> FilmRequest:
    """A film (or plan) request checked as make_film / render would check it; nothing is written."""
    from ..api import render_job
    from ..job import resolve_job
    from ..screenplay import Screenplay

    if not isinstance(body, dict):
        raise RequestError((), "expected a JSON object: {\"theme\": ..., options} or {\"screenplay\": ...}")
    options = film_options(body, media)
    _usable_here(options, config)
    given = {**options, "output": output}
    try:
        if body.get("screenplay") is not None:
            try:
                screenplay = Screenplay.model_validate(body["screenplay"])
            except ValidationError as exc:
                error = exc.errors()[0]
                raise RequestError(("screenplay", *error["loc"]), error["msg"]) from None
            voices = [("narrator", screenplay.narrator.id)] + [
                (f"characters.{n}.voice", c.voice.id) for n, c in enumerate(screenplay.characters)]
            for where, voice in voices:
                if not _voice_id(voice):  # an engine may take a voice that names a file as a sample of it
                    raise RequestError(("screenplay", *where.split("."), "id"), "a voice id, not a path")
            job = render_job(screenplay, given, config=config)
            return FilmRequest("render", job.theme, _plain(options), screenplay.model_dump(mode="json"), job.run_id)
        if "theme" not in body:
            raise RequestError(("theme",), "a theme (one line) or a screenplay is required")
        job = resolve_job(body["theme"], given, config=config)
        return FilmRequest("make", job.theme, _plain(options), None, job.run_id)
    except MovieFactoryError as exc:
        raise RequestError((_field_of(exc.message, body),), exc.one_line()) from None


def _usable_here(options: dict[str, Any], config: str | None) -> None:
    """A renderer or transitions model whose weights are not on this server's disk (or whose service it has
    no key for) is refused: a request must not start a multi-GB download on the server."""
    from ..job import options_layers
    from ..options import build_options

    if not {"renderer", "transitions", "tts"} & set(options):
        return
    try:
        server = build_options(options_layers({k: v for k, v in options.items() if k == "renderer"}, config))
    except MovieFactoryError as exc:
        raise RequestError(("renderer",), exc.one_line()) from None
    if "tts" in options:
        if options["tts"] not in usable_tts(server):
            raise RequestError(("tts",), f"speech engine {options['tts']} is not usable on this server; these are: "
                                         + ", ".join(usable_tts(server)))
    if "renderer" in options:
        needs = usable_renderer(server.renderer, server)
        if needs is not None:
            raise RequestError(("renderer",), f"renderer {server.renderer} is not usable on this server: it needs "
                                              f"{needs} (GET /api/options lists the usable ones)")
    if options.get("transitions"):
        from ..renderers.diffusion.base import check_weights

        try:
            check_weights(options["transitions"], model_path=server.transitions_path, offline=True)
        except MovieFactoryError as exc:
            raise RequestError(("transitions",), f"not on this server: {exc.one_line()}") from None


def _voice_id(value: Any) -> bool:
    return isinstance(value, str) and not any(c in value for c in "/\\") and not value.startswith((".", "~"))


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready (the media folder is the server's own path, kept for the child process only)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}


def _field_of(message: str, body: dict[str, Any]) -> str:
    """The request field a checker's message is about ('--voice: ...', 'renderer ...'), else the theme."""
    text = message.replace("-", "_")
    named = [k for k in body if k in FilmOptions.model_fields and k in text]
    return max(named, key=len) if named else ("screenplay" if "screenplay" in body else "theme")
