"""Grants, one module each: what each sends to the token endpoint and how it gets there."""

from __future__ import annotations

from typing import Literal

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

# The grant an environment uses to get a token, in the words of the application's grant types.
GrantName = Literal["client_credentials", "authorization_code", "device_code", "password"]
# Grants that need a person to sign in; their tokens are then kept fresh with refresh_token.
USER_GRANTS = frozenset({"authorization_code", DEVICE_CODE, "device_code", "password"})


# Recorded where a provider lists it (Anypoint), never run: the token comes back in the URL
# fragment, where history, referrers and extensions see it.
IMPLICIT_REFUSAL = (
    "RFC 9700 (the OAuth 2.0 Security Best Current Practice) says clients must not use it, "
    "since the token travels in the URL; credenza signs in with authorization_code and PKCE "
    "instead"
)


def token_grant(grant_types: list[str] | tuple[str, ...]) -> GrantName | None:
    """The grant `credenza token` uses for an application with these grant types.

    client_credentials when declared (the client acting for itself); else the user grant it
    declares, whose token a person obtains once with `credenza login` and credenza then keeps
    fresh with the refresh token. None when it declares nothing credenza can get a token with.
    """
    declared = set(grant_types)
    if "client_credentials" in declared:
        return "client_credentials"
    if "authorization_code" in declared:
        return "authorization_code"
    if declared & {DEVICE_CODE, "device_code"}:
        return "device_code"
    if "password" in declared:
        return "password"  # RFC 6749 §4.3, deprecated (RFC 9700): the last a person is offered
    return None


def signs_in(grant_types: list[str] | tuple[str, ...]) -> bool:
    """Whether an application's tokens come from a person signing in (not the client alone)."""
    return token_grant(grant_types) in USER_GRANTS


def declares_device_flow(grant_types: list[str] | tuple[str, ...]) -> bool:
    return bool(set(grant_types) & {DEVICE_CODE, "device_code"})


def declares_password(grant_types: list[str] | tuple[str, ...]) -> bool:
    return "password" in grant_types
