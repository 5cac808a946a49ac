"""The one token store: every cached copy of a token (memory, keyring, agent) under one key.

The key is the credential fingerprint: the config file's real path, application id,
environment, client_id, token endpoint, auth method, sorted scopes, audience, resource and extra
parameters. Any change to one of these makes the old entry unreachable, and every edit, removal,
secret change and revoke drops the affected entries everywhere through ``forget``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from credenza.errors import (
    CredenzaError,
    IdTokenError,
    IdTokenUnverifiableError,
    InvalidResponseError,
    KeyringLockedError,
    NoKeyringError,
    RevocationUnconfirmedError,
    SecretMissingError,
    SignInRequiredError,
    TokenEndpointError,
    UnsafeKeyringError,
    ValidationError,
)
from credenza.oauth.grants import signs_in, token_grant
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context, in_thread
from credenza.services.credential_key import (
    SessionToken,
    agent_tags,
    fingerprint,
    require_client_credentials,
)
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.identity import check_id_token
from credenza.services.status import RefreshFailure

if TYPE_CHECKING:
    from datetime import datetime

    from credenza.config.keep import Kept, KeptTokens
    from credenza.oauth.protocol import ClientCredentials
    from credenza.secrets import Secret


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
        # Refreshes that could not reach the provider, in this process only (see _refresh_failed).
        self._unreachable: dict[tuple[str, str], tuple[str, datetime]] = {}

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
        session, credentials = await self._issue(resolved, self.requested_scopes(resolved, scopes))
        # Held in memory only; a secret changed meanwhile forgot the tokens before this one.
        if await in_thread(self._issued_to_current, resolved, credentials):
            await in_thread(self._refresh_worked, resolved.application.id, resolved.name)
        else:
            self.sessions.pop(session.fingerprint, None)
        return session

    async def fresh(self, app_ref: str, env_name: str | None = None) -> SessionToken:
        """A new token whatever the grant: the client's own fetched, or a signed-in person's
        refreshed (verify, and the dashboard's fetch key)."""
        resolved = self._environments.resolve(app_ref, env_name)
        if signs_in(resolved.application.grant_types):
            session, _ = await self.token(resolved.application.id, resolved.name, use_cache=False)
            return session
        return await self.fetch(resolved.application.id, resolved.name)

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
        resolved, requested, skew = self._asked(app_ref, env_name, scopes, skew)
        if signs_in(resolved.application.grant_types):
            held, from_cache = await self.user_token(resolved, skew, force_refresh=not use_cache)
            if scopes:
                _require_granted(resolved.label, held, requested)
            return held, from_cache
        if use_cache and (cached := await in_thread(self._usable, resolved, requested, skew)):
            return cached, True
        ready = await self._environments_ready(resolved.application.id, resolved.name)
        session, credentials = await self._issue(ready, requested)
        await in_thread(self._keep, ready, session, credentials)
        return session, False

    def token_now(
        self,
        app_ref: str,
        env_name: str | None = None,
        scopes: Iterable[str] | None = None,
        *,
        use_cache: bool = True,
    ) -> tuple[SessionToken, bool] | None:
        """``token`` for a one-shot command, blocking and without asyncio: the same cache, the
        same fingerprint, the same checks, the same protocol (the blocking client runs the async
        client's plans). None when the call needs what only the async path does: a person's
        token (sign-in and refresh), or endpoints still to be discovered from the issuer."""
        resolved, requested, skew = self._asked(app_ref, env_name, scopes, None)
        if signs_in(resolved.application.grant_types):
            return None
        if use_cache and (cached := self._usable(resolved, requested, skew)):
            return cached, True
        ready = self._credentials.ready_now(resolved.application.id, resolved.name)
        if ready is None:
            return None
        require_client_credentials(ready)
        credentials = self._credentials.for_call(ready, requested)
        token = self._context.blocking_client.fetch_token(credentials)
        session = self._hold(ready, credentials, token)
        self._keep(ready, session, credentials)
        return session, False

    async def refresh(self, session: SessionToken) -> SessionToken:
        """Refresh with the refresh_token when one was issued, else fetch a new token."""
        try:
            fresh = await self._refresh(session)
        except CredenzaError as exc:
            await in_thread(self._refresh_failed, session.application_id, session.environment, exc)
            raise
        return fresh

    def refresh_failures(self) -> list[RefreshFailure]:
        """Refreshes that failed, in any process of this person, until one succeeds; and those
        that could not reach the provider, in this process only."""
        failures = {**self._context.local_state.refresh_failures(), **self._unreachable}
        return [
            RefreshFailure(app, env, message, at) for (app, env), (message, at) in failures.items()
        ]

    def _refresh_failed(self, app_id: str, environment: str, error: CredenzaError) -> None:
        from credenza.oauth.answers import error_kind
        from credenza.oauth.untrusted import clean

        message, now = clean(error.message, limit=300), self._context.clock()
        if error_kind(error) == "unreachable":
            # Offline (a laptop asleep, a VPN down) is not kept for `status` in cron to report
            # as due: the dashboard that saw it says so while it runs.
            self._unreachable[(app_id, environment)] = (message, now)
            return
        self._context.local_state.refresh_failed(app_id, environment, message, now)

    def _refresh_worked(self, app_id: str, environment: str) -> None:
        self._unreachable.pop((app_id, environment), None)
        self._context.local_state.refresh_worked(app_id, environment)

    async def _refresh(self, session: SessionToken) -> SessionToken:
        if session.user:
            resolved = self._environments.resolve(session.application_id, session.environment)
            fresh, _ = await self.user_token(resolved, 0, force_refresh=True)
            return fresh
        resolved = await self._environments_ready(session.application_id, session.environment)
        credentials = await self._credentials.client_credentials(resolved, session.requested_scopes)
        if session.token.refresh_token is not None:
            token = await self._context.client.refresh(credentials, session.token.refresh_token)
        else:
            token = await self._context.client.fetch_token(credentials)
        if session.fingerprint != self._key(resolved, credentials):
            self.sessions.pop(session.fingerprint, None)
        fresh = self._hold(resolved, credentials, token)
        await in_thread(self._keep, resolved, fresh, credentials)
        return fresh

    async def revoke(self, session: SessionToken) -> str:
        """Revoke (RFC 7009) or log out (GET + Bearer); the local copies are dropped either way.

        A person's sign-in is revoked under the credential's lock, as stored now: a refresh in
        another process since ``session`` was read rotated its refresh token, and the spent one
        would be revoked while the live one stayed valid at the provider."""
        if not session.user:
            return await self._revoke(session)
        async with credential_lock(self._context, session.application_id, session.environment):
            resolved = self._environments.resolve(session.application_id, session.environment)
            current = await in_thread(self.user_session, resolved)
            if current is not None and current.fingerprint == session.fingerprint:
                session = current
            return await self._revoke(session)

    async def _revoke(self, session: SessionToken) -> str:
        resolved = self._environments.resolve(session.application_id, session.environment)
        try:
            if resolved.revocation_url:
                credentials = await self._credentials.client_credentials(
                    resolved,
                    session.requested_scopes,
                    endpoint="revocation",
                    url=resolved.revocation_url,
                )
                refresh_token = session.token.refresh_token if session.user else None
                if refresh_token is not None:
                    # RFC 7009 §2.1: revoking the refresh token ends the whole sign-in.
                    await self._context.client.revoke(
                        credentials, resolved.revocation_url, refresh_token, "refresh_token"
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
            await in_thread(self.drop, session)
            raise
        except TokenEndpointError as exc:
            if exc.error == "unsupported_token_type":
                await in_thread(self.drop, session)
            raise
        await in_thread(self.drop, session)
        return how

    async def introspect(self, session: SessionToken) -> dict[str, Any]:

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

    # -- user tokens (authorization code, device flow) ----------------------------------------

    def user_session(self, resolved: ResolvedEnvironment) -> SessionToken | None:
        """The signed-in user's token for this environment, if it still belongs to the credential
        as configured now (an edit of client_id, endpoint or auth method makes it unreachable)."""
        payload = self._context.secrets.get_raw(
            names.user_token(resolved.application.id, resolved.name)
        )
        if payload is None:
            return None
        try:
            data = json.loads(payload)
            scopes = tuple(str(s) for s in data["scopes"])
            token = Token.from_json(json.dumps(data["token"]))
        except (ValueError, KeyError, TypeError, InvalidResponseError):
            return None  # damaged: as if nobody had signed in
        key = self._fingerprint(resolved, scopes)
        if data.get("fingerprint") != key:
            return None
        return SessionToken(resolved.application.id, resolved.name, token, scopes, key, user=True)

    def keep_user_token(
        self, resolved: ResolvedEnvironment, scopes: tuple[str, ...], token: Token
    ) -> SessionToken:
        """Store a user token and its refresh token in ONE keyring write: a rotated refresh
        token replaces the used one at once, so no moment exists with neither stored."""
        key = self._fingerprint(resolved, scopes)
        payload = {"v": 1, "fingerprint": key, "scopes": list(scopes)}
        payload["token"] = json.loads(token.to_json(with_id_token=True))
        # A sign-in stored while another process refreshes the one before waits for it: that
        # refresh's answer would otherwise replace the new sign-in.
        with credential_lock(self._context, resolved.application.id, resolved.name):
            self._context.secrets.set_raw(
                names.user_token(resolved.application.id, resolved.name), json.dumps(payload)
            )
        session = SessionToken(resolved.application.id, resolved.name, token, scopes, key, True)
        self.sessions[key] = session
        self._tell_agent(resolved.application.id, resolved.name)
        self._refresh_worked(resolved.application.id, resolved.name)
        return session

    async def user_token(
        self, resolved: ResolvedEnvironment, skew: float, *, force_refresh: bool = False
    ) -> tuple[SessionToken, bool]:
        """The user's access token, refreshed when within ``skew`` of expiry. A rotated refresh
        token is stored before the new access token is handed out.

        A token still usable is answered without the lock; a refresh holds the credential's lock
        (services/credential_lock.py) from reading the refresh token to storing the answer, so
        parallel processes never spend one rotating refresh token twice."""
        session = await in_thread(self.user_session, resolved)
        if session is None:
            raise _nobody_signed_in(resolved)
        if not force_refresh and session.token.is_usable(self._context.clock(), skew):
            self.sessions[session.fingerprint] = session
            return session, True
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            return await self._refresh_user_token(resolved, session, skew)

    async def _refresh_user_token(
        self, resolved: ResolvedEnvironment, read: SessionToken, skew: float, *, again: bool = True
    ) -> tuple[SessionToken, bool]:
        """Under the credential's lock: refresh the sign-in ``read`` before the lock was taken,
        or use what another process stored meanwhile."""
        login = _login_command(resolved)
        # Read again under the lock: the process that held it may have refreshed (or signed out)
        # meanwhile, and at a provider that rotates them the refresh token read before is spent.
        session = await in_thread(self.user_session, resolved)
        if session is None:
            raise _nobody_signed_in(resolved)
        if not _same_sign_in(session.token, read.token) and session.token.is_usable(
            self._context.clock(), skew
        ):
            self.sessions[session.fingerprint] = session
            return session, True  # the other process's fresh token
        refresh_token = session.token.refresh_token
        if refresh_token is None:
            raise SignInRequiredError(
                f"the sign-in to {resolved.label} has expired and the provider gave no refresh "
                "token",
                hint=f"sign in again: {login}",
            )
        resolved = await self._environments_ready(resolved.application.id, resolved.name)
        credentials = await self._credentials.client_credentials(resolved, session.requested_scopes)
        try:
            token = await self._context.client.refresh(credentials, refresh_token)
        except TokenEndpointError as exc:
            if exc.error != "invalid_grant":
                raise
            # Expired, revoked, or already used (a rotation whose answer never got stored). Only
            # the refresh token refused goes: one stored since by another writer stays, and is
            # tried once.
            if not await in_thread(self._drop_if_stored, session) and again:
                return await self._refresh_user_token(resolved, session, skew, again=False)
            refused = SignInRequiredError(
                f"the provider no longer accepts the refresh token of {resolved.label}",
                hint=f"sign in again: {login}",
            )
            await in_thread(self._refresh_failed, resolved.application.id, resolved.name, refused)
            raise refused from None
        # The answer is stored at once, with the sign-in's (checked) id_token: at a provider
        # that rotates refresh tokens the stored one is spent now, and nothing that can fail or
        # be interrupted later (a JWKS fetch, Ctrl-C) may lose the new one.
        scopes = session.requested_scopes
        kept = replace(token, id_token=session.token.id_token)
        fresh = await in_thread(self.keep_user_token, resolved, scopes, kept)
        if not await in_thread(self._issued_to_current, resolved, credentials):
            # The client secret changed while this was in flight: that change forgot the
            # sign-in (it belonged to the credential as it was), so this answer goes too.
            await in_thread(self.forget, resolved.application.id, resolved.name)
            raise SignInRequiredError(
                f"the client secret of {resolved.label} changed during the refresh; the sign-in "
                "belonged to the old one",
                hint=f"sign in again: {login}",
            )
        if token.id_token is None:
            return fresh, False
        # Then the refresh's own id_token (about the same person, OIDC Core §12.2).
        try:
            await check_id_token(
                self._context, resolved, credentials.client_id, token, previous=session.token
            )
        except IdTokenUnverifiableError:
            # The keys cannot be had just now: the new id_token is not believed, the checked one
            # of the sign-in stays with the (kept) tokens.
            return fresh, False
        except IdTokenError as exc:
            # Forged, another user's, another client's: the whole sign-in goes.
            await in_thread(self.drop, fresh)
            await in_thread(self._refresh_failed, resolved.application.id, resolved.name, exc)
            raise
        fresh = await in_thread(self.keep_user_token, resolved, scopes, token)
        return fresh, False

    def _drop_if_stored(self, used: SessionToken) -> bool:
        """Compare-and-delete: forget the sign-in whose refresh token the provider refused, only
        while the keyring still holds that refresh token. False: another was stored since (a
        sign-in, or a writer that does not take the lock), and it is left as it is."""
        payload = self._context.secrets.get_raw(
            names.user_token(used.application_id, used.environment)
        )
        stored = _stored_token(payload)
        if stored is not None and not _same_secret(stored.refresh_token, used.token.refresh_token):
            self.sessions.pop(used.fingerprint, None)
            return False
        self.drop(used)
        return True

    # -- the cache ----------------------------------------------------------------------------

    def cached(self, app_id: str, environment: str, key: str) -> Token | None:
        """The token cached in the keyring under this fingerprint, or None (also when damaged)."""
        return _token_from(self._context.secrets.get_raw(names.token(app_id, environment, key)))

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

    def _keep(
        self, resolved: ResolvedEnvironment, session: SessionToken, credentials: ClientCredentials
    ) -> bool:
        """Cache a token just issued, then make sure the secret it was issued to is still the
        stored one: a `secret set` or a reset while the call was in flight forgot every token
        before this one existed, so this one is dropped again (the caller still gets it: it was
        asked for and issued). A change after the check forgets it the usual way. False when
        it was dropped. Under the credential's lock: the token index is read, changed and
        written, and a secret set (which holds it too) comes wholly before or after."""
        with credential_lock(self._context, resolved.application.id, resolved.name):
            self.cache(session)
            if self._issued_to_current(resolved, credentials):
                self._refresh_worked(resolved.application.id, resolved.name)
                return True
            # Everything of the credential goes, the index line this call added included: what
            # a secret change (or a removal) does itself, once more now that this token exists.
            self.forget(resolved.application.id, resolved.name)
            return False

    def _issued_to_current(
        self, resolved: ResolvedEnvironment, credentials: ClientCredentials
    ) -> bool:
        import hmac

        from credenza.oauth.auth import method_for

        if method_for(resolved.auth_method).secret_kind == "none":
            return True  # a public client: no secret to change
        try:
            stored = self._credentials.stored_secret(resolved.application.id, resolved.name)
        except SecretMissingError:
            return False  # removed meanwhile
        return hmac.compare_digest(
            stored.secret.reveal().encode(), credentials.secret.reveal().encode()
        )

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Tokens cached in the keyring that still belong to the credential as configured now.

        Each environment costs keyring reads: name it when only one matters.
        """
        return [
            session
            for batch in self.cached_batches(app_ref, env_name, size=None)
            for session in batch
        ]

    def cached_batches(
        self,
        app_ref: str | None = None,
        env_name: str | None = None,
        *,
        size: int | None,
        first: int | None = None,
    ) -> Iterator[list[SessionToken]]:
        """``cached_sessions``, ``size`` environments at a time (None: all at once), the first
        batch ``first`` environments (default ``size``) so that something shows sooner.

        On gnome-keyring every entry read scans the whole collection: with 5,000 cached tokens
        (15,000 entries with their indexes and secrets) reading them all takes about a minute,
        so the dashboard shows each batch as it comes instead of nothing until the end.
        """
        context = self._context
        applications = [context.application(app_ref)] if app_ref else context.config.applications
        # (application id, environment, signed in by a person)
        wanted: list[tuple[str, str, bool]] = [
            (application.id, name, signs_in(application.grant_types))
            for application in applications
            for name in application.environments
            if env_name is None or name == env_name
        ]
        if not wanted:
            return
        step = size or len(wanted)
        starts = [0, *range(min(first or step, step), len(wanted), step)]
        for start, stop in zip(starts, [*starts[1:], len(wanted)], strict=True):
            part = wanted[start:stop]
            found: list[SessionToken] = []
            for app_id, name, user in part:
                if user:
                    signed_in = self.user_session(self._environments.resolve(app_id, name))
                    if signed_in is not None:
                        found.append(signed_in)
            found += self._cached_tokens([(app_id, name) for app_id, name, _ in part])
            yield found

    def _cached_tokens(self, wanted: list[tuple[str, str]]) -> list[SessionToken]:
        """The client-credentials tokens cached for these environments."""
        context = self._context
        found: list[SessionToken] = []
        # Two batched reads, every index then every token they list: one keyring call per entry
        # took 1.9 s to the first countdown for 500 tokens on gnome-keyring.
        indexes = context.secrets.get_many(names.token_index(a, e) for a, e in wanted)
        candidates: list[tuple[str, str, str, tuple[str, ...]]] = []
        for app_id, name in wanted:
            index = indexes.get(names.token_index(app_id, name)) or ""
            entries = [line.split(" ") for line in index.split("\n") if line]
            if not entries:
                continue
            resolved = self._environments.resolve(app_id, name)
            for entry, *requested in entries:
                key = names.token_fingerprint(entry)
                scopes = tuple(requested)
                if self._fingerprint(resolved, scopes) != key:
                    continue  # cached for a credential that is no longer configured
                candidates.append((app_id, name, key, scopes))
        payloads = context.secrets.get_many(names.token(a, e, k) for a, e, k, _ in candidates)
        for app_id, name, key, scopes in candidates:
            token = _token_from(payloads.get(names.token(app_id, name, key)))
            if token is not None:
                found.append(SessionToken(app_id, name, token, scopes, key))
        return found

    def drop(self, session: SessionToken) -> None:
        """Forget one token everywhere: memory, keyring, agent."""
        self.sessions.pop(session.fingerprint, None)
        secrets = self._context.secrets
        if session.user:
            secrets.delete_raw(names.user_token(session.application_id, session.environment))
        secrets.delete_raw(
            names.token(session.application_id, session.environment, session.fingerprint)
        )
        self._tell_agent(session.application_id, session.environment)

    def forget(self, app_id: str, environment: str | None, *, keep_sign_in: bool = False) -> None:
        """Forget every token of an application (or one environment) everywhere. With an
        environment named, ``app_id`` is an id and need not be in the config any more.

        ``keep_sign_in``: a new client secret, not a new credential. A person's sign-in stays
        (providers keep user tokens across a secret reset: Pipedrive says so) and its next
        refresh sends the new secret; the client's own cached tokens go."""
        if environment is None:
            app_id = self._context.application(app_id).id
        envs = (
            [environment]
            if environment is not None
            else list(self._context.application(app_id).environments)
        )
        for key in [
            k
            for k, s in self.sessions.items()
            if s.application_id == app_id
            and s.environment in envs
            and not (s.user and keep_sign_in)
        ]:
            del self.sessions[key]
        secrets = self._context.secrets
        for name in envs:
            # The index is read, then emptied: a token cached meanwhile waits (see _keep).
            with credential_lock(self._context, app_id, name):
                if not keep_sign_in:
                    # A signed-in user's tokens too: they belonged to the credential as it was.
                    secrets.delete_raw(names.user_token(app_id, name))
                index_name = names.token_index(app_id, name)
                index = secrets.get_raw(index_name)
                for line in filter(None, (index or "").split("\n")):
                    secrets.delete_raw(line.split(" ")[0])
                if index is not None:
                    secrets.delete_raw(index_name)
        self._tell_agent(app_id, environment)

    def held(self) -> list[SessionToken]:
        """The tokens this process holds that still belong to a credential as configured now;
        the rest (removed or edited by another process since) are dropped from memory."""
        if not self.sessions:
            return []
        current: list[SessionToken] = []
        for key, session in list(self.sessions.items()):
            try:
                resolved = self._environments.resolve(session.application_id, session.environment)
            except CredenzaError:
                resolved = None
            if (
                resolved is None
                or self._fingerprint(resolved, session.requested_scopes, offline=True) != key
            ):
                del self.sessions[key]
            else:
                current.append(session)
        return current

    def share_with_agent(self, session: SessionToken, alias: str, read_at: float) -> None:
        """Hand a token to a running agent under the fast path's lookup key. ``read_at`` (the
        wall clock before the token was read or fetched): the agent refuses it when a change
        dropped its credential since, so a change racing this call never leaves it there."""
        from credenza import agent

        if self._context.config.team is not None and not session.user:
            # The agent answers without asking the team store, so it would go on handing out a
            # token issued to a secret a teammate has since rotated: team tokens skip it.
            return
        agent.request({**self.agent_put(session, alias), "read_at": read_at})

    def agent_put(self, session: SessionToken, alias: str) -> dict[str, Any]:
        """The agent's ``put`` of ``session`` under the fast path's key ``alias``."""
        token = session.token
        return {
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

    # -- kept fresh by the agent ----------------------------------------------------------------

    def keep(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> Kept:
        """Ask the agent to keep this token fresh, from now on and after any restart: the
        choice goes into this person's keep file, and a running agent is told."""
        from credenza.config.keep import Kept

        resolved = self._environments.resolve(app_ref, env_name)
        requested = self.requested_scopes(resolved, scopes)
        # The environment's own scopes are kept as "none named", as `credenza token APP` asks.
        named = () if requested == self.requested_scopes(resolved, None) else requested
        entry = Kept(
            self._context.config_path,
            self._context.workspace_id,
            resolved.application.id,
            resolved.name,
            named,
        )
        self._kept_file().add(entry)
        self._tell_agent_kept("keep")
        return entry

    def unkeep(self, app_ref: str, env_name: str | None = None) -> list[Kept]:
        """Stop keeping an application's tokens (or one environment's); what was kept."""
        return self.stop_keeping(self._context.application(app_ref).id, env_name)

    def stop_keeping(self, app_id: str, environment: str | None) -> list[Kept]:
        """``unkeep`` by id: also for an application or environment being removed."""
        workspace = self._context.config.workspace
        if workspace is None:
            return []
        gone = self._kept_file().remove(workspace, app_id, environment)
        if gone:
            self._tell_agent_kept("unkeep")
        return gone

    def kept(self) -> list[Kept]:
        """What this person keeps fresh in this workspace."""
        workspace = self._context.config.workspace  # none yet: nothing kept (and none given)
        if workspace is None:
            return []
        return [entry for entry in self._kept_file().all() if entry.workspace == workspace]

    def is_kept(self, session: SessionToken, kept: list[Kept] | None = None) -> bool:
        """True when ``session`` is a token this person keeps fresh (``kept``: read already)."""
        for entry in self.kept() if kept is None else kept:
            if (entry.application, entry.environment) != (
                session.application_id,
                session.environment,
            ):
                continue
            try:
                resolved = self._environments.resolve(entry.application, entry.environment)
            except CredenzaError:
                continue
            if self.requested_scopes(resolved, entry.scopes) == session.requested_scopes:
                return True
        return False

    async def renew(self, entry: Kept) -> SessionToken:
        """A new token for a kept entry, the way `credenza token --no-cache` gets one (a
        person's refreshed with their refresh token, a client's by a new grant), cached in the
        keyring; a failure is recorded for `status` as every failed refresh is."""
        resolved = self._environments.resolve(entry.application, entry.environment)
        try:
            session, _ = await self.token(
                resolved.application.id, resolved.name, entry.scopes or None, use_cache=False
            )
        except (NoKeyringError, KeyringLockedError, UnsafeKeyringError):
            raise  # this process cannot open the keyring: no refresh was tried
        except CredenzaError as exc:
            await in_thread(self._refresh_failed, resolved.application.id, resolved.name, exc)
            raise
        if not await in_thread(self._still_stored, session):
            # A secret change raced the renewal and forgot what it got: not handed out (the
            # agent tries again shortly, with the secret as it is now).
            raise CredenzaError(f"{resolved.label} changed during the renewal")
        return session

    def _still_stored(self, session: SessionToken) -> bool:
        """True while ``session`` is the token the keyring holds for its credential."""
        if session.user:
            resolved = self._environments.resolve(session.application_id, session.environment)
            stored = self.user_session(resolved)
            held = stored.token if stored is not None else None
        else:
            held = self.cached(session.application_id, session.environment, session.fingerprint)
        return (
            held is not None and held.access_token.reveal() == session.token.access_token.reveal()
        )

    def agent_aliases(self, entry: Kept) -> list[str]:
        """The fast path's keys a script's `credenza token` for ``entry`` may ask with: the
        application by id or name, the environment named or (the default one) not, the scopes
        named or not."""
        from credenza.fastpath import cache_key, config_key

        resolved = self._environments.resolve(entry.application, entry.environment)
        application = resolved.application
        config = config_key(self._context.config_path)
        envs = [resolved.name]
        with contextlib.suppress(CredenzaError):  # `--env` left out: the default, if any
            if self._environments.resolve(application.id, None).name == resolved.name:
                envs.append("")
        scope_lists = [list(entry.scopes)]
        if not entry.scopes:
            scope_lists.append(list(self.requested_scopes(resolved, None)))
        aliases = {
            cache_key(config, app, env, scopes)
            for app in (application.id, application.name)
            for env in envs
            for scopes in scope_lists
        }
        return sorted(aliases)

    def _kept_file(self) -> KeptTokens:
        assert self._context.kept is not None
        return self._context.kept

    def _tell_agent_kept(self, op: str) -> None:
        from credenza import agent

        agent.request({"op": op})

    # -- internals ----------------------------------------------------------------------------

    def _asked(
        self,
        app_ref: str,
        env_name: str | None,
        scopes: Iterable[str] | None,
        skew: float | None,
    ) -> tuple[ResolvedEnvironment, tuple[str, ...], float]:
        """The environment, the scopes a token is requested with, and the expiry skew."""
        resolved = self._environments.resolve(app_ref, env_name)
        skew = self._context.config.settings.token_skew_seconds if skew is None else skew
        return resolved, self.requested_scopes(resolved, scopes), skew

    def _usable(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...], skew: float
    ) -> SessionToken | None:
        """The token cached under this credential's fingerprint, if further than ``skew`` from
        expiry (blocking: it reads the keyring)."""
        key = self._fingerprint(resolved, requested)
        cached = self.cached(resolved.application.id, resolved.name, key)
        if cached is None or not cached.is_usable(self._context.clock(), skew):
            return None
        session = SessionToken(resolved.application.id, resolved.name, cached, requested, key)
        self.sessions[key] = session
        return session

    def _tell_agent(self, app_id: str, environment: str | None) -> None:
        from credenza import agent

        tag = agent_tags(self._context.config_path, app_id, environment)[-1]
        agent.request({"op": "drop", "tag": tag})

    def _key(self, resolved: ResolvedEnvironment, credentials: ClientCredentials) -> str:
        return self._fingerprint(resolved, credentials.scopes)

    def _fingerprint(
        self, resolved: ResolvedEnvironment, scopes: Iterable[str], *, offline: bool = False
    ) -> str:
        """The fingerprint, with the team store's version of the secret when it is there
        (``offline``: as last seen, no network call: ``held`` runs on the dashboard's loop)."""
        version = None
        if self._context.config.team is not None and _has_secret(resolved):
            app_id, name = resolved.application.id, resolved.name
            version = self._credentials.secret_version(app_id, name, offline=offline)
        return fingerprint(self._context.workspace_id, resolved, scopes, version)

    async def _issue(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...]
    ) -> tuple[SessionToken, ClientCredentials]:
        """A client_credentials token from the provider, held in memory, with what it was
        asked with (the caller checks the secret it was issued to is still the stored one)."""
        require_client_credentials(resolved)
        credentials = await self._credentials.client_credentials(resolved, requested)
        token = await self._context.client.fetch_token(credentials)
        return self._hold(resolved, credentials, token), credentials

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


def _login_command(resolved: ResolvedEnvironment) -> str:
    """The command that signs a person in to this environment, in its grant's way."""
    login = f"credenza login {resolved.application.id} --env {resolved.name}"
    return login + (
        " --password" if token_grant(resolved.application.grant_types) == "password" else ""
    )


def _nobody_signed_in(resolved: ResolvedEnvironment) -> SignInRequiredError:
    return SignInRequiredError(
        f"nobody is signed in to {resolved.label}; it uses "
        f"{token_grant(resolved.application.grant_types)}, which needs a person",
        hint=f"sign in: {_login_command(resolved)}",
    )


def _same_secret(one: Secret | None, other: Secret | None) -> bool:
    import hmac

    if one is None or other is None:
        return one is other
    return hmac.compare_digest(one.reveal().encode(), other.reveal().encode())


def _same_sign_in(one: Token, other: Token) -> bool:
    """The same tokens: no process refreshed the sign-in between the two reads."""
    return _same_secret(one.access_token, other.access_token) and _same_secret(
        one.refresh_token, other.refresh_token
    )


def _stored_token(payload: str | None) -> Token | None:
    """The tokens of a stored sign-in's payload (None: none, or damaged)."""
    if payload is None:
        return None
    try:
        return Token.from_json(json.dumps(json.loads(payload)["token"]))
    except (ValueError, KeyError, TypeError, InvalidResponseError):
        return None


def _has_secret(resolved: ResolvedEnvironment) -> bool:
    from credenza.oauth.auth import method_for

    return method_for(resolved.auth_method).secret_kind != "none"


def _token_from(payload: str | None) -> Token | None:
    """A cached token's payload parsed, or None when missing or damaged."""
    if payload is None:
        return None
    try:
        return Token.from_json(payload)
    except InvalidResponseError:
        return None


def _require_granted(label: str, session: SessionToken, wanted: Iterable[str]) -> None:
    """A person's token carries what they consented to at sign-in; a scope asked for now that
    it lacks is said, never silently dropped (a refresh cannot add it)."""
    token = session.token
    # Without a `scope` in the answer the grant is what was requested (RFC 6749 §5.1).
    held = set(token.scopes) | (set(session.requested_scopes) if token.scope_omitted else set())
    missing = sorted(set(wanted) - held)
    if missing:
        app, env = session.application_id, session.environment
        raise SignInRequiredError(
            f"the sign-in to {label} does not carry {' '.join(missing)} "
            f"(it has: {token.scope_text() or 'no scope'})",
            hint=f"sign in with it: credenza login {app} --env {env} "
            + " ".join(f"--scope {scope}" for scope in sorted(set(wanted))),
        )
