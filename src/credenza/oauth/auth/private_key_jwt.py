"""private_key_jwt: a short-lived assertion signed with the client's key (RFC 7523 §2.2, OIDC §9).

Signing and key handling are PyJWT's (with cryptography): the algorithm follows the key, never the
configuration, so an RSA key cannot be talked into HS256.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from credenza.config.auth_methods import AuthMethod
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest, SecretKind
from credenza.secrets import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    PrivateKey: TypeAlias = (
        rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    )

    from credenza.oauth.plan import ClientCredentials

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# OIDC Core §9 allows any exp; short ones limit what a leaked assertion is worth.
ASSERTION_LIFETIME = timedelta(minutes=2)

_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def load_private_key(pem: Secret) -> tuple[PrivateKey, str]:
    """The key and the JWS algorithm it dictates: RS256, ES256/384/512 or EdDSA."""
    # PyJWT and cryptography are imported where a key is used: at the top of the module they
    # cost every `credenza token` 30 ms, and most clients authenticate with a secret.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if "-----BEGIN" not in pem.reveal():
        # A client secret stored before the switch to private_key_jwt: no key at all.
        raise ValidationError(
            "private_key_jwt needs a PEM private key, and this is not one (no -----BEGIN line; a "
            "client secret kept from before the auth method changed?)",
            hint="store the key: {0} < key.pem, then register `{1}` at the provider",
            next_steps=(
                step("set_secret", "APP", "ENV", private_key=None, key_id="KID"),
                step("public_key", "APP", "ENV"),
            ),
        )
    try:
        key = serialization.load_pem_private_key(pem.reveal().encode("utf-8"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValidationError(
            "the private key is not an unencrypted PEM private key",
            hint="give the key as PEM on stdin (-----BEGIN PRIVATE KEY-----); decrypt it first "
            "with `openssl pkey -in key.pem`",
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ValidationError("the RSA key is shorter than 2048 bits; providers refuse it")
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = _EC_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            raise ValidationError(f"the EC key's curve {key.curve.name} has no JWS algorithm")
        return key, algorithm
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key, "EdDSA"
    raise ValidationError("the private key must be RSA, EC (P-256/384/521) or Ed25519")


def client_assertion(
    credentials: ClientCredentials, audience: str, now: datetime, jti: str | None = None
) -> str:
    """A signed JWT with iss = sub = client_id, the given aud, a unique jti and a short exp."""
    key, algorithm = load_private_key(credentials.secret)
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.client_id,
        "aud": audience,
        "jti": jti or secrets.token_urlsafe(24),
        "iat": int(now.timestamp()),
        "exp": int((now + ASSERTION_LIFETIME).timestamp()),
    }
    headers = {"kid": credentials.key_id} if credentials.key_id else None
    import jwt

    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def public_jwk(pem: Secret, key_id: str | None = None) -> dict[str, Any]:
    """The public half of the key as a JWK, to register at the provider (RFC 7517)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key, algorithm = load_private_key(pem)
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)
    jwk = dict(jwk)
    jwk.update({"use": "sig", "alg": algorithm})
    if key_id:
        jwk["kid"] = key_id
    return jwk


class PrivateKeyJwt(ClientAuthentication):
    name: ClassVar[AuthMethod] = "private_key_jwt"
    secret_kind: ClassVar[SecretKind] = "private_key"
    sent_fields: ClassVar[frozenset[str]] = frozenset(
        {"client_id", "client_assertion_type", "client_assertion"}
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset({"client_assertion"})

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        # RFC 7523 §3: aud identifies the server; the token endpoint URL is the safe choice,
        # some servers want their issuer instead (assertion_audience).
        audience = credentials.assertion_audience or request.url
        request.form["client_id"] = credentials.client_id
        request.form["client_assertion_type"] = JWT_BEARER
        request.form["client_assertion"] = client_assertion(credentials, audience, now)
