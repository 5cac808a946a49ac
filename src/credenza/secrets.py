"""The secret store: keyring entries per application, environment and kind; masked values."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from credenza.errors import (
    KeyringLockedError,
    NoKeyringError,
    SecretMissingError,
    SecretRejectedError,
    SecretStoreError,
    UnsafeKeyringError,
)

SERVICE = "credenza"
# Windows Credential Manager refuses values over 2,560 bytes (1,280 UTF-16 characters); JWTs are
# often longer. Values above this are split across numbered entries.
CHUNK_CHARS = 1000
_CHUNK_MARK = "credenza-chunks:"
_GET_A_KEYRING = (
    "install and unlock an OS keyring (GNOME Keyring or KWallet through Secret Service on Linux, "
    "macOS Keychain, Windows Credential Manager) or an encrypted-file backend such as "
    "keyrings.cryptfile; `keyring --list-backends` shows what is available"
)

T = TypeVar("T")


class Secret:
    """A secret value whose str and repr are masked, so tracebacks and logs cannot show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call only where it is sent or shown on purpose."""
        return self._value

    def masked(self) -> str:
        """For display: bullets and the last four characters (none for short values)."""
        tail = self._value[-4:] if len(self._value) >= 12 else ""
        return "••••••••" + tail

    def __repr__(self) -> str:
        return "Secret('••••••••')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class CheckedSecret:
    """A secret as it will be stored, with the warnings found while checking it."""

    secret: Secret
    warnings: tuple[str, ...]


def check_secret(value: str, *, expected_length: int | None = None) -> CheckedSecret:
    """Trim surrounding whitespace (with a warning), refuse an empty secret, flag odd lengths."""
    warnings: list[str] = []
    trimmed = value.strip()
    if not trimmed:
        raise SecretRejectedError(
            "the secret is empty; nothing was stored",
            hint="paste the client secret from the provider's portal",
        )
    if trimmed != value:
        warnings.append("removed whitespace around the secret (a copy-paste left it there)")
    if expected_length is not None and len(trimmed) != expected_length:
        warnings.append(
            f"the secret has {len(trimmed)} characters but this provider issues secrets of "
            f"{expected_length}; check that it was copied whole"
        )
    return CheckedSecret(Secret(trimmed), tuple(warnings))


@dataclass(frozen=True)
class StoredSecret:
    """A client secret from the keyring, with the token endpoint origin it was stored for."""

    secret: Secret
    origin: str | None


def entry_name(application_id: str, environment: str, kind: str) -> str:
    """The keyring username of one entry: ``app/env/kind``."""
    return f"{application_id}/{environment}/{kind}"


class SecretStore:
    """Wraps keyring: one service, deadlines on every call, no silent plaintext, no null backend.

    ``backend`` is a keyring backend instance; by default keyring's own choice, resolved on first
    use (keyring's import and backend discovery are slow, and most commands never need them).
    """

    def __init__(
        self,
        backend: Any = None,
        *,
        timeout: float = 5.0,
        allow_plaintext: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._backend = backend
        self._checked = False
        self.timeout = timeout
        self.allow_plaintext = allow_plaintext
        self._warn = warn or (lambda message: None)
        self._warned = False

    # -- the client secret --------------------------------------------------------------------

    def set_client_secret(
        self, application_id: str, environment: str, secret: Secret, *, origin: str | None
    ) -> None:
        payload = json.dumps({"v": 1, "secret": secret.reveal(), "origin": origin})
        self.set_raw(entry_name(application_id, environment, "client_secret"), payload)

    def get_client_secret(self, application_id: str, environment: str) -> StoredSecret:
        name = entry_name(application_id, environment, "client_secret")
        payload = self.get_raw(name)
        if payload is None:
            raise SecretMissingError(
                f"no client secret is stored for {application_id} / {environment}",
                hint=f"run `credenza secret set {application_id} {environment}`",
            )
        try:
            data = json.loads(payload)
            return StoredSecret(Secret(str(data["secret"])), data.get("origin"))
        except (ValueError, KeyError, TypeError):
            # An entry written by hand (keyring set credenza app/env/client_secret): the bare secret.
            return StoredSecret(Secret(payload), None)

    def delete_client_secret(self, application_id: str, environment: str) -> None:
        self.delete_raw(entry_name(application_id, environment, "client_secret"))

    # -- raw entries (chunked, verified) ------------------------------------------------------

    def set_raw(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, read it back, and fail loudly if it did not stick."""
        backend = self._ready()
        chunks = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)] or [""]
        if len(chunks) == 1:
            self._call(backend.set_password, SERVICE, name, value, secret=value)
        else:
            # Chunks first, the header last: a crash in between leaves the old header pointing at
            # a count that no longer matches, which reads as "missing", never as a wrong value.
            for number, chunk in enumerate(chunks, start=1):
                self._call(backend.set_password, SERVICE, f"{name}#{number}", chunk, secret=value)
            header = f"{_CHUNK_MARK}{len(chunks)}:{len(value)}"
            self._call(backend.set_password, SERVICE, name, header, secret=value)
        if self.get_raw(name) != value:
            raise UnsafeKeyringError(
                f"the keyring ({_backend_name(backend)}) accepted the secret but does not give it "
                "back; nothing usable was stored",
                hint=_GET_A_KEYRING,
            )

    def get_raw(self, name: str) -> str | None:
        backend = self._ready()
        value: str | None = self._call(backend.get_password, SERVICE, name)
        if value is None or not value.startswith(_CHUNK_MARK):
            return value
        try:
            count_text, length_text = value[len(_CHUNK_MARK) :].split(":")
            count, length = int(count_text), int(length_text)
        except ValueError:
            return None
        parts = []
        for number in range(1, count + 1):
            part = self._call(backend.get_password, SERVICE, f"{name}#{number}")
            if part is None:
                return None
            parts.append(part)
        joined = "".join(parts)
        return joined if len(joined) == length else None

    def delete_raw(self, name: str) -> None:
        backend = self._ready()
        import keyring.errors

        value = self._call(backend.get_password, SERVICE, name)
        if value is None:
            return
        if value.startswith(_CHUNK_MARK):
            count = int(value[len(_CHUNK_MARK) :].split(":")[0] or 0)
            for number in range(1, count + 1):
                with contextlib.suppress(keyring.errors.PasswordDeleteError):
                    self._call(backend.delete_password, SERVICE, f"{name}#{number}")
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._call(backend.delete_password, SERVICE, name)

    # -- backend checks -----------------------------------------------------------------------

    def _resolve(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def _ready(self) -> Any:
        backend = self._resolve()
        if not self._checked:
            self._classify(backend)
            self._checked = True
        if self.allow_plaintext and _is_plaintext(backend) and not self._warned:
            # Once per command (per store): every use of credenza says it, without flooding.
            self._warned = True
            self._warn(
                f"secrets are stored in PLAINTEXT by {_backend_name(backend)} because plaintext "
                "keyrings are allowed in the settings; anyone who can read your files can read them"
            )
        return backend

    def _classify(self, backend: Any) -> None:
        members = list(getattr(backend, "backends", [backend]))
        name = _backend_name(backend)
        if not members or all(_is_fail(member) for member in members):
            raise NoKeyringError(
                f"no usable keyring backend (keyring chose {name})", hint=_GET_A_KEYRING
            )
        if any(_is_null(member) for member in members):
            raise UnsafeKeyringError(
                f"the keyring backend {name} stores nothing while reporting success; "
                "credenza will not use it",
                hint=_GET_A_KEYRING,
            )
        if any(_is_plaintext(member) for member in members) and not self.allow_plaintext:
            raise UnsafeKeyringError(
                f"the keyring backend {name} would store secrets in plaintext; credenza refuses "
                "unless you opt in with allow_plaintext_keyring = true under [settings]",
                hint=_GET_A_KEYRING,
            )

    def _call(self, function: Callable[..., T], *args: Any, secret: str | None = None) -> T:
        """Run a keyring call with a deadline; turn every backend failure into a clear error."""
        import keyring.errors

        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as exc:
                outcome["error"] = exc

        # A daemon thread, so a keyring stuck on an unlock prompt cannot keep credenza alive.
        worker = threading.Thread(target=run, name="credenza-keyring", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise KeyringLockedError(
                f"the keyring ({_backend_name(self._backend)}) did not answer within "
                f"{self.timeout:g} s; it is probably locked and waiting for an unlock prompt",
                hint="unlock your keyring (log in to the desktop session, or run "
                "`gnome-keyring-daemon --unlock`) and try again",
            )
        error = outcome.get("error")
        if error is None:
            return outcome["value"]  # type: ignore[no-any-return]
        if isinstance(error, keyring.errors.PasswordDeleteError):
            raise error
        if isinstance(error, keyring.errors.KeyringLocked):
            raise KeyringLockedError(
                f"the keyring ({_backend_name(self._backend)}) is locked",
                hint="unlock it (log in to the desktop session, or run "
                "`gnome-keyring-daemon --unlock`) and try again",
            ) from None
        if isinstance(error, keyring.errors.NoKeyringError):
            raise NoKeyringError(
                f"no usable keyring backend: {error}", hint=_GET_A_KEYRING
            ) from None
        detail = _scrub(f"{type(error).__name__}: {error}", secret)
        raise SecretStoreError(
            f"the keyring ({_backend_name(self._backend)}) failed: {detail}",
            hint="check that your keyring service is running and unlocked",
        ) from None


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "••••••••")
    return text[:300]


def _backend_name(backend: Any) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _is_fail(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyring.backends.fail")


def _is_null(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyring.backends.null")


def _is_plaintext(backend: Any) -> bool:
    members = getattr(backend, "backends", None)
    if members is not None:
        return any(_is_plaintext(member) for member in members)
    kind = type(backend)
    if kind.__module__.startswith("keyrings.alt"):
        # keyrings.alt's EncryptedKeyring asks for a password; every other backend there does not
        # encrypt (PlaintextKeyring writes base64 to a file).
        return kind.__name__ != "EncryptedKeyring"
    return "plaintext" in kind.__name__.lower()
