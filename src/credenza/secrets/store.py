"""The secret store: one facade over the keyring in use, with deadlines, read-back and chunking.

Which keyring: the file keyring when the settings say ``keyring = "file"``; else, on Linux, the
Secret Service over one D-Bus session per process; else keyring's choice (macOS Keychain,
Windows Credential Manager, KWallet, plugins). The fail, null and plaintext backends are refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets as _random
import sys
import threading
from collections.abc import Callable, Iterable
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
from credenza.secrets import names
from credenza.secrets.backend import Backend
from credenza.secrets.masking import Secret
from credenza.secrets.oskeyring import GET_A_KEYRING

KeyringKind = Literal["auto", "file"]
T = TypeVar("T")

# A long value is stored as numbered chunks plus a header under the entry's own name:
#   credenza-chunks:2:<generation>:<count>:<length>:<digest>[:<old generation>:<old count>]
# The chunks of a new value go under a new generation first; the header (one atomic keyring
# write) then switches to it; the old generation's chunks are deleted last. A kill at any moment
# leaves the old value, the new one or none — never a mix — and the old generation is named in
# the new header so that a write killed before its clean-up is cleaned up by the next one.
# Version 1 (credenza-chunks:<count>:<length>, chunks name#1…) is still read and replaced.
_CHUNK_MARK = "credenza-chunks:"


@dataclass(frozen=True)
class StoredSecret:
    """A client secret from the keyring, with the token endpoint origin it was stored for."""

    secret: Secret
    origin: str | None


@dataclass(frozen=True)
class _Header:
    generation: str
    count: int
    length: int
    digest: str | None
    old: tuple[str, int] | None

    def chunk_names(self, name: str) -> list[str]:
        found = [names.chunk(name, self.generation, n) for n in range(1, self.count + 1)]
        if self.old is not None:
            found += [names.chunk(name, self.old[0], n) for n in range(1, self.old[1] + 1)]
        return found


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
        memory_fallback: bool = False,
    ) -> None:
        self._backend = backend
        # With a team store the secrets are not here: a machine without a usable keyring (a CI
        # runner) keeps this run's tokens in memory instead of failing (said once, on stderr).
        self.memory_fallback = memory_fallback
        self._impl: Backend | None = None
        self.timeout = timeout
        self.allow_plaintext = allow_plaintext
        self.keyring = keyring
        self._warn = warn or (lambda message: None)

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
                hint=f"run `credenza secret set {application_id} {environment}`",
            )
        return _parse_client_secret(payload)

    def delete_client_secret(self, application_id: str, environment: str) -> None:
        self.delete_raw(names.client_secret(application_id, environment))

    # -- raw entries (chunked, verified) ------------------------------------------------------

    def set_raw(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, read it back, and fail loudly if it did not stick."""
        backend = self._ready()
        previous = _parse_header(self._call(backend.get, name))
        limit = backend.max_chars
        if limit is None or len(value) <= limit:
            self._call(backend.set, name, value, secret=value)
        else:
            generation = _random.token_hex(4)
            chunks = [value[i : i + limit] for i in range(0, len(value), limit)]
            for number, chunk in enumerate(chunks, start=1):
                self._call(backend.set, names.chunk(name, generation, number), chunk, secret=chunk)
            header = f"{_CHUNK_MARK}2:{generation}:{len(chunks)}:{len(value)}:{_digest(value)}"
            if previous is not None:
                header += f":{previous.generation}:{previous.count}"
            self._call(backend.set, name, header, secret=value)
        if previous is not None:
            self._delete_chunks(backend, name, previous)
        if self.get_raw(name) != value:
            raise UnsafeKeyringError(
                f"the keyring ({backend.label}) accepted the secret but does not give it "
                "back; nothing usable was stored",
                hint=GET_A_KEYRING,
            )

    def get_raw(self, name: str) -> str | None:
        return self.get_many([name])[name]

    def get_many(self, entries: Iterable[str]) -> dict[str, str | None]:
        """Several entries in as few keyring calls as the backend allows (two on Secret Service)."""
        wanted = list(dict.fromkeys(entries))
        if not wanted:
            return {}
        backend = self._ready()
        found = self._batched(backend, wanted)
        headers = {
            name: header
            for name in wanted
            if (header := _parse_header(found.get(name))) is not None
        }
        if not headers:
            return {name: found.get(name) for name in wanted}
        chunk_names = [
            names.chunk(name, header.generation, number)
            for name, header in headers.items()
            for number in range(1, header.count + 1)
        ]
        chunks = self._batched(backend, chunk_names)
        result: dict[str, str | None] = {}
        for name in wanted:
            header = headers.get(name)
            if header is None:
                result[name] = found.get(name)
                continue
            parts = [
                chunks.get(names.chunk(name, header.generation, n))
                for n in range(1, header.count + 1)
            ]
            joined = None if any(part is None for part in parts) else "".join(parts)  # type: ignore[arg-type]
            if joined is not None and (
                len(joined) != header.length
                or (header.digest is not None and _digest(joined) != header.digest)
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

    def delete_raw(self, name: str) -> None:
        backend = self._ready()
        header = _parse_header(self._call(backend.get, name))
        # The header first: without it the chunks are unreachable, so a kill leaves "missing".
        self._call(backend.delete, name)
        if header is not None:
            self._delete_chunks(backend, name, header)

    def _delete_chunks(self, backend: Backend, name: str, header: _Header) -> None:
        for chunk in header.chunk_names(name):
            self._call(backend.delete, chunk)

    # -- backend choice -----------------------------------------------------------------------

    def _ready(self) -> Backend:
        if self._impl is None:
            try:
                backend = self._resolve()
                backend.prepare()
            except (NoKeyringError, UnsafeKeyringError) as refused:
                if not self.memory_fallback:
                    raise
                from credenza.keyring_memory import MemoryKeyring
                from credenza.secrets.oskeyring import OsKeyring

                self._warn(
                    f"{refused.message}: the team store holds the secrets; tokens are kept in "
                    "memory for this run only"
                )
                backend = OsKeyring(MemoryKeyring())
            self._impl = backend
        return self._impl

    def _resolve(self) -> Backend:
        from credenza.secrets import oskeyring

        if self._backend is not None:
            if isinstance(self._backend, Backend):
                return self._backend
            return oskeyring.OsKeyring(
                self._backend, allow_plaintext=self.allow_plaintext, warn=self._warn
            )
        if self.keyring == "file":
            from credenza.secrets.filekeyring import FileKeyring

            return FileKeyring.default()
        if not oskeyring.chosen_by_user() and sys.platform.startswith(("linux", "freebsd")):
            from credenza.secrets.secretservice import SecretServiceKeyring

            found = SecretServiceKeyring.shared(self.timeout)
            if found is not None:
                return found
        chosen = oskeyring.from_keyring(allow_plaintext=self.allow_plaintext, warn=self._warn)
        self._backend = chosen.backend
        return chosen

    def _call(self, function: Callable[..., T], *args: Any, secret: str | None = None) -> T:
        """Run a keyring call with a deadline; turn every backend failure into a clear error."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as exc:
                outcome["error"] = exc

        label = self._impl.label if self._impl is not None else "keyring"
        hint = self._impl.unlock_hint if self._impl is not None else GET_A_KEYRING
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


def _parse_client_secret(payload: str) -> StoredSecret:
    try:
        data = json.loads(payload)
        return StoredSecret(Secret(str(data["secret"])), data.get("origin"))
    except (ValueError, KeyError, TypeError):
        # An entry written by hand (keyring set credenza app/env/client_secret): the bare secret.
        return StoredSecret(Secret(payload), None)


def _parse_header(value: str | None) -> _Header | None:
    if value is None or not value.startswith(_CHUNK_MARK):
        return None
    fields = value[len(_CHUNK_MARK) :].split(":")
    try:
        if len(fields) == 2:  # version 1
            return _Header("", int(fields[0]), int(fields[1]), None, None)
        if fields[0] == "2" and len(fields) in (5, 7):
            old = (fields[5], int(fields[6])) if len(fields) == 7 else None
            return _Header(fields[1], int(fields[2]), int(fields[3]), fields[4], old)
    except ValueError:
        pass
    # A damaged header reads as missing; its chunks cannot be found, so none are deleted.
    return _Header("?", 0, -1, None, None)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "••••••••")
    return text[:300]
