"""What a token is keyed by: the credential fingerprint, and the agent's tags."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from credenza.services.environments import ResolvedEnvironment

if TYPE_CHECKING:
    from credenza.services.context import Context
    from credenza.services.credentials import Credentials


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


class Fingerprints:
    """The fingerprint of a credential as configured now, with the team store's version of the
    secret when it is there."""

    def __init__(self, context: Context, credentials: Credentials) -> None:
        self._context = context
        self._credentials = credentials

    def of(
        self, resolved: ResolvedEnvironment, scopes: Iterable[str], *, offline: bool = False
    ) -> str:
        """``offline``: the team store's version as last seen, no network call (for a listing
        on the dashboard's loop)."""
        version = None
        if self._context.config.team is not None and _has_secret(resolved):
            app_id, name = resolved.application.id, resolved.name
            version = self._credentials.secret_version(app_id, name, offline=offline)
        return fingerprint(self._context.workspace_id, resolved, scopes, version)


def _has_secret(resolved: ResolvedEnvironment) -> bool:
    from credenza.oauth.auth import method_for

    return method_for(resolved.auth_method).secret_kind != "none"
