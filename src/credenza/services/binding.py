"""Where a stored secret may go: every credentialed endpoint is bound to the origins the user
confirmed the secret for (SECURITY.md promises 16 and 24)."""

from __future__ import annotations

from typing import Literal

from credenza.errors import EndpointChangedError
from credenza.next_steps import step
from credenza.services.environments import ResolvedEnvironment

# The endpoints that receive a credential: the client's secret (token, revocation,
# introspection, device authorization), a token it was issued (logout, the API), or the person's
# password (authorization: the page a sign-in opens in the browser).
CredentialedEndpoint = Literal[
    "token",
    "revocation",
    "introspection",
    "logout",
    "device_authorization",
    "authorization",
    "api",
]


def origin(url: str | None) -> str | None:
    if not url:
        return None
    from credenza.oauth.origins import origin_of

    return origin_of(url)


def parse_origin(text: str) -> str:
    """An origin the user typed (``--origin``, ``--allow-origin``), as ``origin_of`` writes it;
    refused unless it is an http(s) URL with a host and nothing after it."""
    from urllib.parse import urlsplit

    from credenza.errors import ValidationError
    from credenza.oauth.origins import origin_of
    from credenza.oauth.untrusted import clean

    value = text.strip().rstrip("/")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValidationError(
            f"{clean(text, limit=120)!r} is not an origin",
            hint="give scheme://host[:port], e.g. https://auth.example.com",
        )
    return origin_of(value)


def credentialed_endpoints(resolved: ResolvedEnvironment) -> dict[CredentialedEndpoint, str]:
    """Every URL of an environment that a credential is sent to, by what it is for."""
    found: dict[CredentialedEndpoint, str | None] = {
        "token": resolved.token_url,
        "revocation": resolved.revocation_url,
        "introspection": resolved.introspection_url,
        "logout": resolved.logout_url,
        "device_authorization": resolved.device_authorization_url,
        "authorization": resolved.authorization_url,
        "api": resolved.api_url,
    }
    return {name: url for name, url in found.items() if url}


def bound_origins(stored_origin: str | None) -> set[str]:
    """The origins a stored secret may be sent to (one per endpoint host the user confirmed)."""
    return set((stored_origin or "").split())


def check_bound(
    resolved: ResolvedEnvironment,
    origins: set[str],
    endpoint: CredentialedEndpoint,
    url: str,
) -> None:
    """THE rule for every credentialed endpoint: its origin is one the secret was confirmed for.

    A discovered or edited endpoint on another origin gets nothing until the user runs
    `credenza secret confirm-endpoint` (or sets the secret again).
    """
    where = origin(url) or url
    if where in origins:
        return
    from credenza.oauth.untrusted import clean

    confirmed = ", ".join(sorted(origins)) or "none"
    shown = clean(where, limit=120)
    again = "" if endpoint != "token" else ", or set the secret again"
    raise EndpointChangedError(
        f"the {endpoint.replace('_', ' ')} endpoint of {resolved.label} is on {shown}, not on "
        f"{clean(confirmed, limit=200)} where the credential was confirmed (it moved from "
        "there); nothing was sent there",
        stored_origin=confirmed,
        new_origin=where,
        hint=f"if you trust it, run `{{0}}`{again}",
        next_steps=(
            step("confirm_endpoint", resolved.application.id, resolved.name, origin=shown),
        ),
    )
