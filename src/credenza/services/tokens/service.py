"""The Tokens service: a token request resolved once, then its credential, its grant, the store.

``token`` resolves the (application, environment) once, computes the credential's fingerprint
once, answers from the store when it can, else has the grant issue one (issue.py for a client's
own, user.py for a person's) and hands it to the store (store.py), the one owner of every copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from credenza.errors import (
    CredenzaError,
    KeyringLockedError,
    NoKeyringError,
    NotFoundError,
    RevocationUnconfirmedError,
    TokenEndpointError,
    UnsafeKeyringError,
    ValidationError,
)
from credenza.oauth.grants import signs_in
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context, in_thread
from credenza.services.credential_key import Fingerprints
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.status import RefreshFailure
from credenza.services.tokens.failures import RefreshFailures
from credenza.services.tokens.issue import Issuing
from credenza.services.tokens.kept import KeptFresh, requested_scopes
from credenza.services.tokens.records import SessionToken, TokenEntry
from credenza.services.tokens.store import TokenStore
from credenza.services.tokens.user import UserTokens, require_granted

if TYPE_CHECKING:
    from credenza.config.keep import Kept
    from credenza.config.model import Config


class Tokens:
    """Fetch, cache, refresh, revoke and inspect tokens; ``store`` owns every cached copy."""

    def __init__(
        self, context: Context, environments: Environments, credentials: Credentials
    ) -> None:
        self._context = context
        self._environments = environments
        self._credentials = credentials
        self._keys = Fingerprints(context, credentials)
        self._failures = RefreshFailures(context)
        self.store = TokenStore(context)
        self._issuing = Issuing(context, credentials, self.store, self._keys, self._failures)
        self.users = UserTokens(
            context, credentials, self.store, self._keys, self._issuing, self._failures
        )
        self.kept_fresh = KeptFresh(context, environments)
        # Which fingerprints are current, for the config object they were worked out for.
        self._current: tuple[Config | None, dict[tuple[str, str, tuple[str, ...]], str | None]]
        self._current = (None, {})

    # -- getting tokens -----------------------------------------------------------------------

    def requested_scopes(
        self, resolved: ResolvedEnvironment, scopes: Iterable[str] | None
    ) -> tuple[str, ...]:
        return requested_scopes(resolved, scopes)

    async def fetch(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> SessionToken:
        """A new token from the provider (client_credentials), held in memory."""
        resolved = self._environments.resolve(app_ref, env_name)
        return await self._fetch(resolved, requested_scopes(resolved, scopes))

    async def _fetch(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...]
    ) -> SessionToken:
        ready = await self._issuing.ready(resolved)
        session, credentials = await self._issuing.issue(ready, requested)
        # Held in memory only; a secret changed meanwhile forgot the tokens before this one.
        if await in_thread(self._issuing.issued_to_current, ready, credentials):
            await in_thread(self._failures.worked, ready.application.id, ready.name)
        else:
            self.store.let_go(session.fingerprint)
        return session

    async def fresh(self, app_ref: str, env_name: str | None = None) -> SessionToken:
        """A new token whatever the grant: the client's own fetched, or a signed-in person's
        refreshed (verify, and the dashboard's fetch key)."""
        resolved = self._environments.resolve(app_ref, env_name)
        requested = requested_scopes(resolved, None)
        if signs_in(resolved.application.grant_types):
            session, _ = await self._token(resolved, requested, (), use_cache=False, skew=0)
            return session
        return await self._fetch(resolved, requested)

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
        return await self._token(resolved, requested, scopes, use_cache=use_cache, skew=skew)

    async def _token(
        self,
        resolved: ResolvedEnvironment,
        requested: tuple[str, ...],
        named: Iterable[str] | None,
        *,
        use_cache: bool,
        skew: float,
    ) -> tuple[SessionToken, bool]:
        if signs_in(resolved.application.grant_types):
            held, from_cache = await self.users.token(resolved, skew, force_refresh=not use_cache)
            if named:
                require_granted(resolved.label, held, requested)
            return held, from_cache
        cached, key = await in_thread(self._usable, resolved, requested, skew, use_cache)
        if cached is not None:
            return cached, True
        ready = await self._issuing.ready(resolved)
        session, credentials = await self._issuing.issue(
            ready, requested, key if ready is resolved else None
        )
        await in_thread(self._issuing.keep, ready, session, credentials)
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
        cached, key = self._usable(resolved, requested, skew, use_cache)
        if cached is not None:
            return cached, True
        ready = self._issuing.ready_now(resolved)
        if ready is None:
            return None
        if ready is not resolved:
            key = self._keys.of(ready, requested)
        return self._issuing.issue_now(ready, requested, key), False

    async def refresh(self, session: SessionToken | TokenEntry) -> SessionToken:
        """Refresh with the refresh_token when one was issued, else fetch a new token."""
        held = await self._value(session)
        try:
            return await self._refresh(held)
        except CredenzaError as exc:
            await in_thread(self._failures.failed, held.application_id, held.environment, exc)
            raise

    def refresh_failures(self) -> list[RefreshFailure]:
        """Refreshes that failed, in any process of this person, until one succeeds; and those
        that could not reach the provider, in this process only."""
        return self._failures.all()

    async def _refresh(self, session: SessionToken) -> SessionToken:
        resolved = self._environments.resolve(session.application_id, session.environment)
        if session.user:
            fresh, _ = await self.users.token(resolved, 0, force_refresh=True)
            return fresh
        ready = await self._issuing.ready(resolved)
        credentials = await self._credentials.client_credentials(ready, session.requested_scopes)
        if session.token.refresh_token is not None:
            token = await self._context.client.refresh(credentials, session.token.refresh_token)
        else:
            token = await self._context.client.fetch_token(credentials)
        fresh = self._issuing.hold(ready, credentials, token)
        if session.fingerprint != fresh.fingerprint:
            self.store.let_go(session.fingerprint)
        await in_thread(self._issuing.keep, ready, fresh, credentials)
        return fresh

    async def revoke(self, session: SessionToken | TokenEntry) -> str:
        """Revoke (RFC 7009) or log out (GET + Bearer); the local copies are dropped either way.

        A person's sign-in is revoked under the credential's lock, as stored now: a refresh in
        another process since ``session`` was read rotated its refresh token, and the spent one
        would be revoked while the live one stayed valid at the provider."""
        held = await self._value(session)
        resolved = self._environments.resolve(held.application_id, held.environment)
        if not held.user:
            return await self._revoke(resolved, held)
        async with credential_lock(self._context, held.application_id, held.environment):
            current = await in_thread(self.users.session, resolved)
            if current is not None and current.fingerprint == held.fingerprint:
                held = current
            return await self._revoke(resolved, held)

    async def _revoke(self, resolved: ResolvedEnvironment, session: SessionToken) -> str:
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
            await in_thread(self.store.drop, session)
            raise
        except TokenEndpointError as exc:
            if exc.error == "unsupported_token_type":
                await in_thread(self.store.drop, session)
            raise
        await in_thread(self.store.drop, session)
        return how

    async def introspect(self, session: SessionToken | TokenEntry) -> dict[str, Any]:
        held = await self._value(session)
        resolved = self._environments.resolve(held.application_id, held.environment)
        if not resolved.introspection_url:
            raise ValidationError(
                f"{resolved.label} has no introspection endpoint",
                hint="set --introspection-url on the environment, or discover it from the issuer",
            )
        credentials = await self._credentials.client_credentials(
            resolved,
            held.requested_scopes,
            endpoint="introspection",
            url=resolved.introspection_url,
        )
        return await self._context.client.introspect(
            credentials, resolved.introspection_url, held.token.access_token
        )

    # -- what is held and cached ----------------------------------------------------------------

    def listing(self) -> list[TokenEntry]:
        """Every token this process holds or this workspace has cached, as a list shows them:
        from memory and the index only, no keyring read (no token value either: ``session``
        reads it when one is used, revealed or copied). Only those that still belong to the
        credential as configured now."""
        entries = {session.fingerprint: session.entry() for session in self.held()}
        for key, entry in self.store.entries().items():
            if key not in entries and self._is_current(entry):
                entries[key] = entry
        return list(entries.values())

    def session(self, entry: TokenEntry | SessionToken) -> SessionToken | None:
        """The token itself, for a use, a reveal or a copy: held, else read from the keyring
        (blocking: for a worker). None when it is gone (its index entry goes with it)."""
        if isinstance(entry, SessionToken):
            return entry
        held = self.store.holds(entry.fingerprint)
        if held is not None:
            return held
        if entry.user:
            try:
                resolved = self._environments.resolve(entry.application_id, entry.environment)
            except CredenzaError:
                return None
            signed_in = self.users.session(resolved)
            if signed_in is None or signed_in.fingerprint != entry.fingerprint:
                return None
            return self.store.hold(signed_in)
        token = self.store.cached(entry.application_id, entry.environment, entry.fingerprint)
        if token is None:
            return None
        return self.store.hold(
            SessionToken(
                entry.application_id,
                entry.environment,
                token,
                entry.requested_scopes,
                entry.fingerprint,
            )
        )

    def held(self) -> list[SessionToken]:
        """The tokens this process holds that still belong to a credential as configured now;
        the rest (removed or edited by another process since) are let go of."""
        current: list[SessionToken] = []
        for session in self.store.held():
            if self._is_current(session):
                current.append(session)
            else:
                self.store.let_go(session.fingerprint)
        return current

    def cached(self, app_id: str, environment: str, key: str) -> Token | None:
        """The token cached in the keyring under this fingerprint, or None (also when damaged)."""
        return self.store.cached(app_id, environment, key)

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Tokens cached in the keyring that still belong to the credential as configured now,
        with their values (one batched keyring read): for a command that uses them all."""
        app_id = self._context.application(app_ref).id if app_ref else None
        wanted = [
            entry
            for entry in self.store.entries().values()
            if (app_id is None or entry.application_id == app_id)
            and (env_name is None or entry.environment == env_name)
            and self._is_current(entry)
        ]
        secrets = self._context.secrets
        payloads = secrets.get_many(
            names.user_token(e.application_id, e.environment)
            if e.user
            else names.token(e.application_id, e.environment, e.fingerprint)
            for e in wanted
        )
        found: list[SessionToken] = []
        for entry in wanted:
            if entry.user:
                session = self.session(entry)
                if session is not None:
                    found.append(session)
                continue
            payload = payloads.get(
                names.token(entry.application_id, entry.environment, entry.fingerprint)
            )
            token = _token_from(payload)
            if token is None:
                self.store.cached(entry.application_id, entry.environment, entry.fingerprint)
                continue  # gone: the read above dropped its index entry
            found.append(
                SessionToken(
                    entry.application_id,
                    entry.environment,
                    token,
                    entry.requested_scopes,
                    entry.fingerprint,
                )
            )
        return found

    def drop(self, session: SessionToken) -> None:
        """Forget one token everywhere: memory, keyring, index, agent."""
        self.store.drop(session)

    def forget(self, app_id: str, environment: str | None, *, keep_sign_in: bool = False) -> None:
        """Forget every token of an application (or one environment) everywhere. With an
        environment named, ``app_id`` is an id and need not be in the config any more.

        ``keep_sign_in``: a new client secret, not a new credential. A person's sign-in stays
        (providers keep user tokens across a secret reset: Pipedrive says so) and its next
        refresh sends the new secret; the client's own cached tokens go."""
        if environment is None:
            application = self._context.application(app_id)
            app_id, envs = application.id, list(application.environments)
        else:
            envs = [environment]
        self.store.forget(app_id, environment, envs, keep_sign_in=keep_sign_in)

    # -- a person's sign-in (user.py) -------------------------------------------------------------

    def user_session(self, resolved: ResolvedEnvironment) -> SessionToken | None:
        return self.users.session(resolved)

    def keep_user_token(
        self, resolved: ResolvedEnvironment, scopes: tuple[str, ...], token: Token
    ) -> SessionToken:
        return self.users.keep(resolved, scopes, token)

    async def user_token(
        self, resolved: ResolvedEnvironment, skew: float, *, force_refresh: bool = False
    ) -> tuple[SessionToken, bool]:
        return await self.users.token(resolved, skew, force_refresh=force_refresh)

    # -- kept fresh by the agent (kept.py) --------------------------------------------------------

    def keep(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> Kept:
        return self.kept_fresh.keep(app_ref, env_name, scopes)

    def unkeep(self, app_ref: str, env_name: str | None = None) -> list[Kept]:
        return self.kept_fresh.unkeep(app_ref, env_name)

    def stop_keeping(self, app_id: str, environment: str | None) -> list[Kept]:
        return self.kept_fresh.stop_keeping(app_id, environment)

    def kept(self) -> list[Kept]:
        return self.kept_fresh.kept()

    def is_kept(self, session: SessionToken | TokenEntry, kept: list[Kept] | None = None) -> bool:
        return self.kept_fresh.is_kept(session, kept)

    def agent_aliases(self, entry: Kept) -> list[str]:
        return self.kept_fresh.agent_aliases(entry)

    def share_with_agent(self, session: SessionToken, alias: str, read_at: float) -> None:
        self.kept_fresh.share_with_agent(session, alias, read_at)

    def agent_put(self, session: SessionToken, alias: str) -> dict[str, Any]:
        return self.kept_fresh.agent_put(session, alias)

    async def renew(self, entry: Kept) -> SessionToken:
        """A new token for a kept entry, the way `credenza token --no-cache` gets one (a
        person's refreshed with their refresh token, a client's by a new grant), cached in the
        keyring; a failure is recorded for `status` as every failed refresh is."""
        resolved = self._environments.resolve(entry.application, entry.environment)
        requested = requested_scopes(resolved, entry.scopes or None)
        skew = self._context.config.settings.token_skew_seconds
        try:
            session, _ = await self._token(
                resolved, requested, entry.scopes or None, use_cache=False, skew=skew
            )
        except (NoKeyringError, KeyringLockedError, UnsafeKeyringError):
            raise  # this process cannot open the keyring: no refresh was tried
        except CredenzaError as exc:
            await in_thread(self._failures.failed, resolved.application.id, resolved.name, exc)
            raise
        if not await in_thread(self._still_stored, resolved, session):
            # A secret change raced the renewal and forgot what it got: not handed out (the
            # agent tries again shortly, with the secret as it is now).
            raise CredenzaError(f"{resolved.label} changed during the renewal")
        return session

    def _still_stored(self, resolved: ResolvedEnvironment, session: SessionToken) -> bool:
        """True while ``session`` is the token the keyring holds for its credential."""
        if session.user:
            stored = self.users.session(resolved)
            held = stored.token if stored is not None else None
        else:
            held = self.store.cached(
                session.application_id, session.environment, session.fingerprint
            )
        return (
            held is not None and held.access_token.reveal() == session.token.access_token.reveal()
        )

    # -- internals ----------------------------------------------------------------------------

    def _asked(
        self,
        app_ref: str,
        env_name: str | None,
        scopes: Iterable[str] | None,
        skew: float | None,
    ) -> tuple[ResolvedEnvironment, tuple[str, ...], float]:
        """The environment (resolved here, once), the scopes a token is requested with, and
        the expiry skew."""
        resolved = self._environments.resolve(app_ref, env_name)
        skew = self._context.config.settings.token_skew_seconds if skew is None else skew
        return resolved, requested_scopes(resolved, scopes), skew

    def _usable(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...], skew: float, look: bool
    ) -> tuple[SessionToken | None, str]:
        """The credential's fingerprint, and (``look``) the token cached under it if further
        than ``skew`` from expiry (blocking: it reads the keyring)."""
        key = self._keys.of(resolved, requested)
        if not look:
            return None, key
        cached = self.store.cached(resolved.application.id, resolved.name, key)
        if cached is None or not cached.is_usable(self._context.clock(), skew):
            return None, key
        session = SessionToken(resolved.application.id, resolved.name, cached, requested, key)
        return self.store.hold(session), key

    async def _value(self, session: SessionToken | TokenEntry) -> SessionToken:
        """The token itself of a listed one (read from the keyring when not held)."""
        if isinstance(session, SessionToken):
            return session
        found = await in_thread(self.session, session)
        if found is None:
            raise NotFoundError(
                f"the token of {session.application_id} / {session.environment} is no longer "
                "cached (removed from the keyring meanwhile); fetch a new one"
            )
        return found

    def _is_current(self, held: SessionToken | TokenEntry) -> bool:
        """True while a token's fingerprint is its credential's as configured now (offline: the
        team store's version as last seen); worked out once per config and credential."""
        config = self._context.config
        if self._current[0] is not config or config.team is not None:
            # A team store's version may move without the config changing: worked out anew.
            self._current = (config, {})
        known = self._current[1]
        place = (held.application_id, held.environment, held.requested_scopes)
        if place not in known:
            try:
                resolved = self._environments.resolve(held.application_id, held.environment)
            except CredenzaError:
                known[place] = None
            else:
                known[place] = self._keys.of(resolved, held.requested_scopes, offline=True)
        return known[place] == held.fingerprint


def _token_from(payload: str | None) -> Token | None:
    """A cached token's payload parsed, or None when missing or damaged."""
    if payload is None:
        return None
    try:
        return Token.from_json(payload)
    except CredenzaError:
        return None
