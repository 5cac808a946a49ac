"""Runs the sandbox in-process on a loopback port (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from credenza.sandbox.app import create_app
from credenza.sandbox.clients import Client
from credenza.sandbox.state import SandboxState


class LoopbackServer:
    """Any ASGI app served by uvicorn on a loopback port, in a thread; ``port=0`` picks a free one.

    Extra keyword arguments go to uvicorn.Config (``ssl_certfile``, ``ssl_keyfile`` for TLS).
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> None:
        self.host = host
        # Bind now, so the port is known (and held) before the server thread starts.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this; without it uvicorn's split writes meet delayed ACKs and
        # every loopback request costs ~40 ms.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.scheme = "https" if uvicorn_options.get("ssl_certfile") else "http"
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            **uvicorn_options,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)

    @property
    def issuer(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="credenza-sandbox",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._socket.close()
        # uvicorn closes the socket it served on; closing it again here is harmless.

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (Ctrl+C)."""
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class SandboxTls:
    """TLS for the sandbox: its certificate, and the CA whose client certificates it trusts for
    tls_client_auth (RFC 8705 §2.1). Self-signed client certificates (§2.2) are trusted as
    clients register them."""

    certfile: str
    keyfile: str
    client_ca: str | None = None


class SandboxServer(LoopbackServer):
    """The sandbox provider on 127.0.0.1. Use as a context manager."""

    def __init__(
        self,
        state: SandboxState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: SandboxTls | None = None,
    ) -> None:
        self.state = state or SandboxState()
        # The TLS client certificate of each open connection, by the client's address: uvicorn
        # does not put it in the ASGI scope, so the protocol records it after the handshake.
        self._peers: dict[tuple[str, int], bytes] = {}
        self._context: ssl.SSLContext | None = None
        options: dict[str, Any] = {}
        if tls is not None:
            options = {
                "ssl_certfile": tls.certfile,
                "ssl_keyfile": tls.keyfile,
                "ssl_cert_reqs": ssl.CERT_OPTIONAL,
                "ssl_ca_certs": tls.client_ca,
                "ssl_context_factory": self._keep_context,
                "http": _recording_protocol(self._peers),
            }
            self.state.listeners.append(self._trust_client)
        app = create_app(self.state, lambda: self.issuer, self._peer_certificate)
        super().__init__(app, host=host, port=port, **options)

    @property
    def admin_token(self) -> str:
        return self.state.admin_token

    def _peer_certificate(self, request: Request) -> bytes | None:
        client = request.client
        return self._peers.get((client.host, client.port)) if client else None

    def _keep_context(
        self, config: uvicorn.Config, default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        self._context = default()
        for client in list(self.state.clients.values()):
            self._trust_client(client)
        return self._context

    def _trust_client(self, client: Client) -> None:
        """A self-signed client certificate is its own trust anchor (RFC 8705 §2.2)."""
        if self._context is None or client.token_endpoint_auth_method != (
            "self_signed_tls_client_auth"
        ):
            return
        for key in (client.jwks or {}).get("keys", []):
            for cert in key.get("x5c", [])[:1]:
                self._context.load_verify_locations(cadata=base64.b64decode(cert))


def _recording_protocol(peers: dict[tuple[str, int], bytes]) -> type[asyncio.Protocol]:
    class RecordingProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der and self.client:
                peers[(str(self.client[0]), int(self.client[1]))] = der

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                peers.pop((str(self.client[0]), int(self.client[1])), None)
            super().connection_lost(exc)

    return RecordingProtocol
