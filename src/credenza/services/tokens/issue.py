"""Issuing a client's own token (client_credentials): from the resolved credential, through
the grant, to the store, one or many at once (`verify --all`); and the check that the secret it
was issued to is still the stored one."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from credenza.errors import CredenzaError, SecretMissingError, SignInRequiredError, ValidationError
from credenza.next_steps import step
from credenza.oauth.grants import client_credentials, grant_for, signs_in
from credenza.services.context import Context, in_thread
from credenza.services.credential_key import Fingerprints
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials, needs_discovery
from credenza.services.environments import ResolvedEnvironment
from credenza.services.tokens.failures import RefreshFailures
from credenza.services.tokens.kept import requested_scopes
from credenza.services.tokens.records import SessionToken
from credenza.services.tokens.store import TokenStore

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials
    from credenza.oauth.tokens import Token


class Issuing:
    """Client-credentials tokens: asked for, held, cached."""

    def __init__(
        self,
        context: Context,
        credentials: Credentials,
        store: TokenStore,
        keys: Fingerprints,
        failures: RefreshFailures,
    ) -> None:
        self._context = context
        self._credentials = credentials
        self._store = store
        self._keys = keys
        self._failures = failures

    async def ready(self, resolved: ResolvedEnvironment) -> ResolvedEnvironment:
        """The resolved environment as a call needs it: as it is, unless its endpoints must
        first be discovered from the issuer (or it has none: said by ``Credentials.ready``)."""
        if resolved.token_url is not None and not needs_discovery(resolved):
            return resolved
        return await self._credentials.ready(resolved.application.id, resolved.name)

    def ready_now(self, resolved: ResolvedEnvironment) -> ResolvedEnvironment | None:
        """``ready`` without awaiting: None when the endpoints must first be discovered."""
        if resolved.token_url is not None:
            return resolved
        return self._credentials.ready_now(resolved.application.id, resolved.name)

    async def issue(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...], key: str | None = None
    ) -> tuple[SessionToken, ClientCredentials]:
        """A client_credentials token from the provider, held in memory, with what it was
        asked with (the caller checks the secret it was issued to is still the stored one).
        ``key``: the credential's fingerprint, when the caller has it already."""
        require_client_credentials(resolved)
        credentials = await self._credentials.client_credentials(resolved, requested)
        token = await self._context.client.grant(client_credentials.plan, credentials)
        return self.hold(resolved, credentials, token, key), credentials

    async def issue_many(
        self,
        targets: list[ResolvedEnvironment],
        concurrency: int,
        otherwise: Callable[[ResolvedEnvironment], Awaitable[SessionToken]],
    ) -> list[SessionToken | CredenzaError]:
        """A new token for each target, at most ``concurrency`` token calls in flight: a token
        or why there is none, in the targets' order, held in memory only (`verify --all`).

        A client's own tokens (its endpoint known) in parts of a hundred, in three steps, not a
        keyring read and three worker threads each: what every call sends, the secrets read in
        one batch (one thread, ``prepare_many``); the calls, on the event loop alone; then
        whether each token was issued to the secret still stored, read again in one batch once
        all the part's calls have answered (one thread, ``settle_many``; one that was not is
        let go). A part is read while the calls of those before it are in flight. The others
        (a person's token, endpoints still to discover) ``otherwise``, beside them."""
        import asyncio  # here, not at the top: the one-shot CLI path never awaits

        gate = asyncio.Semaphore(max(1, concurrency))
        found: list[SessionToken | CredenzaError | None] = [None] * len(targets)
        # A team store's secrets are HTTP reads with no batch: those go one by one, in parallel
        # under the gate (``otherwise``), not one after another in a thread.
        team = self._context.config.team is not None
        direct = [
            n
            for n, resolved in enumerate(targets)
            if not team
            and resolved.token_url is not None
            and not signs_in(resolved.application.grant_types)
        ]
        sent: dict[int, ClientCredentials] = {}
        client = self._context.client

        async def call(n: int, credentials: ClientCredentials) -> None:
            try:
                async with gate:  # around the call only: the keyring is read before and after
                    token = await client.grant(client_credentials.plan, credentials)
                found[n] = self.hold(targets[n], credentials, token)
            except CredenzaError as exc:
                found[n] = exc

        async def other(n: int) -> None:
            try:
                async with gate:
                    found[n] = await otherwise(targets[n])
            except CredenzaError as exc:
                found[n] = exc

        async def keyring() -> None:
            """The keyring's part, one step at a time (they share ``read_ahead``): each part's
            secrets read and its calls started (the first part small, so that the first calls
            leave soon), then each part checked once all its calls have answered, while later
            parts' calls are in flight."""
            parts = _parts(direct, first=2 * max(1, concurrency))
            calls = []
            for part in parts:
                try:
                    prepared: list[ClientCredentials | CredenzaError] = await in_thread(
                        self.prepare_many,
                        [(targets[n], requested_scopes(targets[n], None)) for n in part],
                    )
                except CredenzaError as exc:  # the part's own answer, not the whole run's
                    prepared = [exc] * len(part)
                ready: dict[int, ClientCredentials] = {}
                for n, credentials in zip(part, prepared, strict=True):
                    if isinstance(credentials, CredenzaError):
                        found[n] = credentials
                    else:
                        ready[n] = credentials
                sent.update(ready)
                calls.append(asyncio.gather(*(call(n, c) for n, c in ready.items())))
            for part, answered in zip(parts, calls, strict=True):
                await answered
                issued = [n for n in part if n in sent and isinstance(found[n], SessionToken)]
                try:
                    current: list[bool | CredenzaError] = await in_thread(
                        self.settle_many, [(targets[n], sent[n]) for n in issued]
                    )
                except CredenzaError as exc:
                    current = [exc] * len(issued)
                for n, still in zip(issued, current, strict=True):
                    session = found[n]
                    if still is not True and isinstance(session, SessionToken):
                        # Held in memory only; a secret changed meanwhile forgot those before.
                        self._store.let_go(session.fingerprint)
                    if isinstance(still, CredenzaError):
                        found[n] = still  # the check failed (a locked keyring): said, per row

        chosen = set(direct)
        await asyncio.gather(keyring(), *(other(n) for n in range(len(targets)) if n not in chosen))
        done = [result for result in found if result is not None]
        assert len(done) == len(targets)  # every target answered, in its place
        return done

    def prepare_many(
        self, wanted: list[tuple[ResolvedEnvironment, tuple[str, ...]]]
    ) -> list[ClientCredentials | CredenzaError]:
        """What ``issue`` sends for each (or why it cannot), their secrets read in one batch of
        keyring calls first, not one call each (``Credentials.read_ahead``). Blocking."""
        with contextlib.suppress(CredenzaError):  # then each reads (and reports) its own
            self._credentials.read_ahead([(r.application.id, r.name) for r, _ in wanted])
        prepared: list[ClientCredentials | CredenzaError] = []
        try:
            for resolved, requested in wanted:
                try:
                    require_client_credentials(resolved)
                    prepared.append(self._credentials.for_call(resolved, requested))
                except CredenzaError as exc:
                    prepared.append(exc)
        finally:
            self._credentials.read_ahead([])
        return prepared

    def settle_many(
        self, issued: list[tuple[ResolvedEnvironment, ClientCredentials]]
    ) -> list[bool | CredenzaError]:
        """After many calls: was each token issued to the secret still stored? (the stored
        secrets read again, in one batch, once every call has answered: a live read, never the
        copy the call was made with). A refresh failure recorded for each that was is cleared,
        as one call's success clears it; a check that cannot be made is that one's error (the
        others are still answered). Blocking."""
        with contextlib.suppress(CredenzaError):  # then each is read alone
            self._credentials.read_ahead([(r.application.id, r.name) for r, _ in issued])
        current: list[bool | CredenzaError] = []
        try:
            for resolved, credentials in issued:
                try:
                    still = self.issued_to_current(resolved, credentials, ahead=True)
                except CredenzaError as exc:
                    current.append(exc)
                    continue
                current.append(still)
                if still:
                    self._failures.worked(resolved.application.id, resolved.name)
        finally:
            self._credentials.read_ahead([])
        return current

    def issue_now(
        self, resolved: ResolvedEnvironment, requested: tuple[str, ...], key: str
    ) -> SessionToken:
        """``issue`` and ``keep`` blocking, without asyncio (the blocking client runs the async
        client's plans)."""
        require_client_credentials(resolved)
        credentials = self._credentials.for_call(resolved, requested)
        token = self._context.blocking_client.grant(client_credentials.plan, credentials)
        session = self.hold(resolved, credentials, token, key)
        self.keep(resolved, session, credentials)
        return session

    def hold(
        self,
        resolved: ResolvedEnvironment,
        credentials: ClientCredentials,
        token: Token,
        key: str | None = None,
    ) -> SessionToken:
        if key is None:
            key = self._keys.of(resolved, credentials.scopes)
        session = SessionToken(
            resolved.application.id, resolved.name, token, credentials.scopes, key
        )
        return self._store.hold(session, cached=False)  # cached by ``keep``, if at all

    def keep(
        self, resolved: ResolvedEnvironment, session: SessionToken, credentials: ClientCredentials
    ) -> bool:
        """Cache a token just issued, then make sure the secret it was issued to is still the
        stored one: a `secret set` or a reset while the call was in flight forgot every token
        before this one existed, so this one is dropped again (the caller still gets it: it was
        asked for and issued). A change after the check forgets it the usual way. False when
        it was dropped. Under the credential's lock: the token index is read, changed and
        written, and a secret set (which holds it too) comes wholly before or after."""
        app_id, name = resolved.application.id, resolved.name
        with credential_lock(self._context, app_id, name):
            self._store.cache(session)
            if self.issued_to_current(resolved, credentials):
                self._failures.worked(app_id, name)
                return True
            # Everything of the credential goes, the index entry this call added included: what
            # a secret change (or a removal) does itself, once more now that this token exists.
            self._store.forget(app_id, name, [name], keep_sign_in=False)
            return False

    def issued_to_current(
        self, resolved: ResolvedEnvironment, credentials: ClientCredentials, *, ahead: bool = False
    ) -> bool:
        """``ahead``: the stored secret as ``read_ahead`` read it (``settle_many``, after the
        calls), if it holds it."""
        import hmac

        from credenza.oauth.auth import method_for

        if method_for(resolved.auth_method).secret_kind == "none":
            return True  # a public client: no secret to change
        try:
            stored = self._credentials.stored_secret(
                resolved.application.id, resolved.name, ahead=ahead
            )
        except SecretMissingError:
            return False  # removed meanwhile
        return hmac.compare_digest(
            stored.secret.reveal().encode(), credentials.secret.reveal().encode()
        )


# The parts `verify --all` reads its secrets in: a Secret Service's batch (its ``max_batch``).
PART = 100


def _parts(items: list[int], *, first: int) -> list[list[int]]:
    """``items`` in parts: the first of ``first`` (at most ``PART``), then of ``PART``."""
    if not items:
        return []
    head = min(first, PART)
    return [items[:head]] + [items[n : n + PART] for n in range(head, len(items), PART)]


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
            hint="add one: {0}" + (" (or authorization_code)" if implicit else ""),
            next_steps=(step("edit_application", app, None, grant_type="client_credentials"),),
        )
    raise SignInRequiredError(
        f"{resolved.application.name} uses {grant.name}, not client_credentials: its tokens "
        "come from a person signing in",
        hint="sign in: {0}",
        next_steps=(step("sign_in", app, resolved.name),),
    )
