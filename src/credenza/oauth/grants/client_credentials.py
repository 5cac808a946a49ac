"""The client_credentials grant (RFC 6749 §4.4): the client acting for itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from credenza.oauth.grants.base import Grant

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan
    from credenza.oauth.tokens import Token

GRANT = Grant(
    name="client_credentials",
    grant_type="client_credentials",
    signs_in=False,
    needs=frozenset({"token_endpoint"}),
    sent_fields=frozenset({"grant_type", "scope"}),
)


def form(credentials: ClientCredentials) -> dict[str, str]:
    """Exactly the configured scope, audience, resource and extra parameters (least privilege)."""
    body: dict[str, str] = {"grant_type": "client_credentials"}
    if credentials.scopes:
        body["scope"] = " ".join(credentials.scopes)
    if credentials.audience:
        body["audience"] = credentials.audience
    if credentials.resource:
        body["resource"] = credentials.resource
    body.update(credentials.extra_params)
    return body


def plan(protocol: ClientProtocol, credentials: ClientCredentials) -> Plan[Token]:
    """The token request (§4.4.2), client-authenticated."""
    return protocol.plan_request_token(credentials, form(credentials))
