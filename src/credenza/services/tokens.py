"""The one token store: every cached copy of a token (memory, keyring, agent) under one key.

The key is the credential fingerprint: the config file's real path, application id,
environment, client_id, token endpoint, auth method, sorted scopes, audience, resource and extra
parameters. Any change to one of these makes the old entry unreachable, and every edit, removal,
secret change and revoke drops the affected entries everywhere through ``forget``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from credenza.errors import (
    CredenzaError,
    InvalidResponseError,
    RevocationUnconfirmedError,
    TokenEndpointError,
)
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.status import RefreshFailure

if TYPE_CHECKING:
    from credenza.oauth.client import ClientCredentials


@dataclass
class SessionToken:
    """A token credenza holds, with the credential it was issued to."""

    application_id: str
    environment: str
    token: Token
    requested_scopes: tuple[str, ...]
    fingerprint: str

    @property
    def key(self) -> str:
        return self.fingerprint


def fingerprint(config_path: str, resolved: ResolvedEnvironment, scopes: Iterable[str]) -> str:
    """Everything a token depends on, hashed: another credential never shares its key."""
    environment = resolved.environment
    parts = {
        "config": config_path,
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
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def agent_tags(config_path: str, app_id: str, environment: str | None) -> list[str]:
    """What the agent files a token under, so that a drop reaches every alias of it."""
    base = f"{config_path}\x1f{app_id}"
    return [base] if environment is None else [base, f"{base}\x1f{environment}"]


class Tokens:
    """Fetch, cache, refresh, revoke and inspect tokens; the only owner of cached tokens."""

    def __init__(
        self, context: Context, environments: Environments, credentials: Credentials
    ) -> None:
        self._context = context
        self._environments = environments
        self._credentials = credentials
        # What this process holds (the dashboard's Tokens rows), by fingerprint.
        self.sessions: dict[str, SessionToken] = {}
        # Refreshes that failed in this process, by (application, environment): `status` says so.
        self.refresh_failures: dict[tuple[str, str], RefreshFailure] = {}

    # -- getting tokens -----------------------------------------------------------------------

    def requested_scopes(
        self, resolved: ResolvedEnvironment, scopes: Iterable[str] | None
    ) -> tuple[str, ...]:
        requested = tuple(scopes) if scopes else tuple(resolved.environment.scopes)
        return tuple(sorted(set(requested)))

    async def fetch(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> SessionToken:
        """A new token from the provider (client_credentials), held in memory."""
        resolved = await self._environments_ready(app_ref, env_name)
        credentials = await self._credentials.client_credentials(
            resolved, self.requested_scopes(resolved, scopes)
        )
        token = await self._context.client.fetch_token(credentials)
        return self._hold(resolved, credentials, token)

    async def token(
        self,
        app_ref: str,
        env_name: str | None = None,
        scopes: Iterable[str] | None = None,
        *,
        use_cache: bool = True,
        skew: float | None = None,
    ) -> tuple[SessionToken, bool]:
        """A usable token: the cached one while it is further than ``skew`` from expiry, else a
        new one, which is then cached in the keyring. Returns (token, came from the cache)."""
        resolved = self._environments.resolve(app_ref, env_name)
        requested = self.requested_scopes(resolved, scopes)
        skew = self._context.config.settings.token_skew_seconds if skew is None else skew
        if use_cache:
            key = fingerprint(self._context.config_path, resolved, requested)
            cached = await asyncio.to_thread(
                self.cached, resolved.application.id, resolved.name, key
            )
            if cached is not None and cached.is_usable(self._context.clock(), skew):
                session = SessionToken(
                    resolved.application.id, resolved.name, cached, requested, key
                )
                self.sessions[key] = session
                return session, True
        session = await self.fetch(resolved.application.id, resolved.name, requested)
        await asyncio.to_thread(self.cache, session)
        return session, False

    async def refresh(self, session: SessionToken) -> SessionToken:
        """Refresh with the refresh_token when one was issued, else fetch a new token."""
        where = (session.application_id, session.environment)
        try:
            fresh = await self._refresh(session)
        except CredenzaError as exc:
            self.refresh_failures[where] = RefreshFailure(
                where[0], where[1], exc.message, self._context.clock()
            )
            raise
        self.refresh_failures.pop(where, None)
        return fresh

    async def _refresh(self, session: SessionToken) -> SessionToken:
        resolved = await self._environments_ready(session.application_id, session.environment)
        credentials = await self._credentials.client_credentials(resolved, session.requested_scopes)
        if session.token.refresh_token is not None:
            token = await self._context.client.refresh(credentials, session.token.refresh_token)
        else:
            token = await self._context.client.fetch_token(credentials)
        if session.fingerprint != self._key(resolved, credentials):
            self.sessions.pop(session.fingerprint, None)
        fresh = self._hold(resolved, credentials, token)
        await asyncio.to_thread(self.cache, fresh)
        return fresh

    async def revoke(self, session: SessionToken) -> str:
        """Revoke (RFC 7009) or log out (GET + Bearer); the local copies are dropped either way."""
        from credenza.errors import ValidationError

        resolved = self._environments.resolve(session.application_id, session.environment)
        try:
            if resolved.revocation_url:
                credentials = await self._credentials.client_credentials(
                    resolved,
                    session.requested_scopes,
                    endpoint="revocation",
                    url=resolved.revocation_url,
                )
                await self._context.client.revoke(
                    credentials, resolved.revocation_url, session.token.access_token
                )
                how = "revoked"
            elif resolved.logout_url:
                await self._credentials.check_destination(resolved, "logout", resolved.logout_url)
                await self._context.client.logout(
                    resolved.logout_url, session.token.access_token, resolved.profile
                )
                how = "logged out"
            else:
                raise ValidationError(
                    f"{resolved.label} has no revocation or logout endpoint",
                    hint="set --revocation-url or --logout-url on the environment, or discover them",
                )
        except RevocationUnconfirmedError:
            # An answer that is not the spec's: maybe revoked, maybe not; never used again.
            await asyncio.to_thread(self.drop, session)
            raise
        except TokenEndpointError as exc:
            if exc.error == "unsupported_token_type":
                await asyncio.to_thread(self.drop, session)
            raise
        await asyncio.to_thread(self.drop, session)
        return how

    async def introspect(self, session: SessionToken) -> dict[str, Any]:
        from credenza.errors import ValidationError

        resolved = self._environments.resolve(session.application_id, session.environment)
        if not resolved.introspection_url:
            raise ValidationError(
                f"{resolved.label} has no introspection endpoint",
                hint="set --introspection-url on the environment, or discover it from the issuer",
            )
        credentials = await self._credentials.client_credentials(
            resolved,
            session.requested_scopes,
            endpoint="introspection",
            url=resolved.introspection_url,
        )
        return await self._context.client.introspect(
            credentials, resolved.introspection_url, session.token.access_token
        )

    # -- the cache ----------------------------------------------------------------------------

    def cached(self, app_id: str, environment: str, key: str) -> Token | None:
        """The token cached in the keyring under this fingerprint, or None (also when damaged)."""
        payload = self._context.secrets.get_raw(names.token(app_id, environment, key))
        if payload is None:
            return None
        try:
            return Token.from_json(payload)
        except InvalidResponseError:
            return None

    def cache(self, session: SessionToken) -> None:
        secrets = self._context.secrets
        name = names.token(session.application_id, session.environment, session.fingerprint)
        index_name = names.token_index(session.application_id, session.environment)
        # One line per entry: its keyring name, then the scopes it was requested with.
        line = " ".join([name, *session.requested_scopes])
        index = set(filter(None, (secrets.get_raw(index_name) or "").split("\n")))
        if line not in index:
            # The index first: an entry it does not list could never be removed.
            secrets.set_raw(index_name, "\n".join(sorted(index | {line})))
        secrets.set_raw(name, session.token.to_json())

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Tokens cached in the keyring that still belong to the credential as configured now.

        Each environment costs keyring reads: name it when only one matters.
        """
        found: list[SessionToken] = []
        context = self._context
        applications = [context.application(app_ref)] if app_ref else context.config.applications
        for application in applications:
            for name in application.environments:
                if env_name is not None and name != env_name:
                    continue
                index = context.secrets.get_raw(names.token_index(application.id, name)) or ""
                entries = [line.split(" ") for line in index.split("\n") if line]
                if not entries:
                    continue
                resolved = self._environments.resolve(application.id, name)
                for entry, *requested in entries:
                    key = names.token_fingerprint(entry)
                    scopes = tuple(requested)
                    if fingerprint(context.config_path, resolved, scopes) != key:
                        continue  # cached for a credential that is no longer configured
                    token = self.cached(application.id, name, key)
                    if token is not None:
                        found.append(SessionToken(application.id, name, token, scopes, key))
        return found

    def drop(self, session: SessionToken) -> None:
        """Forget one token everywhere: memory, keyring, agent."""
        self.sessions.pop(session.fingerprint, None)
        secrets = self._context.secrets
        secrets.delete_raw(
            names.token(session.application_id, session.environment, session.fingerprint)
        )
        self._tell_agent(session.application_id, session.environment)

    def forget(self, app_id: str, environment: str | None) -> None:
        """Forget every token of an application (or one environment) everywhere."""
        application = self._context.application(app_id)
        envs = [environment] if environment is not None else list(application.environments)
        for key in [
            k
            for k, s in self.sessions.items()
            if s.application_id == application.id and s.environment in envs
        ]:
            del self.sessions[key]
        secrets = self._context.secrets
        for name in envs:
            index_name = names.token_index(application.id, name)
            index = secrets.get_raw(index_name)
            for line in filter(None, (index or "").split("\n")):
                secrets.delete_raw(line.split(" ")[0])
            if index is not None:
                secrets.delete_raw(index_name)
        self._tell_agent(application.id, environment)

    def share_with_agent(self, session: SessionToken, alias: str) -> None:
        """Hand a token to a running agent under the fast path's lookup key."""
        from credenza import agent

        token = session.token
        agent.request(
            {
                "op": "put",
                "key": alias,
                "tags": agent_tags(
                    self._context.config_path, session.application_id, session.environment
                ),
                "token": token.access_token.reveal(),
                "token_type": token.token_type,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                "expires": token.expires_at.timestamp() if token.expires_at else None,
                "skew": self._context.config.settings.token_skew_seconds,
                "scope": " ".join(token.scopes),
            }
        )

    # -- internals ----------------------------------------------------------------------------

    def _tell_agent(self, app_id: str, environment: str | None) -> None:
        from credenza import agent

        tag = agent_tags(self._context.config_path, app_id, environment)[-1]
        agent.request({"op": "drop", "tag": tag})

    def _key(self, resolved: ResolvedEnvironment, credentials: ClientCredentials) -> str:
        return fingerprint(self._context.config_path, resolved, credentials.scopes)

    def _hold(
        self, resolved: ResolvedEnvironment, credentials: ClientCredentials, token: Token
    ) -> SessionToken:
        session = SessionToken(
            resolved.application.id,
            resolved.name,
            token,
            credentials.scopes,
            self._key(resolved, credentials),
        )
        self.sessions[session.fingerprint] = session
        return session

    async def _environments_ready(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment:
        return await self._credentials.ready(app_ref, env_name)
