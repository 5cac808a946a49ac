"""keyring's backends (macOS Keychain, Windows Credential Manager, KWallet, plugins) as a Backend.

keyring is imported only here and only when such a backend is used: importing it and letting it
discover backends costs about 0.1 s, which the Secret Service and file keyrings never pay.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from credenza.errors import KeyringLockedError, NoKeyringError, UnsafeKeyringError
from credenza.next_steps import step
from credenza.secrets.backend import Backend, BackendEntry, Wanted
from credenza.secrets.names import SERVICE

T = TypeVar("T")

# Windows Credential Manager refuses values over 2,560 bytes (1,280 UTF-16 characters); JWTs are
# often longer. Values above this are split across chunk entries.
CHUNK_CHARS = 1000

#: Where to go when there is no usable keyring: one command, and nothing credenza then refuses.
GET_A_KEYRING = (
    "run `{0}` to keep secrets in an encrypted file protected by a passphrase, or start and "
    "unlock a desktop keyring (GNOME Keyring or KWallet through the Secret Service on Linux, "
    "macOS Keychain, Windows Credential Manager)"
)
GET_A_KEYRING_STEPS = (step("use_keyring", None, None, "file"),)


class OsKeyring(Backend):
    """One keyring backend instance; refuses the fail, null and plaintext ones in ``prepare``."""

    max_chars = CHUNK_CHARS

    def __init__(
        self,
        backend: Any,
        *,
        allow_plaintext: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.allow_plaintext = allow_plaintext
        self._warn = warn or (lambda message: None)
        self.label = backend_name(backend)
        self.unlock_hint = _unlock_hint(backend)

    def prepare(self) -> None:
        members = list(getattr(self.backend, "backends", [self.backend]))
        name = self.label
        if not members or all(_is_fail(member) for member in members):
            raise NoKeyringError(
                f"no usable keyring backend (keyring chose {name})",
                hint=GET_A_KEYRING,
                next_steps=GET_A_KEYRING_STEPS,
            )
        if any(_is_null(member) for member in members):
            raise UnsafeKeyringError(
                f"the keyring backend {name} stores nothing while reporting success; "
                "credenza will not use it",
                hint=GET_A_KEYRING,
                next_steps=GET_A_KEYRING_STEPS,
            )
        if is_plaintext(self.backend):
            if not self.allow_plaintext:
                raise UnsafeKeyringError(
                    f"the keyring backend {name} would store secrets in plaintext; credenza "
                    "refuses unless you opt in with allow_plaintext_keyring = true under [settings]",
                    hint=GET_A_KEYRING,
                    next_steps=GET_A_KEYRING_STEPS,
                )
            # Once per command (per store): every use of credenza says it, without flooding.
            self._warn(
                f"secrets are stored in PLAINTEXT by {name} because plaintext keyrings are "
                "allowed in the settings; anyone who can read your files can read them"
            )

    def get(self, name: str) -> str | None:
        value: str | None = self._translate(self.backend.get_password, SERVICE, name)
        return value

    def set(self, name: str, value: str) -> None:
        self._translate(self.backend.set_password, SERVICE, name, value)

    def delete(self, name: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._translate(self.backend.delete_password, SERVICE, name)

    def _translate(self, function: Callable[..., T], *args: Any) -> T:
        import keyring.errors

        try:
            return function(*args)
        except keyring.errors.KeyringLocked:
            raise KeyringLockedError(
                f"the keyring ({self.label}) is locked", hint=self.unlock_hint
            ) from None
        except keyring.errors.NoKeyringError as error:
            raise NoKeyringError(
                f"no usable keyring backend: {error}",
                hint=GET_A_KEYRING,
                next_steps=GET_A_KEYRING_STEPS,
            ) from None


def backend_name(backend: Any) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _unlock_hint(backend: Any) -> str:
    module = type(backend).__module__
    if module.endswith("SecretService"):
        return (
            "unlock your login keyring (log in to the desktop session, or open Passwords and "
            "Keys) and try again"
        )
    if module.endswith("macOS"):
        return "unlock your login keychain (Keychain Access) and try again"
    if module.endswith("kwallet"):
        return "open KWallet and unlock your wallet, then try again"
    return f"unlock {backend_name(backend)} and try again"


def _is_fail(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyring.backends.fail")


def _is_null(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyring.backends.null")


def is_plaintext(backend: Any) -> bool:
    members = getattr(backend, "backends", None)
    if members is not None:
        return any(is_plaintext(member) for member in members)
    kind = type(backend)
    if kind.__module__.startswith("keyrings.alt"):
        # keyrings.alt's EncryptedKeyring asks for a password; every other backend there does not
        # encrypt (PlaintextKeyring writes base64 to a file).
        return kind.__name__ != "EncryptedKeyring"
    return "plaintext" in kind.__name__.lower()


def chosen_by_user() -> bool:
    """True when keyring was told which backend to use: by the program (``set_keyring``), by
    ``PYTHON_KEYRING_BACKEND`` (other than Secret Service) or by a keyringrc.cfg."""
    core = sys.modules.get("keyring.core")
    if core is not None and getattr(core, "_keyring_backend", None) is not None:
        return True
    named = os.environ.get("PYTHON_KEYRING_BACKEND")
    if named:
        return named != "keyring.backends.SecretService.Keyring"
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.exists(os.path.join(config_home, "python_keyring", "keyringrc.cfg"))


def from_keyring(*, allow_plaintext: bool, warn: Callable[[str], None] | None) -> OsKeyring:
    """keyring's own choice of backend."""
    import keyring

    return OsKeyring(keyring.get_keyring(), allow_plaintext=allow_plaintext, warn=warn)


def _open(wanted: Wanted) -> Backend:
    return from_keyring(allow_plaintext=wanted.allow_plaintext, warn=wanted.warn)


BACKEND = BackendEntry(
    name="oskeyring",
    chosen_by="system",
    summary="keyring's choice: macOS Keychain, Windows Credential Manager, KWallet, plugins",
    needs="a keyring backend that stores and encrypts (fail, null and plaintext ones are "
    "refused unless allow_plaintext_keyring)",
    limits=f"values over {CHUNK_CHARS} characters are stored in chunks (Windows Credential "
    "Manager refuses 2,560 bytes)",
    available=lambda: True,
    open=_open,
)
