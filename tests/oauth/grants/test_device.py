"""The device flow against the sandbox: pending, slow_down, approved, denied, expired."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from credenza.errors import SignInError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import device
from credenza.oauth.plan import ClientCredentials
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.grants_helpers import FrozenClock

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[SandboxServer]:
    state = SandboxState(token_ttl=300, clock=clock.seconds, device_interval=5)
    state.add_client(
        {
            "client_id": "cli-on-ssh",
            "token_endpoint_auth_method": "none",
            "scope": "deals:read",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
        }
    )
    with SandboxServer(state) as running:
        yield running


def creds(server: SandboxServer) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{server.issuer}/oauth/token",
        client_id="cli-on-ssh",
        secret=Secret(""),
        auth_method="none",
        scopes=("deals:read",),
    )


async def decide(uri: str, user_code: str, decision: str) -> None:
    async with httpx.AsyncClient() as browser:
        page = await browser.post(uri, data={"user_code": user_code, "decision": decision})
        assert page.status_code == 200


async def test_pending_then_slow_down_then_approved(
    server: SandboxServer, clock: FrozenClock
) -> None:
    client = OAuthClient(FAST)
    started = await device.start(
        client, creds(server), f"{server.issuer}/oauth/device_authorization", clock()
    )
    assert started.interval == 5
    assert started.verification_uri == f"{server.issuer}/device"
    assert started.verification_uri_complete is not None
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            clock.advance(1)  # a poll too early: the server must answer slow_down
            return
        if len(waits) == 3:
            await decide(started.verification_uri, started.user_code, "approve")
        clock.advance(seconds)

    token = await device.poll(client, creds(server), started, clock=clock, sleep=sleep)
    await client.aclose()
    assert waits == [5, 5, 10]  # authorization_pending, slow_down (+5 s from then on), approved
    assert len(_token_polls(server)) == 3
    assert token.refresh_token is not None
    issued = server.state.lookup(token.access_token.reveal())
    assert issued is not None
    assert issued.subject == server.state.user


@pytest.mark.parametrize(
    ("decision", "advance", "message"),
    [("deny", 5, "denied"), (None, 700, "expired")],
)
async def test_denied_and_expired_codes_end_with_a_clear_error(
    server: SandboxServer, clock: FrozenClock, decision: str | None, advance: float, message: str
) -> None:
    client = OAuthClient(FAST)
    started = await device.start(
        client, creds(server), f"{server.issuer}/oauth/device_authorization", clock()
    )

    async def sleep(seconds: float) -> None:
        if decision:
            await decide(started.verification_uri, started.user_code, decision)
        clock.advance(advance)

    with pytest.raises(SignInError, match=message):
        await device.poll(client, creds(server), started, clock=clock, sleep=sleep)
    await client.aclose()


async def test_server_side_expiry_is_reported_as_expired(
    server: SandboxServer, clock: FrozenClock
) -> None:
    client = OAuthClient(FAST)
    started = await device.start(
        client, creds(server), f"{server.issuer}/oauth/device_authorization", clock()
    )
    # The server's code dies before the lifetime it announced (as some do).
    server.state.devices[started.device_code.reveal()].expires_at = clock.seconds() + 1

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    with pytest.raises(SignInError, match="expired"):
        await device.poll(client, creds(server), started, clock=clock, sleep=sleep)
    await client.aclose()
    assert server.state.requests[-1]["form"]["grant_type"] == DEVICE_GRANT


def _token_polls(server: SandboxServer) -> list[dict[str, str]]:
    return [r["form"] for r in server.state.requests if r["path"] == "/oauth/token"]


async def test_an_interval_of_zero_is_polled_once_a_second_not_in_a_tight_loop(
    server: SandboxServer, clock: FrozenClock
) -> None:
    server.state.device_interval = 0
    client = OAuthClient(FAST)
    started = await device.start(
        client, creds(server), f"{server.issuer}/oauth/device_authorization", clock()
    )
    await client.aclose()
    assert started.interval == 1
