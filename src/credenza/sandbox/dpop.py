"""The sandbox's DPoP checks (RFC 9449 §4.3): a proof's signature, typ, htm, htu, iat, jti,
nonce and ath, and the key thumbprint (RFC 7638) a bound token carries as ``cnf.jkt``."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from credenza.sandbox.state import SandboxState

# How far a proof's iat may be from the sandbox's clock (RFC 9449 §11.1: "a few seconds to
# minutes"), and how long its jti is remembered against a replay.
IAT_WINDOW = 60
PROOF_ALGS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
# RFC 7638 §3.2: the members a thumbprint hashes, per key type.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


@dataclass(frozen=True)
class ProofProblem:
    """Why a proof is refused: ``use_dpop_nonce`` (retry with the nonce) or ``invalid_dpop_proof``."""

    error: str
    description: str


def thumbprint(jwk: dict[str, Any]) -> str:
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise ValueError("not a public key credenza's sandbox knows")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """``ath``: the base64url SHA-256 of the access token (RFC 9449 §4.2)."""
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


def check_proof(
    state: SandboxState,
    proof: str,
    method: str,
    url: str,
    *,
    nonce: str | None,
    access_token: str | None = None,
) -> str | ProofProblem:
    """The proof's key thumbprint (jkt), or why it is refused. ``nonce``: the one the proof must
    carry (None: any or none); ``access_token``: the token it must be bound to by ``ath``."""

    def bad(description: str) -> ProofProblem:
        return ProofProblem("invalid_dpop_proof", description)

    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError:
        return bad("the DPoP proof is not a JWT")
    if header.get("typ") != "dpop+jwt":
        return bad("the DPoP proof's typ is not dpop+jwt")
    alg, jwk = header.get("alg"), header.get("jwk")
    if alg not in PROOF_ALGS:
        return bad("the DPoP proof's alg is not one the sandbox accepts")
    if not isinstance(jwk, dict) or "d" in jwk:
        return bad("the DPoP proof needs a public jwk in its header")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
        claims = jwt.decode(
            proof,
            key.key,
            algorithms=[alg],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        jkt = thumbprint(jwk)
    except (jwt.PyJWTError, ValueError):
        return bad("the DPoP proof's signature does not verify with its jwk")
    if claims.get("htm") != method:
        return bad(f"the DPoP proof's htm is {claims.get('htm')!r}, not {method}")
    if _without_query(str(claims.get("htu", ""))) != _without_query(url):
        return bad("the DPoP proof's htu is not this URL")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or abs(iat - state.clock()) > IAT_WINDOW:
        return bad("the DPoP proof's iat is too far from now")
    if nonce is not None and claims.get("nonce") != nonce:
        return ProofProblem("use_dpop_nonce", "the authorization server requires a DPoP nonce")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        return bad("the DPoP proof's ath does not match the access token")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return bad("the DPoP proof has no jti")
    if not state.use_jti(f"dpop:{jti}", float(iat) + 2 * IAT_WINDOW):
        return bad("the DPoP proof's jti was already used (replay)")
    return jkt


def _without_query(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
