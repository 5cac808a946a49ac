"""Moving a workspace's keyring entries from the names before workspace ids (``app/env/kind``)
to its own (``{workspace}/app/env/kind``), once, crash-safe, nothing lost.

Every step leaves each value under the old name, the new one or both, never neither: a value is
copied (the store reads it back) before the old entry is deleted, a token index is written
before the tokens it lists, and completion is recorded in the local state last. A run killed at
any point is finished by the next one, which copies only what is still missing.

Two configs that both had ``billing/production`` shared ONE entry before ids: the first of them
opened takes it, as it cannot be known whose it was (the last ``secret set`` of either).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from credenza.errors import CredenzaError
from credenza.secrets import SecretStore, names
from credenza.services.context import Context
from credenza.services.credential_key import fingerprint, legacy_fingerprint

if TYPE_CHECKING:
    from credenza.services.environments import ResolvedEnvironment

Resolve = Callable[[str, str], "ResolvedEnvironment"]


def move_legacy_entries(context: Context, keyring: SecretStore, resolve: Resolve) -> None:
    """Move this config's entries from the old names (``keyring``, the unscoped store) into its
    workspace (``context.secrets``), unless done before on this machine."""
    local = context.local_state
    if local.keyring_names_moved(keyring.keyring):
        return
    Move(context, keyring, resolve).run()
    local.record_keyring_names_moved(keyring.keyring)


class Move:
    """One run of the move; ``run`` is safe to repeat."""

    def __init__(self, context: Context, keyring: SecretStore, resolve: Resolve) -> None:
        self._context = context
        self._old = keyring
        self._new = context.secrets
        self._resolve = resolve
        self._broken: set[str] = set()  # old names left as a header without all their chunks

    def run(self) -> None:
        config = self._context.config
        places = [(a.id, e) for a in config.applications for e in a.environments]
        plain = [names.client_secret(a, e) for a, e in places]
        plain += [names.pending_secret(a, e) for a, e in places]
        plain += [names.admin_token(key) for key in config.providers]
        users = {names.user_token(a, e): (a, e) for a, e in places}
        indexes = {names.token_index(a, e): (a, e) for a, e in places}
        # One batched read of every old name: most configs have nothing to move. Then those
        # that read as missing but still have a header: a run killed while deleting one.
        found = self._old.get_many([*plain, *users, *indexes])
        self._broken = self._old.chunked(name for name, value in found.items() if value is None)
        for name in plain:
            self._move(name, name, found[name])
        for name, (app_id, environment) in users.items():
            if (value := found[name]) is not None:
                value = self._user_token(app_id, environment, value)
            self._move(name, name, value)
        for name, (app_id, environment) in indexes.items():
            if (value := found[name]) is not None:
                self._tokens(app_id, environment, name, value)
            else:
                self._move(name, name, None)  # the rest of a killed delete, if any

    def _move(self, old: str, new: str, value: str | None) -> None:
        """``value`` (read from ``old``) under ``new`` in the workspace, then ``old`` deleted.
        A value already under ``new`` is kept: an earlier, interrupted run copied it."""
        if value is None:
            if old in self._broken and self._new.get_raw(new) is not None:
                self._old.delete_raw(old)  # the rest of a delete that was killed
            return
        if self._new.get_raw(new) is None:
            self._new.set_raw(new, value)  # reads it back, raises if it did not stick
        # Its chunks first: a kill leaves the header, found by the next run (never pieces of a
        # secret no header names).
        self._old.delete_raw(old, header_last=True)

    def _user_token(self, app_id: str, environment: str, value: str) -> str:
        """A sign-in re-stamped with the fingerprint of its credential in the workspace (it was
        stored with the config's path in it); one that did not belong to the credential as
        configured was unreachable before and is moved as it is."""
        try:
            data = json.loads(value)
            scopes = [str(scope) for scope in data["scopes"]]
        except (ValueError, KeyError, TypeError):
            return value
        keys = self._keys(app_id, environment, scopes)
        if keys is None or data.get("fingerprint") != keys[0]:
            return value
        data["fingerprint"] = keys[1]
        return json.dumps(data)

    def _tokens(self, app_id: str, environment: str, index_name: str, index: str) -> None:
        """The cached tokens of one environment, under their fingerprints in the workspace."""
        moves: list[tuple[str, str | None]] = []  # (old entry, new entry or None: stale)
        lines: list[str] = []
        for line in filter(None, index.split("\n")):
            old, *scopes = line.split(" ")
            keys = self._keys(app_id, environment, scopes)
            if keys is None or names.token_fingerprint(old) != keys[0]:
                moves.append((old, None))  # cached for a credential no longer configured
                continue
            new = names.token(app_id, environment, keys[1])
            moves.append((old, new))
            lines.append(" ".join([new, *scopes]))
        # The index first (as Tokens.cache does): an entry it does not list is never removed.
        current = set(filter(None, (self._new.get_raw(index_name) or "").split("\n")))
        if lines and not set(lines) <= current:
            self._new.set_raw(index_name, "\n".join(sorted(current | set(lines))))
        for old, moved in moves:
            value = self._old.get_raw(old)
            if value is None and old in self._old.chunked([old]):
                self._broken.add(old)
            if moved is None:
                self._old.delete_raw(old, header_last=True)
            else:
                self._move(old, moved, value)
        self._old.delete_raw(index_name, header_last=True)

    def _keys(self, app_id: str, environment: str, scopes: list[str]) -> tuple[str, str] | None:
        """(the fingerprint before ids, the one in the workspace) of a credential, or None when
        the environment cannot be resolved now."""
        try:
            resolved = self._resolve(app_id, environment)
        except CredenzaError:
            return None
        return (
            legacy_fingerprint(self._context.config_path, resolved, scopes),
            fingerprint(self._context.workspace_id, resolved, scopes),
        )
