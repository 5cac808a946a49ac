"""The token records: a token held with the credential it was issued to, and its index entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credenza.oauth.tokens import Token
from credenza.secrets import Secret


@dataclass
class SessionToken:
    """A token credenza holds, with the credential it was issued to."""

    application_id: str
    environment: str
    token: Token
    requested_scopes: tuple[str, ...]
    fingerprint: str
    # A signed-in person's token (authorization code or device flow), kept fresh with the
    # refresh token; otherwise the client's own (client_credentials).
    user: bool = False

    @property
    def key(self) -> str:
        return self.fingerprint

    @property
    def account(self) -> str | None:
        """Who a user token acts for, cleaned for a screen: from the id_token checked at sign-in
        (email, else preferred_username, else name, else sub), else the ``sub`` of a JWT access
        token, when it is one."""
        from credenza.oauth.tokens import decode_jwt
        from credenza.oauth.untrusted import clean
        from credenza.services.identity import who

        claims = self.identity_claims
        if claims is not None and (named := who(claims)):
            return named
        parts = decode_jwt(self.token.access_token.reveal())
        subject = parts.claims.get("sub") if parts else None
        return clean(subject, limit=80) or None if isinstance(subject, str) else None

    @property
    def identity_claims(self) -> dict[str, Any] | None:
        """The claims of the id_token kept with a signed-in user's token (its signature, issuer,
        audience, times and nonce were checked before it was kept); None without one."""
        if not self.user or self.token.id_token is None:
            return None
        from credenza.oauth.tokens import decode_jwt

        parts = decode_jwt(self.token.id_token.reveal())
        return parts.claims if parts else None

    def entry(self) -> TokenEntry:
        """What the token index keeps of this token: everything but its value."""
        token = self.token
        return TokenEntry(
            application_id=self.application_id,
            environment=self.environment,
            fingerprint=self.fingerprint,
            requested_scopes=self.requested_scopes,
            user=self.user,
            token_type=token.token_type,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            scopes=token.scopes,
            scope_omitted=token.scope_omitted,
            refreshable=token.refresh_token is not None,
            account=self.account if self.user else None,
            masked=token.access_token.masked(),
        )


@dataclass(frozen=True)
class TokenEntry:
    """A cached or held token as a list shows it, without its value: what the token index file
    keeps (services/tokens/index.py). Its value is read from the keyring only when it is used,
    revealed or copied (``Tokens.session``)."""

    application_id: str
    environment: str
    fingerprint: str
    requested_scopes: tuple[str, ...]
    user: bool
    token_type: str
    issued_at: datetime
    expires_at: datetime | None
    scopes: tuple[str, ...]
    scope_omitted: bool
    refreshable: bool
    # Who a person's token acts for (as SessionToken.account: cleaned), None for a client's.
    account: str | None = None
    # How the value is shown masked: its last characters when this process holds it, else
    # bullets only (never in the index file).
    masked: str = "••••••••"

    @property
    def key(self) -> str:
        return self.fingerprint

    @property
    def expiry(self) -> Token:
        """A Token with the times, type and scopes of this one and NO value: for a countdown,
        which reads only the times. Never sent or shown as a token."""
        return Token(
            access_token=Secret(""),
            token_type=self.token_type,
            issued_at=self.issued_at,
            expires_at=self.expires_at,
            scopes=self.scopes,
            scope_omitted=self.scope_omitted,
        )

    def scope_text(self) -> str:
        """The granted scopes for a person (as Token.scope_text)."""
        return self.expiry.scope_text()

    def to_dict(self) -> dict[str, Any]:
        """The index file's record: no value, no masked tail."""
        return {
            "application": self.application_id,
            "environment": self.environment,
            "requested": list(self.requested_scopes),
            "user": self.user,
            "type": self.token_type,
            "issued": self.issued_at.isoformat(),
            "expires": self.expires_at.isoformat() if self.expires_at else None,
            "scopes": list(self.scopes),
            "omitted": self.scope_omitted,
            "refreshable": self.refreshable,
            "account": self.account,
        }

    @classmethod
    def from_dict(cls, fingerprint: str, data: dict[str, Any]) -> TokenEntry:
        """An index record read back; raises ValueError (or KeyError, TypeError) when damaged."""
        expires = data["expires"]
        account = data.get("account")
        return cls(
            application_id=str(data["application"]),
            environment=str(data["environment"]),
            fingerprint=fingerprint,
            requested_scopes=tuple(str(s) for s in data["requested"]),
            user=bool(data["user"]),
            token_type=str(data["type"]),
            issued_at=datetime.fromisoformat(str(data["issued"])),
            expires_at=datetime.fromisoformat(str(expires)) if expires else None,
            scopes=tuple(str(s) for s in data["scopes"]),
            scope_omitted=bool(data["omitted"]),
            refreshable=bool(data["refreshable"]),
            account=str(account) if account is not None else None,
        )
