"""Listing tokens: every token held or cached as a list shows it, from memory and the token
index (no keyring read); a token's value read only when it is used, revealed or copied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from credenza.errors import CredenzaError
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context
from credenza.services.credential_key import Fingerprints
from credenza.services.environments import Environments
from credenza.services.tokens.records import SessionToken, TokenEntry
from credenza.services.tokens.store import TokenStore
from credenza.services.tokens.user import UserTokens

if TYPE_CHECKING:
    from credenza.config.model import Config


class Listing:
    """What a list of tokens shows, and the token itself when one is picked."""

    def __init__(
        self,
        context: Context,
        environments: Environments,
        keys: Fingerprints,
        store: TokenStore,
        users: UserTokens,
    ) -> None:
        self._context = context
        self._environments = environments
        self._keys = keys
        self._store = store
        self._users = users
        # Which fingerprints are current, for the config object they were worked out for.
        self._current: tuple[Config | None, dict[tuple[str, str, tuple[str, ...]], str | None]]
        self._current = (None, {})

    def listing(self) -> list[TokenEntry]:
        """Every token this process holds or this workspace has cached, as a list shows them:
        from memory and the index only, no keyring read (no token value either: ``session``
        reads it when one is used, revealed or copied). Only those that still belong to the
        credential as configured now."""
        entries = {session.fingerprint: session.entry() for session in self.held()}
        for key, entry in self._store.entries().items():
            if key not in entries and self._is_current(entry):
                entries[key] = entry
        return list(entries.values())

    def session(self, entry: TokenEntry | SessionToken) -> SessionToken | None:
        """The token itself, for a use, a reveal or a copy: held, else read from the keyring
        (blocking: for a worker). None when it is gone (its index entry goes with it)."""
        if isinstance(entry, SessionToken):
            return entry
        held = self._store.holds(entry.fingerprint)
        if held is not None:
            return held
        if entry.user:
            try:
                resolved = self._environments.resolve(entry.application_id, entry.environment)
            except CredenzaError:
                return None
            signed_in = self._users.session(resolved)
            if signed_in is None or signed_in.fingerprint != entry.fingerprint:
                return None
            return self._store.hold(signed_in)
        token = self._store.cached(entry.application_id, entry.environment, entry.fingerprint)
        if token is None:
            return None
        return self._store.hold(
            SessionToken(
                entry.application_id,
                entry.environment,
                token,
                entry.requested_scopes,
                entry.fingerprint,
            )
        )

    def held(self) -> list[SessionToken]:
        """The tokens this process holds that still belong to a credential as configured now
        and, when cached, are still listed in the index; the rest (removed, edited or forgotten
        by another process since) are let go of."""
        current: list[SessionToken] = []
        held = self._store.held()
        listed = self._store.entries() if held else {}
        for session in held:
            key = session.fingerprint
            if self._is_current(session) and (key in listed or self._store.in_memory_only(key)):
                current.append(session)
            else:
                self._store.let_go(key)
        return current

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Tokens cached in the keyring that still belong to the credential as configured now,
        with their values (one batched keyring read): for a command that uses them all."""
        app_id = self._context.application(app_ref).id if app_ref else None
        wanted = [
            entry
            for entry in self._store.entries().values()
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
                self._store.cached(entry.application_id, entry.environment, entry.fingerprint)
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
