"""The refresh_token grant (RFC 6749 §6): a new access token without the user."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from credenza.oauth.grants.base import Grant
from credenza.oauth.tokens import Token
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan

# Renews what another grant got: never the grant an application's tokens come from.
GRANT = Grant(
    name="refresh_token",
    grant_type="refresh_token",
    signs_in=False,
    starts=False,
    needs=frozenset({"token_endpoint", "refresh_token"}),
    sent_fields=frozenset({"grant_type", "refresh_token", "scope"}),
    secret_fields=frozenset({"refresh_token"}),
)


def form(credentials: ClientCredentials, refresh_token: Secret) -> dict[str, str]:
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
    if credentials.scopes:
        body["scope"] = " ".join(credentials.scopes)
    return body


def keep_refresh_token(token: Token, used: Secret) -> Token:
    """A server that did not rotate the refresh token left the old one valid (§6): keep it."""
    if token.refresh_token is not None:
        return token
    return replace(token, refresh_token=used)


def was_rotated(token: Token, used: Secret) -> bool:
    """True when the answer carries a new refresh token that must replace ``used`` at once."""
    return token.refresh_token is not None and token.refresh_token.reveal() != used.reveal()


def plan(
    protocol: ClientProtocol, credentials: ClientCredentials, refresh_token: Secret
) -> Plan[Token]:
    """The token request (§6); a server that did not rotate the refresh token keeps it valid."""
    token = yield from protocol.plan_request_token(credentials, form(credentials, refresh_token))
    return keep_refresh_token(token, refresh_token)
