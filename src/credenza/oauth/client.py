"""The OAuth2 client on asyncio: client_credentials, refresh, revoke, logout, introspect, discover.

What each call sends, retries, bounds and makes of the answer is decided once, in
``oauth.protocol``; this driver only performs its attempts with ``httpx.AsyncClient`` and its
pauses with ``asyncio.sleep``. ``oauth.sync_client`` drives the same plans without asyncio.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx

from credenza.errors import CredenzaError
from credenza.oauth.answers import Answer, Endpoint, ServerMetadata
from credenza.oauth.protocol import (
    Attempt,
    ClientCredentials,
    ClientProtocol,
    DeadlineReached,
    HttpSettings,
    Pause,
    Plan,
    Pools,
    Run,
    TlsIdentity,
    client_options,
    transport_failure,
)
from credenza.oauth.tokens import Token
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

__all__ = ["ClientCredentials", "HttpSettings", "OAuthClient", "ServerMetadata"]

T = TypeVar("T")


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
        self._pools = Pools(self.settings, self._new_client)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        for client in self._pools.drain():
            await client.aclose()

    async def fetch_token(self, credentials: ClientCredentials) -> Token:
        return await self._run(self.plan_fetch_token(credentials))

    async def refresh(self, credentials: ClientCredentials, refresh_token: Secret) -> Token:
        return await self._run(self.plan_refresh(credentials, refresh_token))

    async def request_token(self, credentials: ClientCredentials, form: dict[str, str]) -> Token:
        return await self._run(self.plan_request_token(credentials, form))

    async def post_form(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, form: dict[str, str]
    ) -> dict[str, Any]:
        return await self._run(self.plan_post_form(endpoint, url, credentials, form))

    async def revoke(
        self, credentials: ClientCredentials, url: str, token: Secret, hint: str = "access_token"
    ) -> None:
        await self._run(self.plan_revoke(credentials, url, token, hint))

    async def logout(self, url: str, token: Secret, profile: Profile = GENERIC) -> None:
        await self._run(self.plan_logout(url, token, profile))

    async def introspect(
        self, credentials: ClientCredentials, url: str, token: Secret
    ) -> dict[str, Any]:
        return await self._run(self.plan_introspect(credentials, url, token))

    async def discover(self, issuer: str) -> ServerMetadata:
        return await self._run(self.plan_discover(issuer))

    async def get_json(self, endpoint: Endpoint, url: str) -> dict[str, Any]:
        return await self._run(self.plan_get_json(endpoint, url))

    async def probe(self, url: str) -> Answer:
        return await self._run(self.plan_probe(url))

    async def admin(
        self, method: str, url: str, token: Secret, body: dict[str, Any] | None = None
    ) -> Any:
        return await self._run(self.plan_admin(method, url, token, body))

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
        client = self._http(attempt.tls, plain=attempt.url.startswith("http://"))
        try:
            request = attempt.request(client, self.settings)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                reader = attempt.reader(response, self.settings)
                async for chunk in response.aiter_raw():
                    reader.feed(chunk)
                body = reader.finish()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise transport_failure(exc, attempt, self.settings) from None
        return attempt.answer(response, body)

    def _http(self, tls: TlsIdentity | None = None, *, plain: bool = False) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # httpx clients are bound to the loop they were made on.
            self._pools = Pools(self.settings, self._new_client)
            self._loop = loop
        return self._pools.get(tls, plain=plain)

    def _new_client(self, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
        return httpx.AsyncClient(**client_options(self.settings, verify, self._transport))
