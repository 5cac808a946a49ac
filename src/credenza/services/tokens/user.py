"""A person's tokens (authorization code, device flow, password): their sign-in stored in one
keyring entry with its refresh token, and the refresh that keeps it fresh, one process at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from credenza.errors import (
    IdTokenError,
    IdTokenUnverifiableError,
    InvalidResponseError,
    SignInRequiredError,
    TokenEndpointError,
)
from credenza.next_steps import NextStep, step
from credenza.oauth.grants import refresh, token_grant
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context, in_thread
from credenza.services.credential_key import Fingerprints
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import ResolvedEnvironment
from credenza.services.identity import check_id_token
from credenza.services.tokens.failures import RefreshFailures
from credenza.services.tokens.issue import Issuing
from credenza.services.tokens.records import SessionToken
from credenza.services.tokens.store import TokenStore

if TYPE_CHECKING:
    from credenza.secrets import Secret


class UserTokens:
    """Sign-ins: stored, read, refreshed under the credential's lock, dropped when refused."""

    def __init__(
        self,
        context: Context,
        credentials: Credentials,
        store: TokenStore,
        keys: Fingerprints,
        issuing: Issuing,
        failures: RefreshFailures,
    ) -> None:
        self._context = context
        self._credentials = credentials
        self._store = store
        self._keys = keys
        self._issuing = issuing
        self._failures = failures

    def session(self, resolved: ResolvedEnvironment) -> SessionToken | None:
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
        key = self._keys.of(resolved, scopes)
        if data.get("fingerprint") != key:
            return None
        return SessionToken(resolved.application.id, resolved.name, token, scopes, key, user=True)

    def keep(
        self, resolved: ResolvedEnvironment, scopes: tuple[str, ...], token: Token
    ) -> SessionToken:
        """Store a user token and its refresh token in ONE keyring write: a rotated refresh
        token replaces the used one at once, so no moment exists with neither stored."""
        key = self._keys.of(resolved, scopes)
        payload = {"v": 1, "fingerprint": key, "scopes": list(scopes)}
        payload["token"] = json.loads(token.to_json(with_id_token=True))
        session = SessionToken(resolved.application.id, resolved.name, token, scopes, key, True)
        # A sign-in stored while another process refreshes the one before waits for it: that
        # refresh's answer would otherwise replace the new sign-in.
        with credential_lock(self._context, resolved.application.id, resolved.name):
            self._store.keep_sign_in(session, json.dumps(payload))
        self._failures.worked(resolved.application.id, resolved.name)
        return session

    async def token(
        self, resolved: ResolvedEnvironment, skew: float, *, force_refresh: bool = False
    ) -> tuple[SessionToken, bool]:
        """The user's access token, refreshed when within ``skew`` of expiry. A rotated refresh
        token is stored before the new access token is handed out.

        A token still usable is answered without the lock; a refresh holds the credential's lock
        (services/credential_lock.py) from reading the refresh token to storing the answer, so
        parallel processes never spend one rotating refresh token twice."""
        session = await in_thread(self.session, resolved)
        if session is None:
            raise _nobody_signed_in(resolved)
        if not force_refresh and session.token.is_usable(self._context.clock(), skew):
            return self._store.hold(session), True
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            return await self._refresh(resolved, session, skew)

    async def _refresh(
        self, resolved: ResolvedEnvironment, read: SessionToken, skew: float, *, again: bool = True
    ) -> tuple[SessionToken, bool]:
        """Under the credential's lock: refresh the sign-in ``read`` before the lock was taken,
        or use what another process stored meanwhile."""
        sign_in = (_sign_in_step(resolved),)
        # Read again under the lock: the process that held it may have refreshed (or signed out)
        # meanwhile, and at a provider that rotates them the refresh token read before is spent.
        session = await in_thread(self.session, resolved)
        if session is None:
            raise _nobody_signed_in(resolved)
        if not _same_sign_in(session.token, read.token) and session.token.is_usable(
            self._context.clock(), skew
        ):
            return self._store.hold(session), True  # the other process's fresh token
        refresh_token = session.token.refresh_token
        if refresh_token is None:
            raise SignInRequiredError(
                f"the sign-in to {resolved.label} has expired and the provider gave no refresh "
                "token",
                hint="sign in again: {0}",
                next_steps=sign_in,
            )
        resolved = await self._issuing.ready(resolved)
        credentials = await self._credentials.client_credentials(resolved, session.requested_scopes)
        try:
            token = await self._context.client.grant(refresh.plan, credentials, refresh_token)
        except TokenEndpointError as exc:
            if exc.error != "invalid_grant":
                raise
            # Expired, revoked, or already used (a rotation whose answer never got stored). Only
            # the refresh token refused goes: one stored since by another writer stays, and is
            # tried once.
            if not await in_thread(self._drop_if_stored, session) and again:
                return await self._refresh(resolved, session, skew, again=False)
            refused = SignInRequiredError(
                f"the provider no longer accepts the refresh token of {resolved.label}",
                hint="sign in again: {0}",
                next_steps=sign_in,
            )
            await in_thread(self._failures.failed, resolved.application.id, resolved.name, refused)
            raise refused from None
        # The answer is stored at once, with the sign-in's (checked) id_token: at a provider
        # that rotates refresh tokens the stored one is spent now, and nothing that can fail or
        # be interrupted later (a JWKS fetch, Ctrl-C) may lose the new one.
        scopes = session.requested_scopes
        kept = replace(token, id_token=session.token.id_token)
        fresh = await in_thread(self.keep, resolved, scopes, kept)
        if not await in_thread(self._issuing.issued_to_current, resolved, credentials):
            # The client secret changed while this was in flight: that change forgot the
            # sign-in (it belonged to the credential as it was), so this answer goes too.
            app_id, name = resolved.application.id, resolved.name
            await in_thread(self._store.forget, app_id, name, [name], keep_sign_in=False)
            raise SignInRequiredError(
                f"the client secret of {resolved.label} changed during the refresh; the sign-in "
                "belonged to the old one",
                hint="sign in again: {0}",
                next_steps=sign_in,
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
            await in_thread(self._store.drop, fresh)
            await in_thread(self._failures.failed, resolved.application.id, resolved.name, exc)
            raise
        fresh = await in_thread(self.keep, resolved, scopes, token)
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
            self._store.let_go(used.fingerprint)
            return False
        self._store.drop(used)
        return True


def _sign_in_step(resolved: ResolvedEnvironment) -> NextStep:
    """A person signs in to this environment, in its grant's way."""
    if token_grant(resolved.application.grant_types) == "password":
        return step("sign_in", resolved.application.id, resolved.name, password=None)
    return step("sign_in", resolved.application.id, resolved.name)


def _nobody_signed_in(resolved: ResolvedEnvironment) -> SignInRequiredError:
    return SignInRequiredError(
        f"nobody is signed in to {resolved.label}; it uses "
        f"{token_grant(resolved.application.grant_types)}, which needs a person",
        hint="sign in: {0}",
        next_steps=(_sign_in_step(resolved),),
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


def require_granted(label: str, session: SessionToken, wanted: Iterable[str]) -> None:
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
            hint="sign in with it: {0}",
            next_steps=(
                NextStep(
                    "sign_in", app, env, options=tuple(("scope", s) for s in sorted(set(wanted)))
                ),
            ),
        )
