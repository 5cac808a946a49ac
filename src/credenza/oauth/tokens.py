"""Tokens: parsing token responses (RFC 6749 §5.1, with provider quirks), expiry, JWT claims."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from credenza.errors import InvalidResponseError
from credenza.secrets import Secret

# A token claiming to live longer than this is kept, but its expiry is capped so that date
# arithmetic cannot overflow (some servers send 2**63 or 1e308).
MAX_LIFETIME = timedelta(days=3650)


@dataclass(frozen=True)
class Token:
    """An access token and what the provider said about it."""

    access_token: Secret
    token_type: str
    issued_at: datetime
    expires_at: datetime | None
    scopes: tuple[str, ...] = ()
    refresh_token: Secret | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until expiry (negative once expired); None when the provider gave no expiry."""
        if self.expires_at is None:
            return None
        return (self.expires_at - now).total_seconds()

    def lifetime_fraction_left(self, now: datetime) -> float | None:
        """Share of the lifetime still left, 0.0 to 1.0; None when the expiry is unknown."""
        if self.expires_at is None:
            return None
        total = (self.expires_at - self.issued_at).total_seconds()
        if total <= 0:
            return 0.0
        return min(1.0, max(0.0, (self.expires_at - now).total_seconds() / total))

    def is_usable(self, now: datetime, skew: float) -> bool:
        """True while the token is further than ``skew`` seconds from its expiry."""
        left = self.seconds_left(now)
        return left is None or left > skew

    def to_json(self) -> str:
        """For the keyring token cache only: this string holds the token itself."""
        return json.dumps(
            {
                "v": 1,
                "access_token": self.access_token.reveal(),
                "token_type": self.token_type,
                "issued_at": self.issued_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "scopes": list(self.scopes),
                "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Token:
        """Read a cached token; raise InvalidResponseError when the entry is damaged."""
        try:
            data = json.loads(text)
            expires = data.get("expires_at")
            refresh = data.get("refresh_token")
            return cls(
                access_token=Secret(str(data["access_token"])),
                token_type=str(data.get("token_type") or "Bearer"),
                issued_at=datetime.fromisoformat(data["issued_at"]),
                expires_at=datetime.fromisoformat(expires) if expires else None,
                scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
                refresh_token=Secret(str(refresh)) if refresh else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidResponseError(
                "a cached token is damaged; it will be fetched again"
            ) from None


def split_scopes(value: str) -> tuple[str, ...]:
    """Scopes from a space- or comma-separated string (some providers use commas)."""
    return tuple(part for part in value.replace(",", " ").split() if part)


def parse_expires_in(value: Any) -> float | None:
    """``expires_in`` as seconds: a number, a numeric string ("3600", as Telenor sends), or absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidResponseError(f"the token response has expires_in {value!r}, not a number")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            raise InvalidResponseError(
                f"the token response has expires_in {value[:40]!r}, not a number of seconds"
            ) from None
    else:
        raise InvalidResponseError(
            f"the token response has expires_in of type {type(value).__name__}, not a number"
        )
    if math.isnan(seconds) or seconds < 0:
        raise InvalidResponseError(
            f"the token response has expires_in {value!r}: a token cannot expire in the past"
        )
    return seconds


def parse_token_response(body: Any, *, issued_at: datetime | None = None) -> Token:
    """Build a Token from a decoded JSON token response, or raise InvalidResponseError."""
    if not isinstance(body, dict):
        raise InvalidResponseError(
            "the token endpoint answered 2xx with JSON that is not an object"
        )
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise InvalidResponseError(
            "the token endpoint answered 2xx without an access_token",
            hint="the URL may point at something that is not a token endpoint",
        )
    token_type = body.get("token_type")
    if token_type is None or (isinstance(token_type, str) and token_type.lower() == "bearer"):
        token_type = "Bearer"  # RFC 6750: the type is case-insensitive; absent means Bearer here
    elif not isinstance(token_type, str):
        raise InvalidResponseError("the token response has a token_type that is not a string")
    now = issued_at or datetime.now(UTC)
    seconds = parse_expires_in(body.get("expires_in"))
    expires_at = (
        None if seconds is None else now + min(timedelta(seconds=min(seconds, 4e11)), MAX_LIFETIME)
    )
    scope = body.get("scope")
    scopes = split_scopes(scope) if isinstance(scope, str) else ()
    refresh = body.get("refresh_token")
    known = {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    return Token(
        access_token=Secret(access_token),
        token_type=token_type,
        issued_at=now,
        expires_at=expires_at,
        scopes=scopes,
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        extra={key: value for key, value in body.items() if key not in known and key != "id_token"},
    )


@dataclass(frozen=True)
class JwtParts:
    """A JWT's header and claims, decoded locally; the signature is not checked."""

    header: dict[str, Any]
    claims: dict[str, Any]


def decode_jwt(token: str) -> JwtParts | None:
    """Decode a JWT's header and claims without verifying it; None when it is not a JWT."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header = json.loads(_b64url(pieces[0]))
        claims = json.loads(_b64url(pieces[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return JwtParts(header=header, claims=claims)


def _b64url(piece: str) -> bytes:
    return base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4))
