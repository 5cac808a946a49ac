"""Client-authentication methods, one module each; a new method is a file and a line here."""

from __future__ import annotations

from credenza.errors import ValidationError
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest, SecretKind
from credenza.oauth.auth.basic import ClientSecretBasic
from credenza.oauth.auth.mtls import SelfSignedTlsClientAuth, TlsClientAuth
from credenza.oauth.auth.post import ClientSecretPost, PublicClient
from credenza.oauth.auth.private_key_jwt import PrivateKeyJwt

METHODS: dict[str, ClientAuthentication] = {
    method.name: method
    for method in (
        ClientSecretBasic(),
        ClientSecretPost(),
        PrivateKeyJwt(),
        TlsClientAuth(),
        SelfSignedTlsClientAuth(),
        PublicClient(),
    )
}


def method_for(name: str) -> ClientAuthentication:
    try:
        return METHODS[name]
    except KeyError:
        raise ValidationError(
            f"unknown client authentication method {name!r}",
            hint="use one of " + ", ".join(METHODS),
        ) from None


__all__ = ["METHODS", "ClientAuthentication", "OutgoingRequest", "SecretKind", "method_for"]
