"""The one token store: every copy of a token (this process's memory, the keyring, the agent)
under its credential's full fingerprint, and the index that lists them without their values.

The key is the credential fingerprint (services/credential_key.py): the workspace, application
id, environment, client_id, token endpoint, auth method, sorted scopes, audience, resource and
extra parameters. Any change to one of these makes the old entry unreachable, and every edit,
removal, secret change and revoke drops the affected entries everywhere through ``forget``.

Its state is its own: other modules (screens included) read it through the queries below and
change it through its methods, never by writing its attributes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from credenza.errors import InvalidResponseError
from credenza.oauth.tokens import Token
from credenza.secrets import names
from credenza.services.context import Context
from credenza.services.credential_key import agent_tags
from credenza.services.credential_lock import credential_lock
from credenza.services.tokens.index import Entries, Records, TokenIndex
from credenza.services.tokens.records import SessionToken, TokenEntry


class TokenStore:
    """Held in memory, cached in the keyring, listed in the index, told to the agent."""

    def __init__(self, context: Context) -> None:
        self._context = context
        # What this process holds (a fetched token, a sign-in, one read for use), by fingerprint.
        self._held: dict[str, SessionToken] = {}
        # Those held in memory only (a fetch, a token not cached yet): the rest are cached, and
        # go from memory too once the index no longer lists them (another process forgot them).
        self._memory_only: set[str] = set()
        # Bumped on every change this process makes: a screen compares it to know when to redraw.
        self._changes = 0
        self._index = TokenIndex(context)
        # The keyring index entries of an older credenza, moved into the index: removed after.
        self._moved: list[str] = []

    # -- queries --------------------------------------------------------------------------------

    @property
    def changes(self) -> int:
        """How many changes this process made to its tokens: different means redraw."""
        return self._changes

    def held(self) -> list[SessionToken]:
        """The tokens this process holds, as they are (unchecked: see ``Tokens.held``)."""
        return list(self._held.values())

    def holds(self, fingerprint: str) -> SessionToken | None:
        return self._held.get(fingerprint)

    def in_memory_only(self, fingerprint: str) -> bool:
        """True for a held token never cached (a fetch): the index never lists it."""
        return fingerprint in self._memory_only

    def entries(self) -> Entries:
        """Every token cached for this workspace, from the index: no keyring read (except once,
        to move an index kept in the keyring by an older credenza into the index file)."""
        found = self._index.entries()
        if found is None:
            self._change(lambda entries: None)
            found = self._index.entries() or {}
        return found

    def cached(self, app_id: str, environment: str, key: str) -> Token | None:
        """The token cached in the keyring under this fingerprint, or None (also when damaged);
        an index entry whose keyring entry is gone is dropped, never listed as valid. A keyring
        entry the index does not list (its index lost, or unlisted by a read that raced its
        caching) is never used: no secret change or forget could have removed it."""
        token = _token_from(self._context.secrets.get_raw(names.token(app_id, environment, key)))
        listed = self._index.lists(key)
        if listed is None:
            listed = key in self.entries()  # no index yet: the first one is made (migrated)
        if token is None and listed:
            self._unlist([key])
        return token if listed else None

    # -- holding in memory ------------------------------------------------------------------------

    def hold(self, session: SessionToken, *, cached: bool = True) -> SessionToken:
        """Hold ``session`` in memory; ``cached``: read from the keyring or stored there (else
        held only here until ``cache`` stores it)."""
        self._held[session.fingerprint] = session
        if cached:
            self._memory_only.discard(session.fingerprint)
        else:
            self._memory_only.add(session.fingerprint)
        self._changes += 1
        return session

    def let_go(self, fingerprint: str) -> None:
        """No longer hold this token in memory (its cached copies stay)."""
        self._memory_only.discard(fingerprint)
        if self._held.pop(fingerprint, None) is not None:
            self._changes += 1

    def let_go_of_all(self) -> None:
        """Hold nothing in memory, as a new process starts (what is cached stays)."""
        self._held.clear()
        self._memory_only.clear()
        self._changes += 1

    # -- cached in the keyring, listed in the index -----------------------------------------------

    def cache(self, session: SessionToken) -> None:
        """Cache a client's token: listed first (an entry the index does not list could never be
        removed), then its value in the keyring. The caller holds the credential's lock."""
        self._list(session.entry())
        self._memory_only.discard(session.fingerprint)
        name = names.token(session.application_id, session.environment, session.fingerprint)
        self._context.secrets.set_raw(name, session.token.to_json())

    def cache_many(self, sessions: list[SessionToken]) -> None:
        """``cache`` for several tokens with one index write (a seed, an import)."""

        def add(records: Records) -> None:
            for session in sessions:
                records[session.fingerprint] = session.entry().to_dict()

        self._change(add)
        for session in sessions:
            self._memory_only.discard(session.fingerprint)
            name = names.token(session.application_id, session.environment, session.fingerprint)
            self._context.secrets.set_raw(name, session.token.to_json())

    def keep_sign_in(self, session: SessionToken, payload: str) -> None:
        """Store a person's sign-in (``payload``: its one keyring entry, the refresh token
        with it), listed first, then held and told to the agent. The caller holds the lock."""
        app_id, environment = session.application_id, session.environment
        entries = self.entries()
        stale = [
            key
            for key, entry in entries.items()
            if entry.user and (entry.application_id, entry.environment) == (app_id, environment)
        ]
        self._change(_replacing(stale, session.entry()))
        self._context.secrets.set_raw(names.user_token(app_id, environment), payload)
        self.hold(session)
        self.tell_agent(app_id, environment)

    def drop(self, session: SessionToken) -> None:
        """Forget one token everywhere: memory, keyring, index, agent."""
        self.let_go(session.fingerprint)
        # The index first: a crash between the two leaves an unlisted value, never used, rather
        # than a listed token that is gone.
        self._unlist([session.fingerprint])
        secrets = self._context.secrets
        if session.user:
            secrets.delete_raw(names.user_token(session.application_id, session.environment))
        secrets.delete_raw(
            names.token(session.application_id, session.environment, session.fingerprint)
        )
        self.tell_agent(session.application_id, session.environment)

    def forget(
        self, app_id: str, environment: str | None, envs: list[str], *, keep_sign_in: bool
    ) -> None:
        """Forget every token of an application's environments ``envs`` (all of them when
        ``environment`` is None) everywhere; a person's sign-in stays with ``keep_sign_in``."""
        for key in [
            k
            for k, s in self._held.items()
            if s.application_id == app_id
            and s.environment in envs
            and not (s.user and keep_sign_in)
        ]:
            self.let_go(key)
        secrets = self._context.secrets
        for name in envs:
            # Under the credential's lock: a token cached meanwhile waits (see issue.keep).
            with credential_lock(self._context, app_id, name):
                gone = [
                    entry
                    for entry in self.entries().values()
                    if (entry.application_id, entry.environment) == (app_id, name)
                    and not (entry.user and keep_sign_in)
                ]
                # The index first: a process listing meanwhile never shows a deleted token.
                self._unlist([entry.fingerprint for entry in gone])
                if not keep_sign_in:
                    # A signed-in user's tokens too: they belonged to the credential as it was.
                    secrets.delete_raw(names.user_token(app_id, name))
                for entry in gone:
                    if not entry.user:
                        secrets.delete_raw(names.token(app_id, name, entry.fingerprint))
        self.tell_agent(app_id, environment)

    def tell_agent(self, app_id: str, environment: str | None) -> None:
        """A running agent drops what it holds of this application (or one environment)."""
        from credenza.agent import client as agent

        tag = agent_tags(self._context.config_path, app_id, environment)[-1]
        agent.request({"op": "drop", "tag": tag})

    # -- internals ----------------------------------------------------------------------------

    def _list(self, entry: TokenEntry) -> None:
        def add(records: Records) -> None:
            records[entry.fingerprint] = entry.to_dict()

        self._change(add)

    def _unlist(self, keys: list[str]) -> None:
        if not keys:
            return
        self._change(_replacing(keys, None))

    def _change(self, edit: Callable[[Records], None]) -> None:
        self._index.change(edit, self._migrate)
        self._changes += 1
        moved, self._moved = self._moved, []
        for name in moved:  # listed in the index file now
            self._context.secrets.delete_raw(name)

    def _migrate(self) -> Entries:
        """The index an older credenza kept in the keyring (one entry per environment, one line
        per token: its keyring name, then the scopes it was requested with), read once with the
        tokens it lists, and those keyring index entries removed once the file holds them."""
        context = self._context
        places = [(a.id, e) for a in context.config.applications for e in a.environments]
        secrets = context.secrets
        indexes = secrets.get_many(names.token_index(a, e) for a, e in places)
        listed: list[tuple[str, str, str, tuple[str, ...]]] = []
        for app_id, environment in places:
            for line in filter(
                None, (indexes.get(names.token_index(app_id, environment)) or "").split("\n")
            ):
                name, *asked = line.split(" ")
                listed.append((app_id, environment, names.token_fingerprint(name), tuple(asked)))
        payloads = secrets.get_many(names.token(a, e, k) for a, e, k, _ in listed)
        users = secrets.get_many(names.user_token(a, e) for a, e in places) if places else {}
        entries: Entries = {}
        for app_id, environment, key, scopes in listed:
            token = _token_from(payloads.get(names.token(app_id, environment, key)))
            if token is not None:
                entries[key] = SessionToken(app_id, environment, token, scopes, key).entry()
        for app_id, environment in places:
            signed_in = _sign_in_from(
                app_id, environment, users.get(names.user_token(app_id, environment))
            )
            if signed_in is not None:
                entries[signed_in.fingerprint] = signed_in.entry()
        # Removed once the caller wrote the index file (``_change``): nothing is ever unlisted.
        self._moved = [name for name, value in indexes.items() if value is not None]
        return entries


def _replacing(keys: list[str], entry: TokenEntry | None) -> Callable[[Records], None]:
    def edit(records: Records) -> None:
        for key in keys:
            records.pop(key, None)
        if entry is not None:
            records[entry.fingerprint] = entry.to_dict()

    return edit


def _token_from(payload: str | None) -> Token | None:
    """A cached token's payload parsed, or None when missing or damaged."""
    if payload is None:
        return None
    try:
        return Token.from_json(payload)
    except InvalidResponseError:
        return None


def _sign_in_from(app_id: str, environment: str, payload: str | None) -> SessionToken | None:
    """A stored sign-in as it is, under the fingerprint it was stored with (None: none, or
    damaged)."""
    if payload is None:
        return None
    with contextlib.suppress(ValueError, KeyError, TypeError, InvalidResponseError):
        data = json.loads(payload)
        scopes = tuple(str(s) for s in data["scopes"])
        token = Token.from_json(json.dumps(data["token"]))
        return SessionToken(app_id, environment, token, scopes, str(data["fingerprint"]), True)
    return None
