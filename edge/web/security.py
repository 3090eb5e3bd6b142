"""Who may see the dashboard, and what the browser may do with it.

- Loopback (the default): only this machine reaches the server, and only under
  a loopback host name, so a web page elsewhere cannot rebind a name to it.
- ``--lan``: every page needs the pairing cookie, which a phone gets once by
  opening the pairing link (the access token, kept 0600 in the user data
  directory). The cookie is HttpOnly and SameSite=Strict.
- Every action is a POST carrying the per-server CSRF token.
- A strict Content-Security-Policy: our own stylesheet, no script at all, no
  frames, no outside origin; no referrer leaves with a link.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from platformdirs import user_data_path
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_NAME = "web-token"
TOKEN_BYTES = 32  # 256 bits: as hard to guess as a key
FILE_MODE, DIR_MODE = 0o600, 0o700
COOKIE_NAME = "talkratio_pair"
COOKIE_MAX_AGE_S = 400 * 86_400  # Chrome's longest cookie lifetime: pair a phone once
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
OPEN_PATHS = ("/pair", "/static/")  # reachable before pairing: the link and the stylesheet
HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # the pairing link carries the token
    "cache-control": "no-store",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def default_token_path() -> Path:
    return user_data_path("talkratio") / TOKEN_NAME


def load_or_create_token(path: str | Path | None = None) -> str:
    """The access token for ``--lan``: read it, or create it (0600) the first time."""
    path = Path(path) if path is not None else default_token_path()
    if path.is_file():
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    os.chmod(path, FILE_MODE)
    return token


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def host_name(headers: Headers) -> str:
    """The Host header without its port (``[::1]`` keeps its brackets)."""
    host = headers.get("host", "").lower()
    if host.startswith("["):  # an IPv6 literal, perhaps with a port
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


class Guard:
    """ASGI middleware: security headers on every response, the host check on loopback and
    the pairing cookie with ``--lan``; refused requests get a short Korean page."""

    def __init__(self, app: ASGIApp, access_token: str | None):
        self.app, self.access_token = app, access_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend((k.encode(), v.encode()) for k, v in HEADERS.items())
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, with_headers)
        else:
            await self.app(scope, receive, with_headers)

    def refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        if self.access_token is None:
            if host_name(headers) not in LOOPBACK_HOSTS:
                return _refused(421, "이 주소로는 열 수 없습니다. 127.0.0.1 로 여세요.")
            return None
        if scope["path"].startswith(OPEN_PATHS):
            return None
        if same_secret(_cookie(headers, COOKIE_NAME), self.access_token):
            return None
        return _refused(401, "이 휴대폰은 아직 연결되지 않았습니다. 기기의 연결 링크(QR)를 여세요.")


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _refused(status: int, sentence: str) -> Response:
    body = (
        '<!doctype html><html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/style.css"><title>talkratio</title></head>'
        f'<body><main><h1>talkratio</h1><p class="notice">{sentence}</p></main></body></html>'
    )
    return Response(body, status_code=status, media_type="text/html; charset=utf-8")


def pairing_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
    )
