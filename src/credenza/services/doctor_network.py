"""`credenza doctor`'s checks over the network: the provider endpoints in use (do they answer,
and is their clock ours) and the team store (its token, and what it may do). No credential
is sent to an endpoint (a HEAD), the store token is never shown, and a server's text reaches
a report only through `clean`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from credenza.config.model import Config
from credenza.errors import CredenzaError
from credenza.oauth.origins import origin_of
from credenza.providers.profiles import resolve_profile
from credenza.services.context import Clock
from credenza.services.doctor import Check

if TYPE_CHECKING:
    from credenza.oauth.transport import HttpSettings

#: A clock further than this from a provider's makes JWT iat / exp / nbf checks fail.
CLOCK_TOLERANCE = 60.0
#: How long one endpoint may take to answer a probe (a check, not a token call).
PROBE_DEADLINE = 5.0


async def probe_endpoints(
    urls: list[str], settings: Callable[[], HttpSettings], clock: Clock
) -> list[Check]:
    """One probe per endpoint: does it answer, how fast, and how far its clock is from ours."""
    if not urls:
        return []
    import asyncio

    from credenza.oauth.client import OAuthClient

    # One try each, a short deadline, all at once: a check, not a token call.
    client = OAuthClient(settings(), clock=clock)
    try:
        return list(await asyncio.gather(*(_probe(client, url, clock) for url in urls)))
    finally:
        await client.aclose()


async def _probe(client: object, url: str, clock: Clock) -> Check:
    from credenza.oauth.client import OAuthClient

    assert isinstance(client, OAuthClient)
    origin = origin_of(url)
    started = time.perf_counter()
    try:
        answer = await client.probe(url)
    except CredenzaError as exc:
        from credenza.oauth.untrusted import clean

        # A status line or a title from the server may be in the message: the one door.
        return Check(
            "endpoint",
            origin,
            False,
            f"unreachable: {clean(exc.message)}",
            exc.hint,
            next_steps=exc.next_steps,
        )
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    when = _date(answer.headers.get("date"))
    if when is None:
        return Check(
            "endpoint",
            origin,
            True,
            f"answers (HTTP {answer.status}, {elapsed:.0f} ms); it sends no Date to compare "
            "clocks with",
            elapsed_ms=elapsed,
        )
    # The server's Date has whole seconds: half the round trip is within that.
    offset = (when - clock()).total_seconds()
    found = f"answers (HTTP {answer.status}, {elapsed:.0f} ms); its clock is {_seconds(offset)}"
    if abs(offset) <= CLOCK_TOLERANCE:
        return Check("endpoint", origin, True, found, elapsed_ms=elapsed, offset_seconds=offset)
    return Check(
        "endpoint",
        origin,
        False,
        found,
        fix=f"more than {CLOCK_TOLERANCE:g} s apart, so the provider's tokens look issued in "
        "the future or already expired: set this machine's clock from the network "
        "(timedatectl set-ntp true, or your system's time settings)",
        elapsed_ms=elapsed,
        offset_seconds=offset,
    )


def team_store_checks(config: Config, settings: HttpSettings) -> list[Check]:
    """The team's secret store (`[team]`): where, the store token's source, whether it is valid
    and what it may do on the path. Read-only, blocking (run in a thread); never the token."""
    from credenza.errors import TeamStoreError
    from credenza.oauth.sync_client import SyncOAuthClient
    from credenza.oauth.untrusted import clean
    from credenza.services.vault import VaultClient, find_token

    team = config.team
    if team is None:
        return []
    where = f"{team.backend} at {team.address}, {team.mount}/data/{team.path}"
    token = find_token()
    if token is None:
        return [
            Check(
                "team_store",
                "team store",
                False,
                f"{where}; no store token",
                fix="set VAULT_TOKEN (or BAO_TOKEN), or log in with `vault login` / `bao login`",
            )
        ]
    driver = SyncOAuthClient(settings)
    client = VaultClient(driver, team.address, team.mount, token)
    probe = f"{team.mount}/data/{team.path}/*"
    try:
        who = clean(str(client.lookup_self().get("display_name") or "?"), limit=80)
        allowed = set(client.capabilities([probe]).get(probe, []))
    except TeamStoreError as error:
        return [
            Check(
                "team_store",
                "team store",
                False,
                f"{where}; token from {token.source}: {error.message}",
                fix=error.hint,
                next_steps=error.next_steps,
            )
        ]
    finally:
        driver.close()
    may = [
        c
        for c, needs in (("read", {"read"}), ("write", {"create", "update"}))
        if "root" in allowed or needs <= allowed
    ]
    found = (
        f"{where}; token from {token.source}, valid as {who}; it may {', '.join(may) or 'nothing'}"
    )
    if "read" not in may:
        return [
            Check(
                "team_store",
                "team store",
                False,
                found,
                fix=f"ask for a policy with read on {team.mount}/data/{team.path}/*",
            )
        ]
    return [Check("team_store", "team store", True, found)]


def endpoints_in_use(config: Config, base: str | None = None) -> list[str]:
    """One token URL per origin among the config's environments (the provider's default where
    an environment names none, else its issuer), in the order they appear."""
    seen: dict[str, str] = {}
    for application in config.applications:
        profile = resolve_profile(
            application.provider, config.providers.get(application.provider or ""), base
        )
        for name, environment in application.environments.items():
            url = (
                environment.token_url
                or profile.environments.get(name, {}).get("token_url")
                or environment.issuer
            )
            if url:
                seen.setdefault(origin_of(url), url)
    return list(seen.values())


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None


def _seconds(offset: float) -> str:
    if abs(offset) < 1.5:
        return "in step with ours"
    return f"{abs(offset):.0f} s {'ahead of' if offset > 0 else 'behind'} ours"
