"""The OAuth2 client without asyncio, for one-shot CLI calls (`credenza token`).

It runs the very plans ``client.OAuthClient`` runs (``oauth.plan``: the request, retries,
deadline and how every answer and failure reads; ``oauth.transport``: pools, TLS, the body cap),
performing attempts on the standard library's http.client (``stdlib_http``) and pauses with
``time.sleep``. A process that fetches one token then imports neither asyncio nor anyio nor
httpx (~100 ms of imports). Given an httpx transport (a test's), it performs them on a blocking
``httpx.Client`` instead; both engines send the same request and read every failure the same.

The overall deadline: every timeout is shortened to the time left and the body is checked after
each chunk (``transport``); in the main thread an interval timer also interrupts a server that
drips its headers, which no per-read timeout can catch.
"""

from __future__ import annotations

import contextlib
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, Literal, ParamSpec, TypeVar

from credenza.errors import CredenzaError
from credenza.oauth.answers import Answer
from credenza.oauth.plan import Attempt, ClientProtocol, Pause, Plan, Run
from credenza.oauth.transport import (
    DeadlineReached,
    HttpSettings,
    Pools,
    client_options,
    httpx_request,
    transport_failure,
)

if TYPE_CHECKING:
    import httpx

Engine = Literal["stdlib", "httpx"]

T = TypeVar("T")
P = ParamSpec("P")


class SyncOAuthClient(ClientProtocol):
    """Blocking OAuth2 client: one per command, closed when the command ends."""

    # The engine of a client made without one (and without a transport): the tests switch it to
    # run the CLI on httpx too.
    default_engine: ClassVar[Engine] = "stdlib"

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(settings, clock=clock)
        if transport is not None and engine == "stdlib":
            raise ValueError("an httpx transport runs on the httpx engine, not the stdlib one")
        self._transport = transport
        # The standard library's, unless told otherwise or handed an httpx transport.
        self.engine: Engine = engine or ("httpx" if transport is not None else self.default_engine)
        self._pools: Pools[Any] = Pools(
            self.settings, self._new_client if self.engine == "httpx" else self._new_context
        )

    def close(self) -> None:
        for client in self._pools.drain():
            if self.engine == "httpx":
                client.close()

    def grant(
        self,
        plan: Callable[Concatenate[ClientProtocol, P], Plan[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a grant's plan (``oauth.grants``) with its own inputs, as ``OAuthClient.grant``."""
        return self._run(plan(self, *args, **kwargs))

    def run(self, plan: Plan[T]) -> T:
        """Drive any plan built on ``plan_exchange`` (the team store's calls): the same
        deadline, body cap, retries, TLS settings and refusal of redirects as a token call."""
        return self._run(plan)

    # -- the driver -----------------------------------------------------------------------------

    def _run(self, plan: Plan[T]) -> T:
        run = Run(plan)
        while (action := run.next()) is not None:
            try:
                run.answered(self._perform(action))
            except (DeadlineReached, CredenzaError) as failure:
                run.failed(failure)
        return run.result

    def _perform(self, action: Attempt | Pause) -> Answer | None:
        if isinstance(action, Pause):
            time.sleep(action.seconds)
            return None
        with _alarm(action.ends_at):
            return self._attempt(action)

    def _attempt(self, attempt: Attempt) -> Answer:
        plain = attempt.url.startswith("http://")
        if self.engine == "stdlib":
            from credenza.oauth.stdlib_http import perform

            return perform(attempt, self.settings, self._pools.get(attempt.tls, plain=plain))
        import httpx

        client = self._pools.get(attempt.tls, plain=plain)
        try:
            request = httpx_request(client, attempt, self.settings)
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                reader = attempt.reader(response.status_code, response.headers, self.settings)
                for chunk in response.iter_raw():
                    reader.feed(chunk)
                body = reader.finish()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise transport_failure(exc, attempt.url, attempt.ends_at, self.settings) from None
        return attempt.answer(response.status_code, response.headers, body, request.headers)

    def _new_client(self, verify: ssl.SSLContext | bool) -> httpx.Client:
        import httpx

        return httpx.Client(**client_options(self.settings, verify, self._transport))

    def _new_context(self, verify: ssl.SSLContext | bool) -> ssl.SSLContext:
        """The stdlib engine's "client" of a pool: the TLS context its connections use."""
        if verify is True:  # no ca_bundle (Pools passes that one's context)
            from credenza.oauth.ca import default_roots

            return default_roots()
        assert not isinstance(verify, bool)  # Pools never asks for verification off
        return verify


@contextlib.contextmanager
def _alarm(ends_at: float) -> Iterator[None]:
    """Raise DeadlineReached wherever the attempt is blocked when ``ends_at`` passes.

    Only in the main thread (signals are delivered there), and only when no earlier alarm is
    set (a test runner's own timeout keeps working; ours then relies on the shortened timeouts).
    """
    left = ends_at - time.monotonic()
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return
    pending, interval = signal.getitimer(signal.ITIMER_REAL)
    if pending and pending <= left:
        yield
        return

    armed = [True]

    def ring(signum: int, frame: FrameType | None) -> None:
        if armed[0]:  # once the attempt is over, a late ring changes nothing
            raise DeadlineReached

    previous = signal.signal(signal.SIGALRM, ring)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
    try:
        yield
    finally:
        # Nested: a ring just before ``armed`` is cleared raises here, and the handler and any
        # other alarm are still put back as they were.
        try:
            armed[0] = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if pending:
                # Someone else's later alarm, re-armed with what was left of it.
                left_of_it = max(pending - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left_of_it, interval)
