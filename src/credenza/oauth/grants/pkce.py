"""Proof Key for Code Exchange (RFC 7636), S256 only: the plain method protects nothing."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from credenza.secrets import Secret


def challenge_of(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (§4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Pkce:
    """A verifier (kept secret until the code exchange) and the challenge sent with the request."""

    verifier: Secret = field(default_factory=lambda: Secret(secrets.token_urlsafe(64)[:86]))
    method: str = "S256"

    @property
    def challenge(self) -> str:
        return challenge_of(self.verifier.reveal())
