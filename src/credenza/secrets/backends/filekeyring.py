"""The built-in encrypted file keyring, for machines with no Secret Service (SSH, containers, WSL).

One file under the user data dir, mode 0600, holds every entry, encrypted with AES-256-GCM under
a key derived from a passphrase with scrypt. The passphrase comes from CREDENZA_KEYRING_PASSPHRASE
or a prompt on the terminal; a running agent may hold the derived key, so that only the command
that starts it pays for the derivation. Writes are atomic (temp file, fsync, rename) under a lock,
so a kill leaves the old or the new file. A wrong passphrase and a damaged file are told apart
(a key check value in the header), and neither ever empties the file.

File layout (JSON): {"credenza-keyring": 1, "kdf": {...scrypt parameters, salt}, "check": ...,
"nonce": ..., "ciphertext": ...}; the header is authenticated as associated data.

Over 400 lines: the file's format, its cryptography, the lock and the passphrase prompt are one
backend, read together when any of them changes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from credenza.children import PASSPHRASE
from credenza.errors import KeyringLockedError, NoKeyringError, SecretStoreError
from credenza.secrets.backend import Backend, BackendEntry, Wanted

PASSPHRASE_VARIABLE = PASSPHRASE
FORMAT = 1
# scrypt at N=2^17, r=8 (128 MiB, about 0.5 s): the cost OWASP recommends for scrypt.
DEFAULT_COST = 2**17
PROMPT_TIMEOUT = 120.0
_CHECK_LABEL = b"credenza-keyring key check"


class WrongPassphraseError(SecretStoreError):
    """The passphrase does not open the file keyring."""


class KeyringFileDamagedError(SecretStoreError):
    """The file keyring cannot be read: truncated, edited or corrupted. It is left untouched."""


def default_path() -> Path:
    """``keyring.enc`` in the user data directory (``~/.local/share/credenza`` on Linux)."""
    from credenza import locations

    return Path(locations.keyring_file())


PassphraseSource = Callable[[str, bool], str]


class FileKeyring(Backend):
    """Every entry in one encrypted file; the key is derived once per process (or per agent)."""

    max_chars = None
    path: Path

    def __init__(
        self,
        path: Path,
        *,
        passphrase: PassphraseSource | None = None,
        cost: int = DEFAULT_COST,
        use_agent: bool = True,
        lock_timeout: float = 10.0,
    ) -> None:
        self.path = path
        self.label = f"encrypted file keyring {path}"
        self.unlock_hint = (
            f"type the passphrase at the prompt, or set {PASSPHRASE_VARIABLE} for commands "
            "run without a terminal"
        )
        self._passphrase = passphrase or ask_passphrase
        self.cost = cost
        self.use_agent = use_agent
        self.lock_timeout = lock_timeout
        self._key: bytes | None = None
        self._header: dict[str, Any] | None = None
        self._cache: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self._thread_lock = threading.Lock()

    @classmethod
    def default(cls) -> FileKeyring:
        return cls(default_path())

    # -- unlocking ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Get the key: from the agent, else from the passphrase (checked against the file)."""
        if self._key is not None:
            return
        document = self._read_document()
        if document is None:
            header = _new_header(self.cost)
            passphrase = self._passphrase(
                f"New passphrase for the credenza file keyring ({self.path}): ", True
            )
            if not passphrase:
                raise NoKeyringError(
                    "no passphrase was given; the file keyring was not created",
                    hint=f"run again and choose a passphrase, or set {PASSPHRASE_VARIABLE}",
                )
            self._key = _derive(passphrase, header)
            header["check"] = _b64(_check(self._key))
            self._header = header
            return
        header = _header_of(document, self.path)
        key_id = _key_id(self.path, header)
        held = _agent_key(key_id) if self.use_agent else None
        if held is not None and hmac.compare_digest(
            _check(held), _unb64(header["check"], self.path)
        ):
            self._key, self._header = held, header
            return
        passphrase = self._passphrase(
            f"Passphrase for the credenza file keyring ({self.path}): ", False
        )
        key = _derive(passphrase, header)
        if not hmac.compare_digest(_check(key), _unb64(header["check"], self.path)):
            source = (
                f"${PASSPHRASE_VARIABLE}"
                if os.environ.get(PASSPHRASE_VARIABLE)
                else "the passphrase"
            )
            raise WrongPassphraseError(
                f"{source} does not open the file keyring {self.path}; nothing was changed",
                hint="check the passphrase and try again",
            )
        self._key, self._header = key, header
        if self.use_agent:
            _agent_hold(key_id, key)

    def create(self) -> None:
        """Write the (empty) file now, so that the next command opens it instead of asking for a
        new passphrase."""
        with self._write():
            pass

    # -- the Backend interface ------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        return self._entries().get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        entries = self._entries()
        return {name: entries.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        with self._write() as entries:
            entries[name] = value

    def delete(self, name: str) -> None:
        if name not in self._entries():
            return
        with self._write() as entries:
            entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries())

    # -- the file -------------------------------------------------------------------------------

    def _entries(self) -> dict[str, str]:
        with self._thread_lock:
            stamp = self._stamp()
            if stamp is None:
                return {}
            if self._cache is not None and self._cache[0] == stamp:
                return dict(self._cache[1])
            document = self._read_document()
            entries = {} if document is None else self._decrypt(document)
            self._cache = (stamp, entries)
            return dict(entries)

    @contextlib.contextmanager
    def _write(self) -> Any:
        import filelock

        if self._key is None or self._header is None:
            raise KeyringLockedError(f"the {self.label} is not unlocked", hint=self.unlock_hint)
        self._ensure_directory()
        lock = filelock.FileLock(
            self.path.with_name(self.path.name + ".lock"), timeout=self.lock_timeout, mode=0o600
        )
        try:
            lock.acquire()
        except filelock.Timeout:
            raise KeyringLockedError(
                f"another credenza process has held the lock of the {self.label} for over "
                f"{self.lock_timeout:g} s",
                hint="wait for it to finish and try again",
            ) from None
        try:
            with self._thread_lock:
                self._remove_stale_temp_files()
                document = self._read_document()
                entries = {} if document is None else self._decrypt(document)
                if document is not None and _header_of(document, self.path) != self._header:
                    # Re-encrypted with another passphrase since this process unlocked it.
                    raise KeyringLockedError(
                        f"the {self.label} was re-keyed by another process",
                        hint="run the command again",
                    )
                yield entries
                data = self._encrypt(entries)
                from credenza.config.files import write_atomic

                write_atomic(self.path, data)
                self._cache = None
        finally:
            lock.release()

    def _decrypt(self, document: dict[str, Any]) -> dict[str, str]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self._key is not None
        header = _header_of(document, self.path)
        if not hmac.compare_digest(_check(self._key), _unb64(header["check"], self.path)):
            raise WrongPassphraseError(
                f"the {self.label} was re-keyed with another passphrase by another process",
                hint="run the command again",
            )
        try:
            plain = AESGCM(self._key).decrypt(
                _unb64(document.get("nonce"), self.path),
                _unb64(document.get("ciphertext"), self.path),
                _aad(header),
            )
            entries = json.loads(plain)["entries"]
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise _damaged(self.path, "its contents fail their integrity check") from None
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise _damaged(self.path, "its contents are not a table of entries")
        return entries

    def _encrypt(self, entries: dict[str, str]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self._key is not None
        assert self._header is not None
        nonce = os.urandom(12)
        plain = json.dumps({"entries": entries}, sort_keys=True).encode()
        ciphertext = AESGCM(self._key).encrypt(nonce, plain, _aad(self._header))
        document = {**self._header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        return json.dumps(document, indent=1).encode() + b"\n"

    def _read_document(self) -> dict[str, Any] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretStoreError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(data)
        except ValueError:
            raise _damaged(self.path, "it is not a credenza keyring file") from None
        if not isinstance(document, dict) or document.get("credenza-keyring") != FORMAT:
            raise _damaged(self.path, "it is not a credenza keyring file (version 1)")
        return document

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _ensure_directory(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            directory.chmod(0o700)

    def _remove_stale_temp_files(self) -> None:
        # Only a writer holding the lock makes temp files: any found under it are left over from
        # a write that was killed.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


# -- the passphrase -------------------------------------------------------------------------------


def ask_passphrase(prompt: str, new: bool, *, timeout: float = PROMPT_TIMEOUT) -> str:
    """CREDENZA_KEYRING_PASSPHRASE, else the terminal (twice for a new keyring)."""
    if (given := os.environ.get(PASSPHRASE_VARIABLE)) is not None:
        return given
    first = read_hidden(prompt, timeout=timeout)
    if new and read_hidden("Repeat it: ", timeout=timeout) != first:
        raise NoKeyringError(
            "the two passphrases differ; the file keyring was not created",
            hint="run the command again",
        )
    return first


def read_hidden(prompt: str, *, timeout: float) -> str:
    """One line from the terminal with echo off, given up after ``timeout`` seconds.

    Echo comes back whatever happens (the answer, a timeout, Ctrl-C, the main thread ending while
    this runs in a worker), unlike a prompt abandoned in a thread at a deadline.
    """
    if sys.platform == "win32":  # pragma: no cover - no /dev/tty there
        import getpass

        return getpass.getpass(prompt)
    import select
    import termios

    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise NoKeyringError(
            "the file keyring needs its passphrase, and there is no terminal to ask it on",
            hint=f"set {PASSPHRASE_VARIABLE} (from your secret manager, not in a script)",
        ) from None
    try:
        old = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        os.write(fd, prompt.encode())
        answer = b""
        try:
            # Inside the try: a Ctrl-C that lands just after echo went off still restores it.
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
            deadline = time.monotonic() + timeout
            main = threading.main_thread()
            while not answer.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not main.is_alive():
                    raise KeyringLockedError(
                        f"no passphrase was typed within {timeout:g} s for the encrypted file "
                        "keyring; nothing was changed",
                        hint=f"run again and type it, or set {PASSPHRASE_VARIABLE}",
                    )
                ready, _, _ = select.select([fd], [], [], min(left, 0.1))
                if ready:
                    chunk = os.read(fd, 1024)
                    if not chunk:
                        break
                    answer += chunk
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            os.write(fd, b"\n")
    finally:
        os.close(fd)
    return answer.decode("utf-8", "replace").rstrip("\r\n")


# -- crypto ---------------------------------------------------------------------------------------


def _new_header(cost: int) -> dict[str, Any]:
    return {
        "credenza-keyring": FORMAT,
        "cipher": "AES-256-GCM",
        "kdf": {"name": "scrypt", "n": cost, "r": 8, "p": 1, "salt": _b64(os.urandom(16))},
        "check": "",
    }


def _header_of(document: dict[str, Any], path: Path) -> dict[str, Any]:
    header = {k: document.get(k) for k in ("credenza-keyring", "cipher", "kdf", "check")}
    kdf = header["kdf"]
    if (
        header["cipher"] != "AES-256-GCM"
        or not isinstance(kdf, dict)
        or kdf.get("name") != "scrypt"
        or not all(isinstance(kdf.get(k), int) for k in ("n", "r", "p"))
        or not isinstance(header["check"], str)
    ):
        raise _damaged(path, "its header is not one credenza writes")
    return header


def _derive(passphrase: str, header: dict[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    kdf = header["kdf"]
    if not (2**10 <= kdf["n"] <= 2**22 and kdf["r"] <= 32 and kdf["p"] <= 16):
        raise KeyringFileDamagedError(
            "the file keyring's key derivation parameters are out of range; it was not opened"
        )
    salt = base64.b64decode(kdf["salt"])
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode("utf-8")
    )


def _check(key: bytes) -> bytes:
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).digest()[:16]


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True).encode()


def _key_id(path: Path, header: dict[str, Any]) -> str:
    return hashlib.sha256(f"{path.resolve()}\n{header['kdf']['salt']}".encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object, path: Path) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise _damaged(path, "a field is not base64") from None


def _damaged(path: Path, why: str) -> KeyringFileDamagedError:
    return KeyringFileDamagedError(
        f"the file keyring {path} is damaged: {why}; credenza left it as it is",
        hint=f"restore it from a backup, or move it away (mv {path} {path}.damaged) and store "
        "your secrets again",
    )


def _agent_key(key_id: str) -> bytes | None:
    from credenza.agent import client as agent

    answer = agent.request({"op": "key-get", "id": key_id}, wait_for_start=False)
    key = answer.get("key") if answer else None
    if not isinstance(key, str):
        return None
    try:
        return base64.b64decode(key)
    except ValueError:
        return None


def _agent_hold(key_id: str, key: bytes) -> None:
    from credenza.agent import client as agent

    agent.request({"op": "key-put", "id": key_id, "key": _b64(key)})


def _open(wanted: Wanted) -> Backend:
    file = FileKeyring.default()
    if wanted.from_shared_config and not file.path.exists():
        # Never create a file keyring (asking a new passphrase) on a teammate's say-so.
        raise NoKeyringError(f"this machine has no encrypted file keyring ({file.path})")
    return file


BACKEND = BackendEntry(
    name="filekeyring",
    chosen_by="file",
    summary="credenza's encrypted file keyring (AES-256-GCM, a key derived with scrypt)",
    needs=f"a passphrase: a prompt on the terminal or ${PASSPHRASE_VARIABLE}; a running agent "
    "keeps the derived key",
    limits="no size limit; one file, rewritten atomically under a lock at every write",
    available=lambda: True,
    open=_open,
)
