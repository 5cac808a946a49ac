"""A hostile OAuth server on 127.0.0.1: echoes what it is sent, escapes, bombs, lies about tokens.

Each test scripts the routes it needs (``server.on(path, handler)``) and reads what arrived in
``server.seen``. The builders below are the red team's cases (issue 10), one per kind of harm.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox.server import LoopbackServer

ESC = "\x1b"
BEL = "\x07"
# OSC 52 writes the clipboard, OSC 0 the window title, CSI 2J clears the screen.
ESCAPES = f"{ESC}]52;c;cHduZWQ={BEL}{ESC}]0;pwned{BEL}{ESC}[2J\x9b31m"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


Handler = Callable[[Seen], Response]


@dataclass
class Hostile:
    """The routes and the record of one hostile server."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, path: str, handler: Handler) -> Hostile:
        self.routes[path] = handler
        return self

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            seen = Seen(
                request.method, request.url.path, dict(request.headers), await request.body()
            )
            self.seen.append(seen)
            handler = self.routes.get(request.url.path)
            if handler is None:
                return Response("not here", status_code=404)
            return handler(seen)

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@contextmanager
def hostile(host: str = "127.0.0.1") -> Iterator[tuple[Hostile, LoopbackServer]]:
    script = Hostile()
    with LoopbackServer(script.app(), host=host) as server:
        yield script, server


# -- what a server echoes -------------------------------------------------------------------------


def echo_of(seen: Seen) -> str:
    """Everything the client sent that could carry a credential, as a sloppy server logs it."""
    return f"auth={seen.headers.get('authorization', '')} body={seen.text}"


def echo_in(where: str, status: int = 401) -> Handler:
    """An error answer that copies the request into one place: error, error_description, code,
    an HTML <title> or a plain-text body."""

    def handler(seen: Seen) -> Response:
        echoed = echo_of(seen)
        if where == "title":
            page = f"<html><head><title>Denied {echoed}</title></head><body>no</body></html>"
            return Response(page, status_code=status, media_type="text/html")
        if where == "text":
            return Response(f"Denied: {echoed}", status_code=status, media_type="text/plain")
        body: dict[str, Any] = {"error": "invalid_client"}
        if where == "error":
            body["error"] = echoed
        elif where == "code":
            body["code"] = echoed
        else:
            body["error_description"] = echoed
        return JSONResponse(body, status_code=status)

    return handler


def forms_of(value: str, client_id: str = "") -> dict[str, str]:
    """The encodings a secret is searched for: raw, Base64, URL- and JSON-escaped."""
    forms = {
        "raw": value,
        "base64": base64.b64encode(value.encode()).decode(),
        "url": quote_plus(value),
        "url-quote": quote(value, safe=""),
        "json": json.dumps(value)[1:-1],
    }
    if client_id:
        for name, user, password in (
            ("basic-rfc6749", quote_plus(client_id), quote_plus(value)),
            ("basic-raw", client_id, value),
        ):
            forms[name] = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {name: form for name, form in forms.items() if form}


def leaks(text: str, value: str, client_id: str = "") -> list[str]:
    """Which encodings of ``value`` appear in ``text`` (empty: none)."""
    return [name for name, form in forms_of(value, client_id).items() if form in text]


def control_characters(text: str) -> list[str]:
    """Control characters in ``text`` other than newline and tab (ESC, BEL, C1 and the like)."""
    return sorted(
        {repr(ch) for ch in text if (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0}
    )


# -- answers ---------------------------------------------------------------------------------


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return lambda seen: JSONResponse(body, status_code=status, headers=headers)


def raw_answer(
    body: bytes | str, status: int = 200, headers: dict[str, str] | None = None
) -> Handler:
    return lambda seen: Response(body, status_code=status, headers=headers)


def token(access_token: str = "opaque-token-1", **fields: Any) -> Handler:
    return json_answer({"access_token": access_token, "token_type": "Bearer", **fields})


def jwt(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header or {'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def deep_json(levels: int = 200_000) -> bytes:
    return b"[" * levels + b"]" * levels


def gzip_of_zeros(size: int) -> bytes:
    """A gzip body inflating to ``size`` zero bytes (1 GiB fits in about 1 MB), built fast.

    After a full flush the compressor starts afresh, so every MiB of zeros compresses to the same
    byte-aligned segment: the stream is one segment repeated, then the gzip trailer.
    """
    block = b"\0" * (1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(size, len(block))
    tail = compressor.compress(b"\0" * rest) + compressor.flush()
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(b"\0" * rest, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")
    return header + segment * blocks + tail + trailer


def gzip_stacked(size: int, times: int = 2) -> bytes:
    """``Content-Encoding: gzip, gzip``: each layer multiplies, so 1.5 KB becomes gigabytes."""
    body = gzip_of_zeros(size)
    for _ in range(times - 1):
        compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        body = compressor.compress(body) + compressor.flush()
    return body


def metadata(issuer: str, **endpoints: str) -> Handler:
    return json_answer({"issuer": issuer, "token_endpoint": f"{issuer}/token", **endpoints})
