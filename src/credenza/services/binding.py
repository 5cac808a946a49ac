"""Where a stored secret may go: every credentialed endpoint is bound to the origins the user
confirmed the secret for (SECURITY.md promises 16 and 24)."""

from __future__ import annotations

from typing import Literal

from credenza.errors import EndpointChangedError
from credenza.services.environments import ResolvedEnvironment

# The endpoints that receive a credential: the client's secret (token, revocation,
# introspection, device authorization) or a token it was issued (logout, the API).
CredentialedEndpoint = Literal[
    "token", "revocation", "introspection", "logout", "device_authorization", "api"
]


def origin(url: str | None) -> str | None:
    if not url:
        return None
    from credenza.oauth.origins import origin_of

    return origin_of(url)


def credentialed_endpoints(resolved: ResolvedEnvironment) -> dict[CredentialedEndpoint, str]:
    """Every URL of an environment that a credential is sent to, by what it is for."""
    found: dict[CredentialedEndpoint, str | None] = {
        "token": resolved.token_url,
        "revocation": resolved.revocation_url,
        "introspection": resolved.introspection_url,
        "logout": resolved.logout_url,
        "device_authorization": getattr(resolved, "device_authorization_url", None),
        "api": getattr(resolved, "api_url", None),
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
    raise EndpointChangedError(
        f"the {endpoint.replace('_', ' ')} endpoint of {resolved.label} is on "
        f"{clean(where, limit=120)}: it moved from {clean(confirmed, limit=200)}, where the secret "
        "was confirmed; nothing was sent there",
        stored_origin=confirmed,
        new_origin=where,
        hint="if you trust it, run `credenza secret confirm-endpoint "
        f"{resolved.application.id} {resolved.name}`, or set the secret again",
    )
