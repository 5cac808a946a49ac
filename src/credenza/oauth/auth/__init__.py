"""Client-authentication methods, one module each, and their registry.

A method declares itself in its class (``base.ClientAuthentication``: name, secret kind, the form
fields it sends and which are secret) and is registered in ``METHODS`` below; its name is also
listed in ``config.auth_methods``, which the config and the sandbox read (see why there), and
this module refuses to import when the two differ.
"""

from __future__ import annotations

from credenza.config.auth_methods import AUTH_METHODS
from credenza.errors import ValidationError
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest, SecretKind
from credenza.oauth.auth.basic import ClientSecretBasic
from credenza.oauth.auth.mtls import SelfSignedTlsClientAuth, TlsClientAuth
from credenza.oauth.auth.post import ClientSecretPost, PublicClient
from credenza.oauth.auth.private_key_jwt import PrivateKeyJwt

# The registry.
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
if set(METHODS) != set(AUTH_METHODS):  # pragma: no cover - caught by the first test run
    raise ImportError(
        "oauth/auth registers "
        + ", ".join(METHODS)
        + " but config/auth_methods.py names "
        + ", ".join(AUTH_METHODS)
    )


def method_for(name: str) -> ClientAuthentication:
    try:
        return METHODS[name]
    except KeyError:
        raise ValidationError(
            f"unknown client authentication method {name!r}",
            hint="use one of " + ", ".join(METHODS),
        ) from None


def sent_fields() -> frozenset[str]:
    """Every form field some method sends itself (no extra parameter may take its name)."""
    return frozenset(field for method in METHODS.values() for field in method.sent_fields)


def secret_fields() -> frozenset[str]:
    """Every form field of a method that carries a credential (masked, redacted from echoes)."""
    return frozenset(field for method in METHODS.values() for field in method.secret_fields)


__all__ = [
    "METHODS",
    "ClientAuthentication",
    "OutgoingRequest",
    "SecretKind",
    "method_for",
    "secret_fields",
    "sent_fields",
]
