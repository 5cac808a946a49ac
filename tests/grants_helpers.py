"""A plain-HTTP 'browser' for the consent and device pages, and a frozen clock for polling."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

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
