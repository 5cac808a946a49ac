"""Hand-made misbehaving servers on 127.0.0.1 for the transport tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from credenza.sandbox.server import LoopbackServer


def recording_app(bodies: list[bytes], status: int = 200) -> Starlette:
    async def anything(request: Request) -> Response:
        bodies.append(await request.body())
        return JSONResponse({"access_token": "stolen", "expires_in": 60}, status_code=status)

    return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


def redirect_app(target: str, status: int) -> Starlette:
    async def redirect(request: Request) -> Response:
        return RedirectResponse(target, status_code=status)

    return Starlette(routes=[Route("/{path:path}", redirect, methods=["GET", "POST"])])


def drip_app(interval: float) -> Starlette:
    async def drip(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(1000):
                yield b" "
                await asyncio.sleep(interval)

        return StreamingResponse(body(), media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", drip, methods=["GET", "POST"])])


def huge_app(mebibytes: int) -> Starlette:
    async def huge(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            chunk = b"x" * (1024 * 1024)
            for _ in range(mebibytes):
                yield chunk

        return StreamingResponse(body(), media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", huge, methods=["GET", "POST"])])


def scripted_app(
    responses: list[tuple[int, dict[str, str], bytes]], seen: list[bytes]
) -> Starlette:
    """Answers with the given (status, headers, body) in turn, then repeats the last one."""

    async def answer(request: Request) -> Response:
        seen.append(await request.body())
        status, headers, body = responses[min(len(seen), len(responses)) - 1]
        return Response(body, status_code=status, headers=headers)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@contextmanager
def serve(app: Starlette, **options: Any) -> Iterator[LoopbackServer]:
    with LoopbackServer(app, **options) as server:
        yield server


@contextmanager
def serve_tls(app: Starlette, cert: Any, directory: Path) -> Iterator[LoopbackServer]:
    """Serve ``app`` over TLS with a trustme leaf certificate written into ``directory``."""
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    with serve(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        yield server


@contextmanager
def silent_listener() -> Iterator[str]:
    """Accepts connections (the kernel does) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/token"
    finally:
        sock.close()


def closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/token"


def free_callback(path: str = "/callback") -> str:
    """A loopback callback URL on a port free now (credenza's sign-in listens there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
