"""The loopback redirect listener of a browser sign-in (RFC 8252 §7.3, §8.3): one request on
127.0.0.1 (or ::1) brings the authorization code back. Apart from the grant's declaration
(``authorization_code``), so that asking which grant an application uses never imports asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from html import escape
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import h11

from credenza.errors import SignInError
from credenza.oauth.grants.authorization_code import Callback, check_loopback_redirect
from credenza.oauth.origins import LOOPBACK_LITERAL

# How often a free port (port 0) is chosen again when `localhost`'s second family has it taken.
_FREE_PORT_TRIES = 5


def _no_ipv6(exc: OSError) -> bool:
    """This machine has no IPv6 loopback at all (not: another program holds the port)."""
    return isinstance(exc, socket.gaierror) or exc.errno in (
        errno.EADDRNOTAVAIL,
        errno.EAFNOSUPPORT,
    )


def _reason(exc: OSError) -> str:
    """The OS's words for a failed bind, without asyncio's repetition of the address."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return str(exc.strerror or exc)
    return os.strerror(exc.errno)


def _taken_hint(host: str, port: int) -> str:
    if host == "localhost":
        return (
            f"another program holds port {port} on 127.0.0.1 or ::1, where a browser may take "
            "localhost; close it, or pass --redirect-uri http://127.0.0.1:PORT/PATH with a free "
            "port registered at the provider"
        )
    return (
        "another program holds that port; close it, or pass --redirect-uri "
        "with a free port registered at the provider"
    )


_DONE_PAGE = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>credenza</title></head>"
    "<body style='font-family:sans-serif;margin:3rem'><h1>{title}</h1><p>{text}</p></body></html>"
)


class LoopbackListener:
    """Listens on the redirect URI's loopback host and port for the one callback of a sign-in.

    Requests for other paths, or carrying another sign-in's state, are answered and ignored, so a
    stray request cannot end the sign-in. Port 0 picks a free port; ``redirect_uri`` then has it.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(check_loopback_redirect(redirect_uri))
        self._parts = parts
        self._host = (parts.hostname or LOOPBACK_LITERAL).lower()
        self._port = 80 if parts.port is None else parts.port  # 0: a free port, chosen here
        self._path = parts.path or "/"
        self._servers: list[asyncio.Server] = []
        self._waiting: dict[str, asyncio.Future[Callback]] = {}
        self.redirect_uri = redirect_uri

    async def __aenter__(self) -> Self:
        # RFC 8252 §8.3: literal addresses only, never what a resolver says. A browser may take
        # `localhost` to either family, so both are ours or the sign-in does not start: another
        # user holding [::1]:PORT would otherwise receive the code.
        hosts = [LOOPBACK_LITERAL, "::1"] if self._host == "localhost" else [self._host]
        tries = _FREE_PORT_TRIES if self._port == 0 else 1
        port = None
        while port is None:
            tries -= 1
            port = await self._listen(hosts, retry=tries > 0)
        if self._port == 0:
            netloc = f"{self._parts.hostname}:{port}"
            if ":" in (self._parts.hostname or ""):
                netloc = f"[{self._parts.hostname}]:{port}"
            self.redirect_uri = urlunsplit(("http", netloc, self._path, self._parts.query, ""))
        return self

    async def _listen(self, hosts: list[str], *, retry: bool) -> int | None:
        """The port now listened on by every host, or None to try another free port."""
        port = self._port
        for host in hosts:
            try:
                server = await asyncio.start_server(
                    self._handle, host.strip("[]"), port, reuse_address=True
                )
            except OSError as exc:
                if self._servers and host == "::1" and _no_ipv6(exc):
                    continue  # no IPv6 here: a browser cannot reach ::1 either
                await self._close()
                if retry and host != hosts[0]:
                    return None  # the free port chosen on the first family is taken on ::1
                shown = f"[{host}]" if ":" in host else host
                raise SignInError(
                    f"cannot listen on {shown}:{port} for the sign-in redirect ({_reason(exc)})",
                    hint=_taken_hint(self._host, port),
                ) from None
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            # Python 3.12's wait_closed also waits for open connections; ours are short.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self._servers = []

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def wait(self, state: str) -> Callback:
        """The callback that carries ``state``."""
        future: asyncio.Future[Callback] = asyncio.get_running_loop().create_future()
        self._waiting[state] = future
        try:
            return await future
        finally:
            self._waiting.pop(state, None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            async with asyncio.timeout(10):
                request: h11.Request | None = None
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
                if request is None:
                    return
                status, title, text = self._answer(request)
                body = _DONE_PAGE.format(title=escape(title), text=escape(text)).encode()
                headers = [
                    ("content-type", "text/html; charset=utf-8"),
                    ("content-length", str(len(body))),
                    ("cache-control", "no-store"),
                    ("referrer-policy", "no-referrer"),
                    ("connection", "close"),
                ]
                writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
                writer.write(connection.send(h11.Data(data=body)))
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
        except (h11.RemoteProtocolError, h11.LocalProtocolError, TimeoutError, OSError):
            pass
        finally:
            writer.close()

    def _answer(self, request: h11.Request) -> tuple[int, str, str]:
        target = urlsplit(request.target.decode("ascii", "replace"))
        if request.method != b"GET" or target.path != self._path:
            return 404, "Not found", "This is credenza's sign-in listener."
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        future = self._waiting.get(params.get("state", ""))
        if future is None or future.done():
            return (
                400,
                "Not this sign-in",
                "This answer does not belong to the sign-in in progress.",
            )
        future.set_result(Callback(params))
        if "error" in params:
            return (
                200,
                "Sign-in not completed",
                "You can close this tab and return to the terminal.",
            )
        return 200, "Signed in", "You can close this tab and return to the terminal."
