"""The device authorization grant (RFC 8628): sign in on another screen while credenza polls.

The way in over SSH, where no browser can reach a loopback port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from credenza.errors import InvalidResponseError, SignInError, TokenEndpointError
from credenza.next_steps import step
from credenza.oauth.answers import check_endpoint
from credenza.oauth.grants.base import Grant
from credenza.oauth.tokens import Token
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT = Grant(
    name="device_code",
    grant_type=DEVICE_CODE,
    signs_in=True,
    needs=frozenset({"token_endpoint", "device_authorization_endpoint"}),
    sent_fields=frozenset({"grant_type", "device_code"}),
    secret_fields=frozenset({"device_code"}),
)

# §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0
MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the person needs (the code and where to enter it) and what the poller needs."""

    device_code: Secret
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime
    interval: float


async def start(
    client: OAuthClient, credentials: ClientCredentials, url: str, now: datetime
) -> DeviceAuthorization:
    """§3.1: ask the device authorization endpoint for a user code."""
    form = {"scope": " ".join(credentials.scopes)} if credentials.scopes else {}
    data = await client.post_form("device_authorization", url, credentials, form)
    device_code, user_code = data.get("device_code"), data.get("user_code")
    verification = data.get("verification_uri") or data.get("verification_url")  # Google's name
    if not (isinstance(device_code, str) and isinstance(user_code, str)):
        raise InvalidResponseError(f"the device authorization endpoint {url} sent no codes")
    if not isinstance(verification, str):
        raise InvalidResponseError(f"the device authorization endpoint {url} sent no URL")
    # The person is sent to this URL: it must be a web page, not javascript: or a file.
    check_endpoint(verification, "verification URI")
    complete = data.get("verification_uri_complete")
    if isinstance(complete, str):
        check_endpoint(complete, "verification URI")
    expires_in = data.get("expires_in")
    interval = data.get("interval")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else 600.0
    return DeviceAuthorization(
        device_code=Secret(device_code),
        user_code=user_code,
        verification_uri=verification,
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_at=now + timedelta(seconds=max(0.0, min(lifetime, 3600.0))),
        interval=_interval(interval),
    )


def _interval(value: object) -> float:
    """§3.2: 5 s when absent; never below 1 s, so a server saying 0 cannot make credenza spin."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return max(MIN_INTERVAL, min(float(value), 300.0))
    return DEFAULT_INTERVAL


def token_form(device: DeviceAuthorization) -> dict[str, str]:
    return {"grant_type": DEVICE_CODE, "device_code": device.device_code.reveal()}


def plan(
    protocol: ClientProtocol, credentials: ClientCredentials, device: DeviceAuthorization
) -> Plan[Token]:
    """One poll of the token endpoint (§3.4), client-authenticated."""
    return protocol.plan_request_token(credentials, token_form(device))


async def poll(
    client: OAuthClient,
    credentials: ClientCredentials,
    device: DeviceAuthorization,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Token:
    """§3.4-3.5: poll at the server's interval until the person decides or the code expires."""
    if sleep is None:
        import asyncio  # here: asking which grant an application uses never imports asyncio

        sleep = asyncio.sleep
    interval = device.interval
    while True:
        if clock() >= device.expires_at:
            raise _expired()
        await sleep(interval)
        try:
            return await client.grant(plan, credentials, device)
        except TokenEndpointError as error:
            if error.error == "authorization_pending":
                continue
            if error.error == "slow_down":
                interval += SLOW_DOWN_STEP  # for this and every later poll
                continue
            if error.error == "access_denied":
                raise SignInError("the sign-in was denied", hint="approve it to continue") from None
            if error.error == "expired_token":
                raise _expired() from None
            raise


def _expired() -> SignInError:
    return SignInError(
        "the device code expired before the sign-in was approved",
        hint="run `{0}` again",
        next_steps=(step("sign_in", "APP", None, device=None),),
    )
