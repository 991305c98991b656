"""The studio's door, one ASGI middleware in front of every route:

- With a token, every request needs it, in a header (`Authorization: Bearer T` or `X-Studio-Token: T`)
  or in the cookie the login form sets (an HMAC of the token, not the token); compared in constant time.
  `moviefactory serve` refuses to listen on anything but localhost without a token.
- Without one (localhost only), the Host header must name localhost: a web page on another site that
  rebinds its own name to 127.0.0.1 (DNS rebinding) is refused.
- A request that changes something (not GET/HEAD/OPTIONS) from a page on another origin is refused,
  unless `--cors` lets that origin in.
- No request body is larger than its route allows, however it is sent (chunked bodies are counted as
  they arrive, not trusted by their Content-Length).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from html import escape
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import cookie_parser

from ..errors import InputError

COOKIE = "studio_session"
OPEN = ("/login",)  # the only path a visitor without the token may reach
SAFE = ("GET", "HEAD", "OPTIONS")
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
JSON_LIMIT = 5 * 2**20  # a screenplay is a few kB: 5 MB is generous
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>moviefactory studio: sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{{font:16px system-ui,sans-serif;background:#111;color:#eee;display:grid;place-items:center;height:90vh}}
form{{display:grid;gap:.6em;min-width:18em}}input,button{{font:inherit;padding:.5em}}.bad{{color:#f77}}</style></head>
<body><form method="post" action="/login"><h1>moviefactory studio</h1>{message}
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button>Sign in</button></form></body></html>"""


def check_host(host: str, token: str | None) -> None:
    """Anything but a loopback address needs a token (a refusal is one line, before the server starts)."""
    if token:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise InputError(f"--host {host} can be reached from other machines: give a token too "
                         "(--token, or $STUDIO_TOKEN)")


def session_of(token: str) -> str:
    """The login cookie's value: an HMAC of the token, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"moviefactory studio session", hashlib.sha256).hexdigest()


class TooLarge(Exception):
    """A request body went over its route's limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request is over the limit of {limit / 2**20:g} MB")
        self.limit = limit


class Doorway:
    def __init__(self, app, token: str | None, cors: tuple[str, ...], upload_limit: int) -> None:
        self.app, self.token, self.cors, self.upload_limit = app, token, set(cors), upload_limit
        self.session = session_of(token) if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        refusal = self._refusal(headers, path, method)
        if refusal is not None:
            return await refusal(scope, receive, send)
        limit = self.upload_limit if path in ("/api/media", "/api/batches") else JSON_LIMIT
        return await self.app(scope, _counted(receive, limit), send)

    def _refusal(self, headers: dict[str, str], path: str, method: str):
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not self.token and name not in LOCAL_NAMES:
            return _json(421, f"this studio answers to localhost only, not {host!r} (serve --token for more)")
        origin = headers.get("origin")
        if method not in SAFE and origin and origin not in self.cors:
            parts = urlsplit(origin)
            if parts.netloc != host:
                return _json(403, f"a page on {origin} may not change this studio (serve --cors ORIGIN allows it)")
        if self.token and path not in OPEN and not self.allows(headers):
            if path.startswith("/api/") or method != "GET":
                return _json(401, "a token is needed (Authorization: Bearer TOKEN, or sign in)",
                             {"www-authenticate": "Bearer"})
            return RedirectResponse("/login", status_code=303)
        return None

    def allows(self, headers: dict[str, str]) -> bool:
        given = headers.get("x-studio-token") or ""
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return True
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE) or ""
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session.encode())


def _counted(receive, limit: int):
    seen = 0

    async def counted():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(limit)
        return message

    return counted


def _json(status: int, detail: str, headers: dict[str, str] | None = None):
    return Response(json.dumps({"detail": detail}), status_code=status, media_type="application/json",
                    headers=headers)


def install(app: FastAPI, token: str | None, cors: tuple[str, ...], upload_limit: int) -> None:
    """The doorway in front of the app, and the login form when there is a token."""
    app.add_middleware(Doorway, token=token, cors=tuple(cors), upload_limit=upload_limit)
    if not token:
        return
    session = session_of(token)

    @app.get("/login", include_in_schema=False)
    def login_form():
        return HTMLResponse(LOGIN_PAGE.format(message=""))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        given = str(form.get("token") or "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(LOGIN_PAGE.format(message=f'<p class="bad">{escape("That is not the token.")}</p>'),
                                status_code=401)
        page = RedirectResponse("/", status_code=303)
        page.set_cookie(COOKIE, session, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return page
