"""The studio's door: with a token, every request needs it, in a header (`Authorization: Bearer T` or
`X-Studio-Token: T`) or in the cookie the login form sets. Tokens are compared in constant time; the
cookie holds an HMAC of the token, not the token. `moviefactory serve` refuses to listen on anything but
localhost without a token."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from ..errors import InputError

COOKIE = "studio_session"
OPEN = ("/login",)  # the only path a visitor without the token may reach
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


class Guard:
    def __init__(self, token: str | None) -> None:
        self.token = token
        self.session = hmac.new(token.encode(), b"moviefactory studio session", hashlib.sha256).hexdigest() \
            if token else None

    def allows(self, request: Request) -> bool:
        given = request.headers.get("x-studio-token") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return True
        cookie = request.cookies.get(COOKIE) or ""
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session.encode())

    def install(self, app: FastAPI) -> None:
        if not self.token:
            return

        @app.middleware("http")
        async def guard(request: Request, call_next):
            if request.url.path in OPEN or self.allows(request):
                return await call_next(request)
            if request.url.path.startswith("/api/") or request.method != "GET":
                return JSONResponse({"detail": "a token is needed (Authorization: Bearer TOKEN, or sign in)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return RedirectResponse("/login", status_code=303)

        @app.get("/login", include_in_schema=False)
        def login_form():
            return HTMLResponse(LOGIN_PAGE.format(message=""))

        @app.post("/login", include_in_schema=False)
        async def login(request: Request):
            form = await request.form()
            given = str(form.get("token") or "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return HTMLResponse(LOGIN_PAGE.format(message=f'<p class="bad">{escape("That is not the token.")}</p>'),
                                    status_code=401)
            page = RedirectResponse("/", status_code=303)
            page.set_cookie(COOKIE, self.session, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
            return page
