"""The resource owner password credentials grant (RFC 6749 §4.3): a person's username and
password exchanged once for tokens. Deprecated by RFC 9700; kept for providers that list it.

The password goes into one token request and nowhere else: it is never stored, and an echo of
it in a server's answer is redacted whatever its length (its personal secret fields, masked by oauth/transcript.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from credenza.errors import SignInError, TokenEndpointError, ValidationError
from credenza.next_steps import step
from credenza.oauth.grants import client_credentials
from credenza.oauth.grants.base import Grant
from credenza.oauth.tokens import Token
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan

GRANT = Grant(
    name="password",
    grant_type="password",
    signs_in=True,
    needs=frozenset({"token_endpoint", "username_and_password"}),
    sent_fields=frozenset({"grant_type", "username", "password", "scope"}),
    secret_fields=frozenset({"password"}),
    personal_fields=frozenset({"password"}),
)
DEPRECATED = (
    "the password grant is deprecated: RFC 9700 (OAuth 2.0 Security Best Current Practice) "
    "says it MUST NOT be used, since the client sees the person's password; prefer "
    "`{0}` with a browser or --device where the provider offers them"
)
DEPRECATED_STEPS = (step("sign_in"),)
# A username or password longer than this is not one (a pasted file, a stuck key).
_MAX_LENGTH = 1024


@dataclass(frozen=True)
class ResourceOwner:
    """Who signs in: their username (not secret) and their password (never stored)."""

    username: str
    password: Secret

    def __repr__(self) -> str:
        return f"ResourceOwner({self.username!r}, password=***)"


def resource_owner(username: str, password: str) -> ResourceOwner:
    """Checked: both given, one line each, within bounds; the password never in a message."""
    username = username.strip()
    if not username:
        raise ValidationError("no username given", hint="give the username, then the password")
    if len(username) > _MAX_LENGTH or not username.isprintable():
        raise ValidationError(
            "the username is not one line of printable text",
            hint="give the username on the first line, the password on the second",
        )
    if not password:
        raise ValidationError("no password given", hint="give the password after the username")
    if len(password) > _MAX_LENGTH or "\n" in password or "\r" in password:
        raise ValidationError(
            "the password is not one line (or is over 1024 characters)",
            hint="give the username on the first line, the password on the second",
        )
    return ResourceOwner(username, Secret(password))


def token_form(credentials: ClientCredentials, owner: ResourceOwner) -> dict[str, str]:
    """§4.3.2: the username and password, with the configured scope, audience, resource and
    extra parameters (exactly those, as for client_credentials)."""
    form = client_credentials.form(credentials)
    form["grant_type"] = GRANT.grant_type
    form["username"] = owner.username
    form["password"] = owner.password.reveal()
    return form


def plan(
    protocol: ClientProtocol, credentials: ClientCredentials, owner: ResourceOwner
) -> Plan[Token]:
    """The token request (§4.3.2), client-authenticated."""
    return protocol.plan_request_token(credentials, token_form(credentials, owner))


async def sign_in(
    client: OAuthClient, credentials: ClientCredentials, owner: ResourceOwner
) -> Token:
    """One token request; a refused username or password is said without either."""
    try:
        return await client.grant(plan, credentials, owner)
    except TokenEndpointError as error:
        if error.error != "invalid_grant":
            raise
        said = f": {error.description}" if error.description else ""
        raise SignInError(
            f"the provider refused the username or password (invalid_grant{said})",
            hint="check them and sign in again; nothing was stored",
        ) from None
