"""The secret store: one facade over the keyring in use, with deadlines, read-back and chunking;
and the registry of the keyrings it may use (secrets/backends/, one module each).

Which keyring: the first registered backend chosen by the ``keyring`` setting that is available
and opens: for ``keyring = "file"`` the file keyring; else, on Linux, the Secret Service over one
D-Bus session per process; else keyring's choice (macOS Keychain, Windows Credential Manager,
KWallet, plugins). The fail, null and plaintext backends are refused.

A little over 400 lines: the calls, the chunked reads and writes they share (the header format is
in chunks.py) and the walk of the registry that picks the backend are one facade.
"""

from __future__ import annotations

import copy
import importlib
import json
import secrets as _random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from credenza.errors import (
    CredenzaError,
    KeyringLockedError,
    NoKeyringError,
    SecretMissingError,
    SecretStoreError,
    UnsafeKeyringError,
)
from credenza.next_steps import step
from credenza.secrets import chunks, names
from credenza.secrets.backend import Backend, BackendEntry, Setting, Wanted
from credenza.secrets.backends.oskeyring import GET_A_KEYRING, GET_A_KEYRING_STEPS
from credenza.secrets.masking import Secret

KeyringKind = Literal["auto", "system", "file"]
T = TypeVar("T")


@dataclass(frozen=True)
class StoredSecret:
    """A client secret from the keyring, with the token endpoint origin it was stored for."""

    secret: Secret
    origin: str | None


class SecretStore:
    """One service, deadlines on every call, no silent plaintext, no null backend.

    ``backend`` is a keyring backend instance (or a credenza ``Backend``); by default the one
    ``keyring`` names ("auto" or "file"), resolved on first use: most commands never need it.
    """

    def __init__(
        self,
        backend: Any = None,
        *,
        timeout: float = 5.0,
        allow_plaintext: bool = False,
        warn: Callable[[str], None] | None = None,
        keyring: KeyringKind = "auto",
        keyring_from_config: str | None = None,
        memory_fallback: bool = False,
    ) -> None:
        self._backend = backend
        # Where ``keyring = "file"`` came from when the shared config set it (a teammate's
        # choice for their machine): a failure then says so, and how to choose for oneself.
        self.keyring_from_config = keyring_from_config
        # With a team store the secrets are not here: a machine without a usable keyring (a CI
        # runner) keeps this run's tokens in memory instead of failing (said once, on stderr).
        self.memory_fallback = memory_fallback
        self._impl: Backend | None = None
        #: The registry entry of the keyring in use, once resolved (None: one given by the caller).
        self.chosen: BackendEntry | None = None
        self.timeout = timeout
        self.allow_plaintext = allow_plaintext
        self.keyring = keyring
        self._warn = warn or (lambda message: None)
        # A workspace's view (``within``): the store it shares a keyring with, the workspace id,
        # and what runs once before its first entry is touched (moving legacy entries).
        self._root: SecretStore = self
        self._workspace: Callable[[], str] | None = None
        self._prepare: Callable[[], None] | None = None
        self._prepared = False
        self._preparing = False
        self._prepare_lock = threading.RLock()
        # Reads asked for by several threads at once go to the keyring together (``_read``).
        self._reading = threading.RLock()  # re-entered only if a backend reads while reading
        self._asked_lock = threading.Lock()
        self._asked: list[_Read] = []

    def within(
        self, workspace: Callable[[], str], *, prepare: Callable[[], None] | None = None
    ) -> SecretStore:
        """This keyring as one workspace sees it: every name ``n`` given to the view is the
        entry ``{workspace()}/n`` (names.in_workspace), so no caller spells a workspace by hand.

        ``workspace`` is asked at every call (it may raise: a config that cannot be given an id);
        ``prepare`` runs once, before the view's first entry is read or written, and again at the
        next call if it failed. A view of a view is a view of the unscoped keyring.
        """
        view = SecretStore(
            timeout=self.timeout,
            allow_plaintext=self.allow_plaintext,
            warn=self._warn,
            keyring=self.keyring,
        )
        view._root = self._root
        view._workspace = workspace
        view._prepare = prepare
        return view

    @property
    def unscoped(self) -> SecretStore:
        """The keyring without a workspace: the names as given (this store, or the one a view
        was made from)."""
        return self._root

    @property
    def workspace_id(self) -> str | None:
        """The workspace this view's entries belong to; None for the unscoped keyring."""
        return None if self._workspace is None else self._workspace()

    def entry(self, name: str) -> str:
        """The full keyring username of ``name`` as this store reads and writes it."""
        if self._workspace is None:
            return name
        workspace = self._workspace()
        if not self._prepared and self._prepare is not None:
            with self._prepare_lock:  # another thread waits for the one moving entries
                if not self._prepared and not self._preparing:
                    self._preparing = True  # its own calls (this thread) pass through
                    try:
                        self._prepare()
                        self._prepared = True
                    finally:
                        self._preparing = False
        return names.in_workspace(workspace, name)

    @property
    def backend(self) -> Backend:
        """The keyring in use (resolved and checked on first access)."""
        return self._ready()

    # -- the client secret --------------------------------------------------------------------

    def set_client_secret(
        self, application_id: str, environment: str, secret: Secret, *, origin: str | None
    ) -> None:
        payload = json.dumps({"v": 1, "secret": secret.reveal(), "origin": origin})
        self.set_raw(names.client_secret(application_id, environment), payload)

    def get_client_secret(self, application_id: str, environment: str) -> StoredSecret:
        payload = self.get_raw(names.client_secret(application_id, environment))
        if payload is None:
            raise SecretMissingError(
                f"no client secret is stored for {application_id} / {environment}",
                hint="run `{0}`",
                next_steps=(step("set_secret", application_id, environment),),
            )
        return _parse_client_secret(payload)

    def get_client_secrets(
        self, environments: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredSecret]:
        """``get_client_secret`` of many (application id, environment) in one batch of keyring
        calls; those with no secret stored are left out."""
        wanted = {key: names.client_secret(*key) for key in environments}
        found = self.get_many(wanted.values())
        return {
            key: _parse_client_secret(value)
            for key, name in wanted.items()
            if (value := found[name]) is not None
        }

    def delete_client_secret(self, application_id: str, environment: str) -> None:
        self.delete_raw(names.client_secret(application_id, environment))

    # -- any other secret bound to the origin(s) it was stored for (an admin token) -----------

    def set_bound(self, name: str, secret: Secret, *, origin: str | None) -> None:
        payload = json.dumps({"v": 1, "secret": secret.reveal(), "origin": origin})
        self.set_raw(name, payload)

    def get_bound(self, name: str) -> StoredSecret | None:
        """The entry with its origin; one stored bare (by an older credenza) has origin None."""
        payload = self.get_raw(name)
        return None if payload is None else _parse_client_secret(payload)

    # -- raw entries (chunked, verified) ------------------------------------------------------

    def set_raw(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, read it back, and fail loudly if it did not stick."""
        self._root._set(self.entry(name), value)

    def get_raw(self, name: str) -> str | None:
        return self.get_many([name])[name]

    def get_many(self, entries: Iterable[str]) -> dict[str, str | None]:
        """Several entries in as few keyring calls as the backend allows (two on Secret Service)."""
        wanted = list(dict.fromkeys(entries))
        if not wanted:
            return {}
        full = {name: self.entry(name) for name in wanted}
        found = self._root._read(list(full.values()))
        return {name: found[entry] for name, entry in full.items()}

    def delete_raw(self, name: str, *, header_last: bool = False) -> None:
        """Delete an entry and its chunks. Normally the header first (a kill leaves the value
        missing, never a mix); ``header_last``: the chunks first, so that a kill leaves the
        header, which ``chunked`` finds and a repeat deletes (for a value kept elsewhere already:
        its chunks are never left behind unreachable)."""
        self._root._delete(self.entry(name), header_last=header_last)

    def chunked(self, entries: Iterable[str]) -> set[str]:
        """Which of these entries are chunked (a header), readable or not."""
        full = {self.entry(name): name for name in dict.fromkeys(entries)}
        if not full:
            return set()
        found = self._root._batched(self._ready(), list(full))
        return {
            full[entry] for entry, value in found.items() if chunks.parse_header(value) is not None
        }

    # -- full names (the root store only) -----------------------------------------------------

    def _set(self, name: str, value: str) -> None:
        backend = self._ready()
        previous = chunks.parse_header(self._call(backend.get, name))
        limit = backend.max_chars
        if limit is None or len(value) <= limit:
            self._call(backend.set, name, value, secret=value)
        else:
            generation = _random.token_hex(4)
            parts = [value[i : i + limit] for i in range(0, len(value), limit)]
            for number, chunk in enumerate(parts, start=1):
                self._call(backend.set, names.chunk(name, generation, number), chunk, secret=chunk)
            header = chunks.header(generation, len(parts), value)
            if previous is not None:
                header += f":{previous.generation}:{previous.count}"
            self._call(backend.set, name, header, secret=value)
        if previous is not None:
            self._delete_chunks(backend, name, previous)
        if self._get_many([name])[name] != value:
            raise UnsafeKeyringError(
                f"the keyring ({backend.label}) accepted the secret but does not give it "
                "back; nothing usable was stored",
                hint=GET_A_KEYRING,
                next_steps=GET_A_KEYRING_STEPS,
            )

    def _read(self, wanted: list[str]) -> dict[str, str | None]:
        """``_get_many``, with what other threads ask for meanwhile: one keyring call at a time,
        each for every read asked for before it started. A Secret Service answers one call at
        a time, and a batch of names costs a fraction of as many calls (on gnome-keyring with
        400 entries, ~1 ms a name in a batch against ~4 ms a call): `verify --all`'s sixteen
        token calls in flight each read their secret once more after the call. A read is never
        older than its asking: the call that answers it starts after it was asked."""
        asked = _Read(wanted)
        with self._asked_lock:
            self._asked.append(asked)
        with self._reading:
            if not asked.answered:
                with self._asked_lock:
                    batch, self._asked = self._asked, []
                together = list(dict.fromkeys(name for read in batch for name in read.wanted))
                try:
                    found = self._get_many(together)
                except Exception as exc:
                    for read in batch:
                        read.failed, read.answered = exc, True
                except BaseException:
                    # Ctrl-C or an exit in this thread is this thread's: the others it was
                    # reading for ask again, in the next call.
                    with self._asked_lock:
                        self._asked[:0] = [read for read in batch if read is not asked]
                    raise
                else:
                    for read in batch:
                        read.found = {name: found[name] for name in read.wanted}
                        read.answered = True
        if asked.failed is not None:
            # One error answers every read of the batch: each thread raises its own copy, so
            # no two threads write the same exception's traceback.
            raise copy.copy(asked.failed)
        return asked.found

    def _get_many(self, wanted: list[str]) -> dict[str, str | None]:
        backend = self._ready()
        found = self._batched(backend, wanted)
        headers = {
            name: header
            for name in wanted
            if (header := chunks.parse_header(found.get(name))) is not None
        }
        if not headers:
            return {name: found.get(name) for name in wanted}
        chunk_names = [
            names.chunk(name, header.generation, number)
            for name, header in headers.items()
            for number in range(1, header.count + 1)
        ]
        stored = self._batched(backend, chunk_names)
        result: dict[str, str | None] = {}
        for name in wanted:
            header = headers.get(name)
            if header is None:
                result[name] = found.get(name)
                continue
            parts = [
                stored.get(names.chunk(name, header.generation, n))
                for n in range(1, header.count + 1)
            ]
            joined = None if any(part is None for part in parts) else "".join(parts)  # type: ignore[arg-type]
            if joined is not None and (
                len(joined) != header.length
                or (header.digest is not None and chunks.digest(joined) != header.digest)
            ):
                joined = None
            result[name] = joined
        return result

    def _batched(self, backend: Backend, wanted: list[str]) -> dict[str, str | None]:
        """``backend.get_many`` in calls of at most ``backend.max_batch`` names, each with its
        own deadline."""
        size = backend.max_batch or len(wanted) or 1
        found: dict[str, str | None] = {}
        for start in range(0, len(wanted), size):
            found.update(self._call(backend.get_many, wanted[start : start + size]))
        return found

    def _delete(self, name: str, *, header_last: bool = False) -> None:
        backend = self._ready()
        header = chunks.parse_header(self._call(backend.get, name))
        if header is not None and header_last:
            self._delete_chunks(backend, name, header)
        # The header first: without it the chunks are unreachable, so a kill leaves "missing".
        self._call(backend.delete, name)
        if header is not None and not header_last:
            self._delete_chunks(backend, name, header)

    def _delete_chunks(self, backend: Backend, name: str, header: chunks.Header) -> None:
        for chunk in header.chunk_names(name):
            self._call(backend.delete, chunk)

    # -- backend choice -----------------------------------------------------------------------

    def _ready(self) -> Backend:
        if self._root is not self:
            return self._root._ready()
        if self._impl is None:
            try:
                backend = self._resolve()
                backend.prepare()
            except (NoKeyringError, UnsafeKeyringError) as refused:
                if not self.memory_fallback:
                    if self.keyring == "file" and self.keyring_from_config is not None:
                        raise self._not_yours(refused) from None
                    raise
                fallback = next(e for e in _registered() if e.chosen_by is None)
                self._warn(
                    f"{refused.message}: the team store holds the secrets; tokens are kept in "
                    "memory for this run only"
                )
                opened = fallback.open(self._wanted())
                assert opened is not None  # the fallback is always there
                backend, self.chosen = opened, fallback
            except SecretStoreError as exc:
                if self.keyring == "file" and self.keyring_from_config is not None:
                    raise self._not_yours(exc) from None
                raise
            self._impl = backend
        return self._impl

    def _not_yours(self, error: SecretStoreError) -> SecretStoreError:
        """The error of a file keyring someone else chose in the shared config: its source, and
        the one command that makes the choice this person's own."""
        return type(error)(
            f'{error.message}; keyring = "file" comes from the shared config '
            f"{self.keyring_from_config}, not from your own settings",
            hint="run `{0}` to use your desktop keyring (kept in your own settings; the shared "
            "config stays as it is)",
            next_steps=(step("use_keyring", None, None, "system"),),
        )

    def _resolve(self) -> Backend:
        if self._backend is not None:
            if isinstance(self._backend, Backend):
                return self._backend
            from credenza.secrets.backends.oskeyring import OsKeyring

            return OsKeyring(self._backend, allow_plaintext=self.allow_plaintext, warn=self._warn)
        setting: Setting = "file" if self.keyring == "file" else "system"
        wanted = self._wanted()
        for entry in _registered():
            if entry.chosen_by != setting or not entry.available():
                continue
            opened = entry.open(wanted)
            if opened is not None:
                # Kept: a retry after a failed ``prepare`` reuses it instead of looking again.
                self._backend, self.chosen = opened, entry
                return opened
        raise NoKeyringError(
            f'no usable keyring for keyring = "{setting}"',
            hint=GET_A_KEYRING,
            next_steps=GET_A_KEYRING_STEPS,
        )

    def _wanted(self) -> Wanted:
        return Wanted(
            timeout=self.timeout,
            allow_plaintext=self.allow_plaintext,
            warn=self._warn,
            from_shared_config=self.keyring_from_config is not None,
        )

    def _call(self, function: Callable[..., T], *args: Any, secret: str | None = None) -> T:
        """Run a keyring call with a deadline; turn every backend failure into a clear error."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as exc:
                outcome["error"] = exc

        impl = self._root._impl
        label = impl.label if impl is not None else "keyring"
        hint = impl.unlock_hint if impl is not None else GET_A_KEYRING
        steps = () if impl is not None else GET_A_KEYRING_STEPS
        # A daemon thread, so a keyring stuck on an unlock prompt cannot keep credenza alive.
        worker = threading.Thread(target=run, name="credenza-keyring", daemon=True)
        worker.start()
        # A little longer than the timeout: a backend with its own deadlines reports first.
        worker.join(self.timeout + 0.25)
        if worker.is_alive():
            raise KeyringLockedError(
                f"the keyring ({label}) did not answer within {self.timeout:g} s; it is "
                "probably locked and waiting for an unlock prompt",
                hint=hint,
                next_steps=steps,
            )
        error = outcome.get("error")
        if error is None:
            return outcome["value"]  # type: ignore[no-any-return]
        if isinstance(error, CredenzaError):
            raise error
        detail = _scrub(f"{type(error).__name__}: {error}", secret)
        raise SecretStoreError(
            f"the keyring ({label}) failed: {detail}",
            hint="check that your keyring service is running and unlocked",
        ) from None


class _Read:
    """Names one thread asked for, and what the keyring call that read them found (or raised)."""

    def __init__(self, wanted: list[str]) -> None:
        self.wanted = wanted
        self.found: dict[str, str | None] = {}
        self.failed: BaseException | None = None
        self.answered = False


# -- the registry ---------------------------------------------------------------------------------


def backends() -> list[BackendEntry]:
    """Every registered keyring, in the order the ``keyring`` setting tries them (this imports
    every backend module, keyring's too: for listing, not for choosing)."""
    return list(_registered())


def _registered() -> Iterator[BackendEntry]:
    """The registered entries, each module imported only when the walk reaches it."""
    from credenza.secrets.backends import REGISTERED

    for module in REGISTERED:
        entry: BackendEntry = importlib.import_module(f"credenza.secrets.backends.{module}").BACKEND
        yield entry


def _parse_client_secret(payload: str) -> StoredSecret:
    try:
        data = json.loads(payload)
        return StoredSecret(Secret(str(data["secret"])), data.get("origin"))
    except (ValueError, KeyError, TypeError):
        # An entry written by hand (keyring set credenza app/env/client_secret): the bare secret.
        return StoredSecret(Secret(payload), None)


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "••••••••")
    return text[:300]
