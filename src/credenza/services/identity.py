"""Who signed in: a user token's id_token checked before it is kept, and read back for a person."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from credenza.oauth.tokens import Token, decode_jwt
from credenza.oauth.untrusted import clean

if TYPE_CHECKING:
    from credenza.services.context import Context
    from credenza.services.environments import ResolvedEnvironment


# The claims that name a person, the most recognisable first.
IDENTITY_CLAIMS = ("email", "preferred_username", "name", "sub")


def who(claims: Mapping[str, Any]) -> str | None:
    """Who an id_token's claims name, for a person (cleaned: it is the server's text)."""
    for name in IDENTITY_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and (shown := clean(value, limit=80)):
            return shown
    return None


def nonce_for(scopes: tuple[str, ...]) -> str | None:
    """OIDC Core §3.1.2.1: a sign-in that asks for an id_token binds it to this request."""
    return secrets.token_urlsafe(24) if "openid" in scopes else None


async def check_id_token(
    context: Context,
    resolved: ResolvedEnvironment,
    client_id: str,
    token: Token,
    *,
    nonce: str | None = None,
    previous: Token | None = None,
) -> Token:
    """The token to keep: its id_token checked (IdTokenError when a check fails, and then
    nothing is kept); without one, a refresh keeps the id_token of the sign-in it continues."""
    if token.id_token is None:
        if previous is not None and previous.id_token is not None:
            return replace(token, id_token=previous.id_token)
        return token
    from credenza.oauth.id_token import verify  # PyJWT: only where an id_token came

    subject = None
    if previous is not None and previous.id_token is not None:
        # A refreshed id_token must be about the person who signed in (OIDC Core §12.2).
        parts = decode_jwt(previous.id_token.reveal())
        sub = parts.claims.get("sub") if parts else None
        subject = sub if isinstance(sub, str) else None
    await verify(
        context.client,
        token.id_token,
        issuer=resolved.environment.issuer,
        client_id=client_id,
        now=context.clock(),
        nonce=nonce,
        subject=subject,
        key_sets=context.key_sets,
    )
    return token
