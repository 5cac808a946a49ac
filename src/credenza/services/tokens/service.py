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
    UnsafeKeyringError,
)
from credenza.oauth.grants import client_credentials, refresh, signs_in
from credenza.oauth.tokens import Token
from credenza.services.context import Context, in_thread
from credenza.services.credential_key import Fingerprints
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.tokens.failures import RefreshFailures
from credenza.services.tokens.issue import Issuing
from credenza.services.tokens.kept import KeptFresh, requested_scopes
from credenza.services.tokens.listing import Listing
from credenza.services.tokens.records import SessionToken, TokenEntry
from credenza.services.tokens.revoke import Revocation
from credenza.services.tokens.store import TokenStore
from credenza.services.tokens.user import UserTokens, require_granted

if TYPE_CHECKING:
    from credenza.config.keep import Kept
    from credenza.services.status import RefreshFailure


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
        self._listing = Listing(context, environments, self._keys, self.store, self.users)
        self._revocation = Revocation(context, credentials, self.store)

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

    async def fresh_many(
        self, targets: list[ResolvedEnvironment], *, concurrency: int
    ) -> list[SessionToken | CredenzaError]:
        """``fresh`` of each target, at most ``concurrency`` token calls in flight (`verify
        --all`): a token or why there is none, in the targets' order (``Issuing.issue_many``)."""

        async def fresh(resolved: ResolvedEnvironment) -> SessionToken:
            return await self.fresh(resolved.application.id, resolved.name)

        return await self._issuing.issue_many(targets, concurrency, fresh)

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
            token = await self._context.client.grant(
                refresh.plan, credentials, session.token.refresh_token
            )
        else:
            token = await self._context.client.grant(client_credentials.plan, credentials)
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
            return await self._revocation.revoke(resolved, held)
        async with credential_lock(self._context, held.application_id, held.environment):
            current = await in_thread(self.users.session, resolved)
            if current is not None and current.fingerprint == held.fingerprint:
                held = current
            return await self._revocation.revoke(resolved, held)

    async def introspect(self, session: SessionToken | TokenEntry) -> dict[str, Any]:
        held = await self._value(session)
        resolved = self._environments.resolve(held.application_id, held.environment)
        return await self._revocation.introspect(resolved, held)

    # -- what is held and cached (listing.py) ------------------------------------------------------

    def listing(self) -> list[TokenEntry]:
        """Every token held or cached, as a list shows them: no keyring read (``Listing``)."""
        return self._listing.listing()

    def session(self, entry: TokenEntry | SessionToken) -> SessionToken | None:
        """The token itself, for a use, a reveal or a copy (blocking: for a worker)."""
        return self._listing.session(entry)

    def held(self) -> list[SessionToken]:
        """The tokens this process holds that still belong to a credential as configured now."""
        return self._listing.held()

    def cached(self, app_id: str, environment: str, key: str) -> Token | None:
        """The token cached in the keyring under this fingerprint, or None (also when damaged)."""
        return self.store.cached(app_id, environment, key)

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Cached tokens with their values (one batched keyring read), for a command that uses
        them all."""
        return self._listing.cached_sessions(app_ref, env_name)

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
