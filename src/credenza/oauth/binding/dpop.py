"""DPoP (RFC 9449): an environment's key, and the proof of possession signed with it for each
request (token endpoint and API alike).

PyJWT signs (with cryptography); the key is ES256 (P-256), made by credenza and kept in the
keyring as PEM. The proof's ``jwk`` is its public half, ``ath`` binds it to the access token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from credenza.errors import ValidationError
from credenza.oauth.binding.base import TokenBinding
from credenza.secrets import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
# A server's nonce is echoed in later proofs: kept only when it is a plain, short word.
MAX_NONCE = 512


def new_key() -> Secret:
    """A fresh P-256 private key as unencrypted PEM (for the keyring only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Secret(pem.decode("ascii"))


class DpopKey:
    """One environment's DPoP key: signs proofs, names itself by its thumbprint (RFC 7638)."""

    def __init__(self, pem: Secret) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            key = serialization.load_pem_private_key(pem.reveal().encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError):
            key = None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValidationError(
                "the DPoP key in the keyring is damaged",
                hint="turn DPoP off and on again (env edit APP ENV --no-dpop, then --dpop): "
                "a new key is made, and new tokens are bound to it",
            )
        self._key: ec.EllipticCurvePrivateKey = key

    def __repr__(self) -> str:
        return f"DpopKey({self.thumbprint})"

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (PyJWT's), with only the members RFC 7638 hashes."""
        from jwt.algorithms import ECAlgorithm

        jwk = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {name: str(jwk[name]) for name in ("kty", "crv", "x", "y")}

    @property
    def thumbprint(self) -> str:
        """RFC 7638: what a bound token carries as ``cnf.jkt``."""
        canonical = json.dumps(self.public_jwk, separators=(",", ":"), sort_keys=True)
        return _b64(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        now: datetime,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> str:
        """A proof for one request (RFC 9449 §4.2): typ dpop+jwt, the public jwk, htm, htu
        (without query and fragment), iat, a unique jti; the server's nonce and, with a token,
        ``ath`` (its SHA-256)."""
        import jwt

        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(24),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            "iat": int(now.timestamp()),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode("ascii")).digest())
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)


def usable_nonce(value: str | None) -> str | None:
    """A ``DPoP-Nonce`` worth echoing: printable ASCII without spaces (RFC 9449 §8.1
    NQCHAR), not too long; anything else is ignored."""
    if not value or len(value) > MAX_NONCE:
        return None
    if all(0x21 <= ord(ch) <= 0x7E and ch not in '"\\' for ch in value):
        return value
    return None


BINDING = TokenBinding(
    name="dpop",
    key="the environment's P-256 private key (PEM)",
    new_key=new_key,
    load=DpopKey,
    header="DPoP",
    nonce_header="DPoP-Nonce",
    scheme="DPoP",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
