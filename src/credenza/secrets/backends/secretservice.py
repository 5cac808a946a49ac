"""The Secret Service (GNOME Keyring, KWallet's ksecretd, KeePassXC) over one D-Bus session.

keyring's SecretService backend opens a new D-Bus connection and negotiates a new encrypted
session for every call: 15–22 ms a read. Here a process opens one connection and one session,
checks and unlocks the collection once, and reads many entries with one search per name (sent
together) and one GetSecrets. Items keep keyring's attributes (service, username, application),
so entries written by earlier versions, or by `keyring set credenza …`, stay readable both ways.

Every D-Bus call has a deadline: an unlock prompt nobody answers is dismissed when it runs out.
Over 400 lines: the Secret Service protocol (session, encryption, unlock, prompts, batched
searches) is one backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from credenza.errors import KeyringLockedError, NoKeyringError, SecretStoreError
from credenza.next_steps import step
from credenza.secrets.backend import Backend, BackendEntry, Wanted
from credenza.secrets.names import SERVICE

if TYPE_CHECKING:
    from jeepney import Message
    from jeepney.io.blocking import DBusConnection

T = TypeVar("T")
BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
_PREFIX = "org.freedesktop.Secret."
_DEFAULT_ALIAS = "default"
# What keyring writes as the application attribute; kept so both read each other's entries.
APPLICATION = "Python keyring library"
_DH = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
# RFC 2409's 1024-bit MODP group, which the Secret Service specification names for this algorithm.
_DH_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)

_shared: dict[tuple[str, int], SecretServiceKeyring] = {}
_shared_lock = threading.Lock()


class SecretServiceKeyring(Backend):
    """One connection, one session, one unlock per process (see ``shared``)."""

    label = "Secret Service (org.freedesktop.secrets)"
    max_chars = None
    # gnome-keyring scans its whole collection for every search (5 ms a name with 15,000
    # items): 10,000 names in one call took a minute, past any deadline, and read as "locked".
    # In calls of 100 a stuck keyring is still caught within the deadline.
    max_batch = 100
    unlock_hint = (
        "unlock your login keyring (log in to the desktop session, or open Passwords and Keys) "
        "and try again"
    )

    def __init__(self, connection: DBusConnection, *, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        # The jeepney connection is not thread-safe; the dashboard reads from worker threads.
        self._lock = threading.Lock()
        self._session: str | None = None
        self._aes_key: bytes | None = None
        self._collection: str | None = None
        self._unlocked = False
        self.sessions_opened = 0

    # -- finding it -----------------------------------------------------------------------------

    @classmethod
    def shared(cls, timeout: float) -> SecretServiceKeyring | None:
        """This process's Secret Service, connected on first use; None when there is none.

        The connection is remembered per bus address and process, so every store, command and
        worker thread shares one D-Bus session.
        """
        address = session_bus_address()
        if address is None:
            return None
        key = (address, os.getpid())
        with _shared_lock:
            found = _shared.get(key)
            if found is None:
                found = cls.connect(address, timeout=timeout)
                if found is None:
                    return None
                _shared[key] = found
            found.timeout = timeout
            return found

    @classmethod
    def connect(cls, address: str, *, timeout: float) -> SecretServiceKeyring | None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        try:
            connection = open_dbus_connection(address, auth_timeout=min(timeout, 2.0))
        except (OSError, ValueError, TimeoutError, KeyError):
            return None
        bus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
        try:
            (owned,) = _unwrap(
                connection.send_and_get_reply(
                    new_method_call(bus, "NameHasOwner", "s", (BUS_NAME,)), timeout=timeout
                )
            )
            if not owned:
                (activatable,) = _unwrap(
                    connection.send_and_get_reply(
                        new_method_call(bus, "ListActivatableNames"), timeout=timeout
                    )
                )
                owned = BUS_NAME in activatable
        except (OSError, TimeoutError, _DBusError):
            owned = False
        if not owned:
            connection.close()
            return None
        return cls(connection, timeout=timeout)

    def close(self) -> None:
        self.connection.close()

    # -- the Backend interface ------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        return self.get_many([name])[name]

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        if not names:
            return {}
        return self._operate(lambda deadline: self._get_many(names, deadline))

    def set(self, name: str, value: str) -> None:
        self._operate(lambda deadline: self._set(name, value, deadline))

    def delete(self, name: str) -> None:
        self._operate(lambda deadline: self._delete(name, deadline))

    def _operate(self, operation: Callable[[float], T]) -> T:
        """Under the lock, with a deadline; once more on a new session if the service restarted
        (a long-running dashboard outlives a gnome-keyring --replace or a new login)."""
        with self._locked() as deadline:
            for attempt in (1, 2):
                try:
                    self._ready(deadline)
                    return operation(deadline)
                except _DBusError as error:
                    if attempt == 2 or not _is_stale(error):
                        raise
                    self._session = self._collection = None
                    self._unlocked = False
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_many(self, names: Sequence[str], deadline: float) -> dict[str, str | None]:
        found: dict[str, str | None] = dict.fromkeys(names)
        collection = self._collection_path(deadline)
        replies = self._pipeline(
            [
                (collection, "Collection", "SearchItems", "a{ss}", (_attributes(name),))
                for name in names
            ],
            deadline,
        )
        paths: dict[str, str] = {}
        for name, reply in zip(names, replies, strict=True):
            (items,) = reply
            if items:
                # keyring returns the first match too (duplicates come from other writers).
                paths[items[0]] = name
        if paths:
            secrets = self._secrets(list(paths), deadline)
            for path, name in paths.items():
                found[name] = secrets.get(path)
        return found

    def _set(self, name: str, value: str, deadline: float) -> None:
        collection = self._collection_path(deadline)
        properties = {
            _PREFIX + "Item.Label": ("s", f"Password for '{name}' on '{SERVICE}'"),
            _PREFIX + "Item.Attributes": (
                "a{ss}",
                {**_attributes(name), "application": APPLICATION},
            ),
        }
        _, prompt = self._call(
            collection,
            "Collection",
            "CreateItem",
            "a{sv}(oayays)b",
            (properties, self._encrypt(value.encode()), True),
            deadline,
        )
        if prompt != "/":
            self._prompt(prompt, deadline)

    def _delete(self, name: str, deadline: float) -> None:
        collection = self._collection_path(deadline)
        (items,) = self._call(
            collection, "Collection", "SearchItems", "a{ss}", (_attributes(name),), deadline
        )
        for item in items:
            (prompt,) = self._call(item, "Item", "Delete", "", (), deadline)
            if prompt != "/":
                self._prompt(prompt, deadline)

    # -- session, collection, unlock ------------------------------------------------------------

    def _locked(self) -> _Deadline:
        return _Deadline(self._lock, self.timeout, self.label, self.unlock_hint)

    def _ready(self, deadline: float) -> None:
        if self._session is None:
            self._open_session(deadline)
        if not self._unlocked:
            self._unlock(deadline)

    def _open_session(self, deadline: float) -> None:
        private = int.from_bytes(os.urandom(128), "big")
        public = pow(2, private, _DH_PRIME)
        try:
            output, path = self._call(
                SERVICE_PATH,
                "Service",
                "OpenSession",
                "sv",
                (_DH, ("ay", public.to_bytes(128, "big"))),
                deadline,
            )
        except _DBusError as error:
            if not error.name.endswith("NotSupported"):
                raise
            # A service without encrypted sessions: the value crosses the bus in the clear
            # (to a per-user daemon), as libsecret then does too.
            _, path = self._call(
                SERVICE_PATH, "Service", "OpenSession", "sv", ("plain", ("s", "")), deadline
            )
            self._aes_key = None
        else:
            shared = pow(int.from_bytes(output[1], "big"), private, _DH_PRIME)
            # HKDF-SHA256 with a zero salt and no info, first 16 bytes: the specification's KDF.
            prk = hmac.new(b"\0" * 32, shared.to_bytes(128, "big"), hashlib.sha256).digest()
            self._aes_key = hmac.new(prk, b"\x01", hashlib.sha256).digest()[:16]
        self._session = path
        self.sessions_opened += 1

    def _collection_path(self, deadline: float) -> str:
        if self._collection is None:
            (path,) = self._call(
                SERVICE_PATH, "Service", "ReadAlias", "s", (_DEFAULT_ALIAS,), deadline
            )
            if path == "/":
                path = self._create_default_collection(deadline)
            self._collection = path
        return self._collection

    def _create_default_collection(self, deadline: float) -> str:
        properties = {_PREFIX + "Collection.Label": ("s", "Default keyring")}
        path, prompt = self._call(
            SERVICE_PATH,
            "Service",
            "CreateCollection",
            "a{sv}s",
            (properties, _DEFAULT_ALIAS),
            deadline,
        )
        if path == "/":
            path = self._prompt(prompt, deadline)
        return str(path)

    def _unlock(self, deadline: float) -> None:
        collection = self._collection_path(deadline)
        ((_, locked),) = self._call(
            collection,
            "Properties",
            "Get",
            "ss",
            (_PREFIX + "Collection", "Locked"),
            deadline,
            interface="org.freedesktop.DBus.Properties",
        )
        if locked:
            _, prompt = self._call(
                SERVICE_PATH, "Service", "Unlock", "ao", ([collection],), deadline
            )
            if prompt != "/":
                self._prompt(prompt, deadline)
        self._unlocked = True

    def _prompt(self, prompt: str, deadline: float) -> Any:
        """Show an unlock (or create) prompt; dismiss it when the deadline runs out."""
        from jeepney import MatchRule, MessageType
        from jeepney.bus_messages import message_bus

        rule = MatchRule(
            type=MessageType.signal,
            interface=_PREFIX + "Prompt",
            member="Completed",
            path=prompt,
        )
        _unwrap(
            self.connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=_left(deadline))
        )
        with self.connection.filter(rule) as completed:
            self._call(prompt, "Prompt", "Prompt", "s", ("",), deadline)
            try:
                message = self.connection.recv_until_filtered(completed, timeout=_left(deadline))
            except TimeoutError:
                with contextlib.suppress(SecretStoreError, _DBusError, OSError, TimeoutError):
                    self._call(prompt, "Prompt", "Dismiss", "", (), time.monotonic() + 1.0)
                raise
        dismissed, (_, result) = message.body
        if dismissed:
            raise KeyringLockedError(
                f"the keyring ({self.label}) is locked and the unlock prompt was dismissed",
                hint=self.unlock_hint,
            )
        return result

    # -- values -----------------------------------------------------------------------------------

    def _secrets(self, paths: list[str], deadline: float) -> dict[str, str]:
        (found,) = self._call(
            SERVICE_PATH, "Service", "GetSecrets", "aoo", (paths, self._session), deadline
        )
        if len(found) < len(paths):
            # Some items are locked (in another collection, or locked since): unlock them once.
            locked = [path for path in paths if path not in found]
            _, prompt = self._call(SERVICE_PATH, "Service", "Unlock", "ao", (locked,), deadline)
            if prompt != "/":
                self._prompt(prompt, deadline)
            (more,) = self._call(
                SERVICE_PATH, "Service", "GetSecrets", "aoo", (locked, self._session), deadline
            )
            found = {**found, **more}
        return {
            path: self._decrypt(parameters, value)
            for path, (_, parameters, value, _) in found.items()
        }

    def _encrypt(self, value: bytes) -> tuple[str | None, bytes, bytes, str]:
        if self._aes_key is None:
            return (self._session, b"", value, "text/plain")
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        padder = padding.PKCS7(128).padder()
        padded = padder.update(value) + padder.finalize()
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(iv)).encryptor()
        return (self._session, iv, encryptor.update(padded) + encryptor.finalize(), "text/plain")

    def _decrypt(self, iv: bytes, value: bytes) -> str:
        if self._aes_key is None:
            return value.decode("utf-8")
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        decryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(value) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")

    # -- D-Bus ----------------------------------------------------------------------------------

    def _message(
        self,
        path: str,
        kind: str,
        method: str,
        signature: str,
        body: tuple[Any, ...],
        interface: str | None = None,
    ) -> Message:
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(path, BUS_NAME, interface or _PREFIX + kind)
        return new_method_call(address, method, signature or None, body)

    def _call(
        self,
        path: str,
        kind: str,
        method: str,
        signature: str,
        body: tuple[Any, ...],
        deadline: float,
        *,
        interface: str | None = None,
    ) -> tuple[Any, ...]:
        message = self._message(path, kind, method, signature, body, interface)
        reply = self.connection.send_and_get_reply(message, timeout=_left(deadline))
        return self._checked(reply)

    def _pipeline(
        self, calls: list[tuple[str, str, str, str, tuple[Any, ...]]], deadline: float
    ) -> list[tuple[Any, ...]]:
        """Send every call, then collect the replies: one round trip's latency for all of them."""
        from jeepney.low_level import HeaderFields

        serials: dict[int, int] = {}
        for index, call in enumerate(calls):
            serial = next(self.connection.outgoing_serial)
            self.connection.send(self._message(*call), serial=serial)
            serials[serial] = index
        replies: list[Any] = [None] * len(calls)
        waiting = len(calls)
        while waiting:
            message = self.connection.receive(timeout=_left(deadline))
            index = serials.pop(message.header.fields.get(HeaderFields.reply_serial, -1), -1)
            if index >= 0:
                replies[index] = message
                waiting -= 1
        return [self._checked(reply) for reply in replies]

    def _checked(self, reply: Message) -> tuple[Any, ...]:
        try:
            return _unwrap(reply)
        except _DBusError as error:
            if error.name.endswith("IsLocked"):
                self._unlocked = False  # locked since: unlock again on the next call
                raise KeyringLockedError(
                    f"the keyring ({self.label}) is locked", hint=self.unlock_hint
                ) from None
            if error.name in (
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NoReply",
                "org.freedesktop.DBus.Error.Spawn.ChildExited",
            ):
                raise NoKeyringError(
                    f"the keyring ({self.label}) is not running: {error.name}",
                    hint="start your desktop keyring, or run `{0}`",
                    next_steps=(step("use_keyring", None, None, "file"),),
                ) from None
            raise


class _DBusError(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name


def _is_stale(error: _DBusError) -> bool:
    return error.name.endswith(("NoSession", "UnknownObject", "NoSuchObject"))


def _unwrap(reply: Message) -> tuple[Any, ...]:
    from jeepney import MessageType
    from jeepney.low_level import HeaderFields

    if reply.header.message_type == MessageType.error:
        name = str(reply.header.fields.get(HeaderFields.error_name, "unknown"))
        detail = str(reply.body[0]) if reply.body else ""
        raise _DBusError(name, detail[:200])
    return tuple(reply.body)


class _Deadline:
    """Hold the connection's lock for one operation; yields the operation's monotonic deadline."""

    def __init__(self, lock: threading.Lock, timeout: float, label: str, hint: str) -> None:
        self.lock = lock
        self.timeout = timeout
        self.label = label
        self.hint = hint

    def __enter__(self) -> float:
        deadline = time.monotonic() + self.timeout
        if not self.lock.acquire(timeout=self.timeout):
            raise _timed_out(self.label, self.timeout, self.hint)
        return deadline

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.lock.release()
        if isinstance(error, TimeoutError):
            raise _timed_out(self.label, self.timeout, self.hint) from None


def _timed_out(label: str, timeout: float, hint: str) -> KeyringLockedError:
    return KeyringLockedError(
        f"the keyring ({label}) did not answer within {timeout:g} s; it is probably locked "
        "and waiting for an unlock prompt",
        hint=hint,
    )


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _attributes(name: str) -> dict[str, str]:
    return {"username": name, "service": SERVICE}


def session_bus_address() -> str | None:
    """$DBUS_SESSION_BUS_ADDRESS, else the systemd user bus in $XDG_RUNTIME_DIR (SSH logins)."""
    if address := os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


def _available() -> bool:
    # Where keyring was told which backend to use, that choice stands (oskeyring takes it).
    from credenza.secrets.backends.oskeyring import chosen_by_user

    return sys.platform.startswith(("linux", "freebsd")) and not chosen_by_user()


def _open(wanted: Wanted) -> Backend | None:
    return SecretServiceKeyring.shared(wanted.timeout)


BACKEND = BackendEntry(
    name="secretservice",
    chosen_by="system",
    summary="the Secret Service over D-Bus (GNOME Keyring, KWallet's ksecretd, KeePassXC)",
    needs="a D-Bus session bus where org.freedesktop.secrets answers or can be started",
    limits=f"no size limit; names are looked up in calls of {SecretServiceKeyring.max_batch}",
    available=_available,
    open=_open,
)
