"""The OAuth2 client on asyncio: every grant, revoke, logout, introspect, discover, API calls.

What each call sends, retries, bounds and makes of the answer is decided once, in the plans
(``oauth.plan`` and the modules it names) and ``oauth.transport``; this driver only performs
their attempts with ``httpx.AsyncClient`` and their pauses with ``asyncio.sleep``.
``oauth.sync_client`` drives the same plans without asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import httpx

from credenza.errors import CredenzaError
from credenza.oauth import discovery, endpoints
from credenza.oauth.answers import Answer, Endpoint
from credenza.oauth.discovery import ServerMetadata
from credenza.oauth.plan import (
    Attempt,
    ClientCredentials,
    ClientProtocol,
    Pause,
    Plan,
    Run,
)
from credenza.oauth.transport import (
    DeadlineReached,
    HttpSettings,
    Pools,
    TlsIdentity,
    client_options,
    httpx_request,
    transport_failure,
)
from credenza.oauth.untrusted import Sent

if TYPE_CHECKING:
    from credenza.oauth.resource import ResourceMetadata
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

__all__ = ["OAuthClient"]

T = TypeVar("T")
P = ParamSpec("P")


class OAuthClient(ClientProtocol):
    """Async OAuth2 client. One per workspace; safe to share between concurrent calls."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(settings, clock=clock)
        self._transport = transport
        self._pools = Pools(self.settings, self._new_lanes)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        for lanes in self._pools.drain():
            await lanes.aclose()

    async def grant(
        self,
        plan: Callable[Concatenate[ClientProtocol, P], Plan[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a grant's plan (``oauth.grants``: ``client_credentials.plan``, ``refresh.plan``
        ...) with its own inputs: one method for every grant, so a new grant changes no driver."""
        return await self._run(plan(self, *args, **kwargs))

    async def post_form(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, form: dict[str, str]
    ) -> dict[str, Any]:
        return await self._run(endpoints.plan_post_form(self, endpoint, url, credentials, form))

    async def revoke(
        self, credentials: ClientCredentials, url: str, token: Secret, hint: str = "access_token"
    ) -> None:
        await self._run(endpoints.plan_revoke(self, credentials, url, token, hint))

    async def logout(self, url: str, token: Secret, profile: Profile = GENERIC) -> None:
        await self._run(endpoints.plan_logout(self, url, token, profile))

    async def introspect(
        self, credentials: ClientCredentials, url: str, token: Secret
    ) -> dict[str, Any]:
        return await self._run(endpoints.plan_introspect(self, credentials, url, token))

    async def discover(self, issuer: str) -> ServerMetadata:
        return await self._run(discovery.plan_discover(self, issuer))

    async def get_json(self, endpoint: Endpoint, url: str) -> dict[str, Any]:
        return await self._run(discovery.plan_get_json(self, endpoint, url))

    async def probe(self, url: str) -> Answer:
        return await self._run(endpoints.plan_probe(self, url))

    async def call_api(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        sent: Sent,
    ) -> Answer:
        """One call on an API with a token (``oauth.resource``): its answer, whatever its status."""
        from credenza.oauth.resource import plan_api_call

        return await self._run(plan_api_call(self, method, url, headers, content, sent))

    async def resource_metadata(self, api_url: str) -> ResourceMetadata:
        """An API's protected-resource metadata (RFC 9728)."""
        from credenza.oauth.resource import plan_resource_metadata

        return await self._run(plan_resource_metadata(self, api_url))

    async def admin(
        self, method: str, url: str, token: Secret, body: dict[str, Any] | None = None
    ) -> Any:
        return await self._run(endpoints.plan_admin(self, method, url, token, body))

    async def perform(self, plan: Plan[T]) -> T:
        """Run a plan built outside this class (oauth/registration.py) with the same driver."""
        return await self._run(plan)

    # -- the driver -----------------------------------------------------------------------------

    async def _run(self, plan: Plan[T]) -> T:
        run = Run(plan)
        while (action := run.next()) is not None:
            try:
                run.answered(await self._perform(action))
            except (DeadlineReached, CredenzaError) as failure:
                run.failed(failure)
        return run.result

    async def _perform(self, action: Attempt | Pause) -> Answer | None:
        if isinstance(action, Pause):
            await asyncio.sleep(action.seconds)
            return None
        try:
            # A server dripping its headers is cut off here too, not only between body chunks.
            async with asyncio.timeout(max(0.0, action.ends_at - time.monotonic())):
                return await self._attempt(action)
        except TimeoutError:
            raise DeadlineReached from None

    async def _attempt(self, attempt: Attempt) -> Answer:
        lanes = self._http(attempt.tls, plain=attempt.url.startswith("http://"))
        try:
            async with lanes.lane() as client:
                request = httpx_request(client, attempt, self.settings)
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    reader = attempt.reader(response.status_code, response.headers, self.settings)
                    async for chunk in response.aiter_raw():
                        reader.feed(chunk)
                    body = reader.finish()
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise transport_failure(exc, attempt.url, attempt.ends_at, self.settings) from None
        return attempt.answer(response.status_code, response.headers, body, request.headers)

    def _http(self, tls: TlsIdentity | None = None, *, plain: bool = False) -> Lanes:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # httpx clients are bound to the loop they were made on.
            self._pools = Pools(self.settings, self._new_lanes)
            self._loop = loop
        return self._pools.get(tls, plain=plain)

    def _new_lanes(self, verify: ssl.SSLContext | bool) -> Lanes:
        return Lanes(
            lambda context: httpx.AsyncClient(
                **client_options(self.settings, context, self._transport)
            ),
            verify,
        )


class Lanes:
    """The httpx clients of one pool key, each used by one request at a time: a request takes
    a free one (the last one freed, its connection still open) or makes one, so there are as
    many as requests were ever in flight at once, each keeping its own connection alive.

    One httpx client shared by every request in flight costs more than the calls themselves at
    `verify --all`'s sixteen: httpcore's pool looks at each of its connections (a
    ``getpeername`` and a ``poll`` for each idle one) and counts the idle ones once per
    connection, on every request and every answer (324,000 ``is_idle`` calls and 17,700 pairs
    of system calls for 400 requests). A client here has one connection: each look is one."""

    def __init__(
        self,
        make: Callable[[ssl.SSLContext | bool], httpx.AsyncClient],
        verify: ssl.SSLContext | bool,
    ) -> None:
        self._make = make
        self._verify = verify
        self._free: list[httpx.AsyncClient] = []
        self._made: list[httpx.AsyncClient] = []

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._free:
            client = self._free.pop()
        else:
            if self._made and self._verify is True:
                # The system's CA certificates loaded once, not once a client (~15 ms each):
                # the context httpx makes itself for ``verify=True`` without the environment.
                self._verify = httpx.create_ssl_context(verify=True, trust_env=False)
            client = self._make(self._verify)
            self._made.append(client)
        try:
            yield client
        finally:
            self._free.append(client)

    async def aclose(self) -> None:
        made, self._made, self._free = self._made, [], []
        for client in made:
            await client.aclose()
