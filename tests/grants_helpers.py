"""A plain-HTTP 'browser' for the consent and device pages, a frozen clock for polling, and a
sign-in application added through the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx

from credenza.sandbox import SandboxState
from tests.conftest import CliRunner

_HIDDEN = re.compile(r'name="request" value="([^"]+)"')


async def browse_and_decide(url: str, decision: str = "approve") -> httpx.Response:
    """Open the authorization URL, press a consent button, follow the redirect back (as a browser
    does); the last response is the loopback listener's page."""
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as browser:
        page = await browser.get(url)
        if page.status_code == 200 and "Approve" in page.text:
            request_id = _HIDDEN.search(page.text)
            assert request_id is not None, page.text
            page = await browser.post(
                url.split("?")[0], data={"request": request_id.group(1), "decision": decision}
            )
        assert page.status_code == 302, page.text
        return await browser.get(page.headers["location"])


@dataclass
class FrozenClock:
    """One time for the sandbox (float seconds) and the client (datetime); moved only by sleep."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Sandboxed(Protocol):
    """The sandbox's server, or a test server around the sandbox's app and state."""

    state: SandboxState

    @property
    def issuer(self) -> str: ...


def add_user_app(
    cli: CliRunner, sandbox: Sandboxed, redirect: str, callback: str | None = None
) -> None:
    """An authorization_code application at the sandbox; ``callback`` as its callback URL."""
    client = sandbox.state.add_client(
        {
            "client_id": "pd-user",
            "scope": "deals:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [redirect],
        }
    )
    grants = ["--grant-type", "authorization_code", "--grant-type", "refresh_token"]
    with_callback = ["--callback-url", callback] if callback else []
    assert cli("app", "add", "Pipedrive CRM", *grants, *with_callback)[0] == 0
    code, _, err = cli(
        "env",
        "add",
        "pipedrive-crm",
        "production",
        "--client-id",
        "pd-user",
        "--issuer",
        sandbox.issuer,
    )
    assert code == 0, err
    assert cli("secret", "set", "pipedrive-crm", "production", stdin=client.client_secret)[0] == 0


def code_exchanges(sandbox: Sandboxed) -> int:
    """How many codes reached the token endpoint."""
    return sum(
        1 for r in sandbox.state.requests if r["form"].get("grant_type") == "authorization_code"
    )
