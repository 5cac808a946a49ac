"""The sandbox's OpenID Connect id_tokens: the ES256 key they are signed with, published as a
JWK Set (rotated on demand), and the ways a misbehaving sandbox spoils them for tests."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from credenza.sandbox.clients import Client
from credenza.sandbox.core import Core

# How a misbehaving sandbox spoils the id_tokens it issues (tests of the client's checks).
IdTokenFault = Literal[
    "bad_signature",
    "wrong_aud",
    "wrong_iss",
    "wrong_nonce",
    "expired",
    "foreign_key",
    "many_aud",
    "hmac",
    "alg_none",  # unsigned (alg: none)
    "no_sub",
    "no_exp",
    "no_nonce",  # the nonce the authorization request carried is left out
    "other_sub",  # about another user (a refresh must stay about the one who signed in)
    "oct_key",  # alg confusion: HS256 keyed with a symmetric key the JWK Set publishes
    "no_kid",  # well signed, but its header names no key (a provider with one key at a time)
]
# The symmetric key an "oct_key" JWK Set publishes next to the real one.
OCT_KID = "shared-hmac"
ID_TOKEN_ALG = "ES256"


class IdTokens(Core):
    """The id_token signing key and what was issued with it."""

    # The signed-in user (user_grants.UserGrants) and the default lifetime (tokens.Tokens).
    user_name: str
    user_email: str | None
    token_ttl: int

    def __init__(self) -> None:
        # OpenID Connect id_tokens are signed with a key made at start (ES256: quick to make),
        # published at jwks_uri; never persisted, so a restarted sandbox has a new one.
        self.id_token_key = ec.generate_private_key(ec.SECP256R1())
        self.id_token_kid = _thumbprint(self.id_token_key)
        self.id_token_fault: IdTokenFault | None = None
        self._oct_secret = b"published-symmetric-key-0123456789abcdef"
        # The JWK Set endpoint answers 503 while set (a provider's key server briefly down).
        self.jwks_down = False
        self.issued_id_tokens: list[str] = []  # every id_token sent, for tests' leak checks

    def id_token(
        self,
        client: Client,
        issuer: str,
        subject: str,
        auth_time: float | None,
        nonce: str | None,
    ) -> str:
        """An OpenID Connect id_token (Core §2) for the signed-in user, signed ES256; spoiled as
        ``id_token_fault`` says, for tests of a client's checks."""
        now = self.clock()
        ttl = client.token_ttl or self.token_ttl
        claims: dict[str, Any] = {
            "iss": issuer,
            # A stable, opaque subject per user, as real providers do.
            "sub": "u-" + hashlib.sha256(subject.encode()).hexdigest()[:16],
            "aud": client.client_id,
            "exp": int(now + ttl),
            "iat": int(now),
            "auth_time": int(auth_time if auth_time is not None else now),
            "name": self.user_name,
            "preferred_username": subject.partition("@")[0],
        }
        if self.user_email:
            claims["email"] = self.user_email
            claims["email_verified"] = True
        if nonce is not None:
            claims["nonce"] = nonce
        fault = self.id_token_fault
        key: Any = self.id_token_key
        kid = self.id_token_kid
        if fault == "wrong_aud":
            claims["aud"] = "another-client"
        elif fault == "many_aud":
            claims["aud"] = [client.client_id, "another-client"]  # and no azp
        elif fault == "wrong_iss":
            claims["iss"] = issuer + "/elsewhere"
        elif fault == "wrong_nonce":
            claims["nonce"] = "not-the-nonce-that-was-sent"
        elif fault == "expired":
            claims["iat"], claims["exp"] = int(now - 7200), int(now - 3600)
        elif fault == "foreign_key":
            key, kid = ec.generate_private_key(ec.SECP256R1()), "not-published"
        elif fault in ("no_sub", "no_exp", "no_nonce"):
            claims.pop(fault.removeprefix("no_"), None)
        elif fault == "other_sub":
            claims["sub"] = "u-someone-else"
        if fault == "hmac":
            # OIDC allows HS256 keyed with the client secret; a client that accepts it can be
            # fooled by anyone who knows (or guesses) the secret.
            token = jwt.encode(claims, client.client_secret, algorithm="HS256")
        elif fault == "oct_key":
            # The published symmetric key is public: anyone can sign with it.
            token = jwt.encode(
                claims, self._oct_secret, algorithm="HS256", headers={"kid": OCT_KID}
            )
        elif fault == "alg_none":
            token = jwt.encode(claims, "", algorithm="none")
        elif fault == "no_kid":
            token = jwt.encode(claims, key, algorithm=ID_TOKEN_ALG)
        else:
            token = jwt.encode(claims, key, algorithm=ID_TOKEN_ALG, headers={"kid": kid})
        if fault == "bad_signature":
            head, payload, signature = token.split(".")
            flipped = "A" if signature[5] != "A" else "B"
            token = f"{head}.{payload}.{signature[:5]}{flipped}{signature[6:]}"
        with self.lock:
            self.issued_id_tokens.append(token)
        return token

    def rotate_id_token_key(self) -> None:
        """A new signing key, published instead of the old one (a provider's key rotation)."""
        key = ec.generate_private_key(ec.SECP256R1())
        with self.lock:
            self.id_token_key, self.id_token_kid = key, _thumbprint(key)

    def jwks(self) -> dict[str, Any]:
        """The public key id_tokens are signed with, as a JWK Set (RFC 7517 §5)."""
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.id_token_key.public_key(), as_dict=True)
        keys = [{**public, "kid": self.id_token_kid, "use": "sig", "alg": ID_TOKEN_ALG}]
        if self.id_token_fault == "oct_key":
            secret = base64.urlsafe_b64encode(self._oct_secret).rstrip(b"=").decode("ascii")
            keys.append({"kty": "oct", "k": secret, "kid": OCT_KID, "use": "sig", "alg": "HS256"})
        return {"keys": keys}


def _thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638: the key's id is its JWK thumbprint (no draw from the seeded randomness, so the
    demo's ids and secrets stay what they were)."""
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    members = {name: public[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
