"""What a token is keyed by: the credential fingerprint, and the token held under it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from credenza.errors import SignInRequiredError, ValidationError
from credenza.oauth.grants import grant_for
from credenza.oauth.tokens import Token
from credenza.services.environments import ResolvedEnvironment


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


def fingerprint(
    workspace_id: str,
    resolved: ResolvedEnvironment,
    scopes: Iterable[str],
    secret_version: int | None = None,
) -> str:
    """Everything a token depends on, hashed: another credential never shares its key. The
    workspace, not the config's path: a moved config keeps its tokens and sign-ins.

    ``secret_version``: the team store's version of the secret (None: a keyring's secret), so
    that after a teammate's reset everyone's next token is fetched with the new secret."""
    return _fingerprint({"workspace": workspace_id}, resolved, scopes, secret_version)


def legacy_fingerprint(
    config_path: str, resolved: ResolvedEnvironment, scopes: Iterable[str]
) -> str:
    """The fingerprint before workspace ids (the config's real path in it): what the tokens
    kept under the old keyring names were stored with (services/migration.py)."""
    return _fingerprint({"config": config_path}, resolved, scopes)


def _fingerprint(
    owner: dict[str, str],
    resolved: ResolvedEnvironment,
    scopes: Iterable[str],
    secret_version: int | None = None,
) -> str:
    environment = resolved.environment
    parts: dict[str, object] = {
        **owner,
        "application": resolved.application.id,
        "environment": resolved.name,
        "client_id": environment.client_id,
        "token_url": resolved.token_url,
        "auth_method": resolved.auth_method,
        "scopes": sorted(set(scopes)),
        "audience": environment.audience,
        "resource": environment.resource,
        "params": sorted(environment.extra_params.items()),
    }
    if environment.dpop:
        # Only when on: the fingerprints of every token cached before DPoP existed stay valid.
        parts["dpop"] = True
    if secret_version is not None:
        parts["secret_version"] = secret_version
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def agent_tags(config_path: str, app_id: str, environment: str | None) -> list[str]:
    """What the agent files a token under, so that a drop reaches every alias of it. By the
    config's real path, as the fast path's key (protocol.config_key) is: two configs are two
    files, so never one tag, and a moved config's agent entries are simply not found again."""
    base = f"{config_path}\x1f{app_id}"
    return [base] if environment is None else [base, f"{base}\x1f{environment}"]


def require_client_credentials(resolved: ResolvedEnvironment) -> None:
    """Never send a grant the application does not declare."""
    grant = grant_for(resolved.application.grant_types)
    if grant is not None and not grant.signs_in:
        return
    app = resolved.application.id
    if grant is None:
        from credenza.oauth.grants import IMPLICIT_REFUSAL

        implicit = "implicit" in resolved.application.grant_types
        raise ValidationError(
            f"{resolved.application.name} declares no grant credenza can get a token with "
            f"({', '.join(resolved.application.grant_types) or 'none'})"
            + (f"; the implicit grant is never used: {IMPLICIT_REFUSAL}" if implicit else ""),
            hint=f"add one: credenza app edit {app} --grant-type client_credentials"
            + (" (or authorization_code)" if implicit else ""),
        )
    raise SignInRequiredError(
        f"{resolved.application.name} uses {grant.name}, not client_credentials: its tokens "
        "come from a person signing in",
        hint=f"sign in: credenza login {app} --env {resolved.name}",
    )
