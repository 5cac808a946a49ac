"""Runs the sandbox in-process on a loopback port (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from credenza.sandbox.app import create_app
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


class SandboxServer(LoopbackServer):
    """The sandbox provider on 127.0.0.1. Use as a context manager."""

    def __init__(
        self, state: SandboxState | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.state = state or SandboxState()
        super().__init__(create_app(self.state, lambda: self.issuer), host=host, port=port)

    @property
    def admin_token(self) -> str:
        return self.state.admin_token
