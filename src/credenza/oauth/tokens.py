"""Tokens: parsing token responses (RFC 6749 §5.1, with provider quirks), expiry, JWT claims."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from credenza.errors import InvalidResponseError
from credenza.oauth.untrusted import NOTHING, Sent, clean, parse_json
from credenza.secrets import Secret

# A token claiming to live longer than this is kept, but its expiry is capped so that date
# arithmetic cannot overflow (some servers send 2**63 or 1e308).
MAX_LIFETIME = timedelta(days=3650)
# RFC 6749 Appendix A.12/A.17: access-token and refresh-token = 1*VSCHAR (%x20-7E). Anything
# else (a newline, an escape, a quote from another alphabet) would break a header or a shell.
_VSCHAR = re.compile(r"[\x20-\x7e]+")
# RFC 9110 token (the auth-scheme a token_type names): no space, quote, separator or control.
_TOKEN_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}")
# Token types credenza knows how to present: RFC 6750 Bearer and RFC 9449 DPoP (case-insensitive).
KNOWN_TOKEN_TYPES = ("Bearer", "DPoP")
# Times in JWT claims and introspection answers: outside these, a date is not a date.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)


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
    # The response had no `scope`: RFC 6749 §5.1 says the grant is exactly what was requested.
    scope_omitted: bool = False
    # OpenID Connect: who signed in, as the provider signed it. Kept only with a user token,
    # once oauth/id_token.py has checked it.
    id_token: Secret | None = None

    def scope_text(self) -> str:
        """The granted scopes for a person: "as requested" when the provider did not say."""
        if self.scope_omitted:
            return f"as requested ({' '.join(self.scopes)})" if self.scopes else "as requested"
        return " ".join(self.scopes)

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

    def to_json(self, *, with_id_token: bool = False) -> str:
        """For the keyring only: this string holds the token itself (and the id_token, for a
        signed-in user's token whose id_token was checked)."""
        id_token = self.id_token.reveal() if with_id_token and self.id_token else None
        return json.dumps(
            {
                "v": 1,
                "access_token": self.access_token.reveal(),
                "token_type": self.token_type,
                "issued_at": self.issued_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "scopes": list(self.scopes),
                "scope_omitted": self.scope_omitted,
                "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
                **({"id_token": id_token} if id_token else {}),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Token:
        """Read a cached token; raise InvalidResponseError when the entry is damaged."""
        try:
            data = json.loads(text)
            expires = data.get("expires_at")
            refresh = data.get("refresh_token")
            id_token = data.get("id_token")
            return cls(
                access_token=Secret(str(data["access_token"])),
                token_type=str(data.get("token_type") or "Bearer"),
                issued_at=datetime.fromisoformat(data["issued_at"]),
                expires_at=datetime.fromisoformat(expires) if expires else None,
                scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
                refresh_token=Secret(str(refresh)) if refresh else None,
                scope_omitted=bool(data.get("scope_omitted", False)),
                id_token=Secret(str(id_token)) if id_token else None,
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
                f"the token response has expires_in '{clean(value, limit=40)}', not a number of "
                "seconds"
            ) from None
    else:
        raise InvalidResponseError(
            f"the token response has expires_in of type {type(value).__name__}, not a number"
        )
    if math.isnan(seconds) or seconds < 0:
        raise InvalidResponseError(
            f"the token response has expires_in '{clean(value, limit=40)}': a token cannot "
            "expire in the past"
        )
    return seconds


def parse_token_response(
    body: Any, *, issued_at: datetime | None = None, sent: Sent = NOTHING
) -> Token:
    """Build a Token from a decoded JSON token response, or raise InvalidResponseError.

    ``sent`` is what credenza sent in the exchange: nothing of it reaches an error message.
    """
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
    if not _VSCHAR.fullmatch(access_token):
        raise InvalidResponseError(
            "the token endpoint issued an access_token with characters outside RFC 6749's "
            "VSCHAR (control characters or non-ASCII); credenza refuses to hand it out",
            hint="report it to the provider; such a token cannot be sent in a header safely",
        )
    token_type = body.get("token_type")
    if token_type is None or (isinstance(token_type, str) and token_type.lower() == "bearer"):
        token_type = "Bearer"  # RFC 6750: the type is case-insensitive; absent means Bearer here
    elif isinstance(token_type, str) and token_type.lower() == "dpop":
        token_type = "DPoP"  # RFC 9449 §5: bound to the key of the proof it was asked with
    elif not isinstance(token_type, str):
        raise InvalidResponseError("the token response has a token_type that is not a string")
    elif not _TOKEN_TYPE.fullmatch(token_type):
        raise InvalidResponseError(
            f"the token response has token_type '{clean(token_type, sent, limit=40)}', which is "
            "not a valid HTTP authentication scheme; credenza refuses to hand the token out"
        )
    now = issued_at or datetime.now(UTC)
    seconds = parse_expires_in(body.get("expires_in"))
    expires_at = (
        None if seconds is None else now + min(timedelta(seconds=min(seconds, 4e11)), MAX_LIFETIME)
    )
    scope = body.get("scope")
    # A granted scope is shown and compared, never sent back raw: one with an escape sequence
    # in it is kept only as its cleaned text.
    scopes = (
        tuple(shown for part in split_scopes(scope)[:200] if (shown := clean(part, limit=100)))
        if isinstance(scope, str)
        else ()
    )
    refresh = body.get("refresh_token")
    if isinstance(refresh, str) and refresh and not _VSCHAR.fullmatch(refresh):
        raise InvalidResponseError(
            "the token endpoint issued a refresh_token with characters outside RFC 6749's VSCHAR"
        )
    id_token = body.get("id_token")
    if id_token is not None and not (isinstance(id_token, str) and _VSCHAR.fullmatch(id_token)):
        raise InvalidResponseError(
            "the token endpoint sent an id_token that is not a JWT (not a string of VSCHAR)"
        )
    known = {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    return Token(
        access_token=Secret(access_token),
        token_type=token_type,
        issued_at=now,
        expires_at=expires_at,
        scopes=scopes,
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        extra={key: value for key, value in body.items() if key not in known and key != "id_token"},
        scope_omitted="scope" not in body,
        id_token=Secret(id_token) if id_token else None,
    )


def token_warnings(token: Token, requested: Sequence[str]) -> list[str]:
    """What a person should know about a token that works: an unknown type, a grant that is
    wider or narrower than the scopes requested (least privilege, SECURITY.md 19)."""
    warnings = []
    if token.token_type not in KNOWN_TOKEN_TYPES:
        warnings.append(
            f"the provider issued a token of type '{clean(token.token_type, limit=40)}', not "
            "Bearer; credenza hands it out as given, but APIs that expect Bearer will refuse it"
        )
    if token.scope_omitted or not requested:
        return warnings
    granted, asked = set(token.scopes), set(requested)
    if wider := granted - asked:
        warnings.append(
            "the provider granted more than was asked: " + clean(" ".join(sorted(wider)), limit=200)
        )
    if missing := asked - granted:
        warnings.append(
            "the provider did not grant: "
            + clean(" ".join(sorted(missing)), limit=200)
            + " (calls that need these scopes will fail)"
        )
    return warnings


def claim_time(value: Any) -> datetime | None:
    """A NumericDate claim (exp, iat, nbf, auth_time) as a datetime; None when it is not a
    number or lies outside the years 1970-9999 (a server's 10**15 is not a date)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not _EARLIEST.timestamp() <= value <= _LATEST.timestamp():
        return None
    return datetime.fromtimestamp(value, UTC)


_TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})


def describe_claims(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs of JWT claims or an introspection answer, cleaned for a screen.

    Times are shown as dates when they are dates, and said to be out of range when not."""
    rows = []
    for key, value in list(data.items())[:200]:
        text = value if isinstance(value, str) else _compact(value)
        shown = clean(text, limit=300)
        if key in _TIME_CLAIMS and not isinstance(value, str):
            when = claim_time(value)
            if when is not None:
                shown += f"  ({when:%Y-%m-%d %H:%M:%S} UTC)"
            elif isinstance(value, int | float) and not isinstance(value, bool):
                shown += "  (out of range: not a date)"
        rows.append((clean(key, limit=60), shown))
    return rows


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return "…"


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
        header = parse_json(_b64url(pieces[0]))
        claims = parse_json(_b64url(pieces[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return JwtParts(header=header, claims=claims)


def _b64url(piece: str) -> bytes:
    return base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4))
