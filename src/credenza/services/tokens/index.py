"""The token index: what is cached for one workspace in one keyring, without any token value.

Listing tokens reads this, never the keyring: on gnome-keyring every read searches the whole
collection, so 5,000 cached tokens took a minute to list. The index holds, per token, its
credential fingerprint, application, environment, requested and granted scopes, kind, issue and
expiry times; the value stays in the keyring, read only when a token is used, revealed or copied.

It lives beside the keyring it describes: a file in this person's state directory, named by the
workspace id and the keyring, written atomically under a lock (every process of the person reads
and changes the one file); for a keyring that lives in memory (the demo, tests), in memory with
it, shared by every store over that keyring. It is written before the keyring entries it lists
are (an entry it does not list could never be removed) and emptied before they are deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credenza.errors import ConfigWriteError
from credenza.services.tokens.records import TokenEntry

if TYPE_CHECKING:
    from credenza.services.context import Context

Entries = dict[str, TokenEntry]
# The file's records as they are (fingerprint → record): changed without parsing each entry.
Records = dict[str, dict[str, Any]]

# A memory keyring's indexes, by the keyring object: they go when it goes.
_in_memory: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_memory_lock = threading.RLock()


class TokenIndex:
    """The index of the context's workspace in its keyring (both asked at each call)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._read: tuple[Any, Entries | None] | None = None  # (what was read, its entries)

    def entries(self) -> Entries | None:
        """Every entry, fingerprint → entry; None when this workspace has no index yet."""
        stamp, text = self._stamp_and_text()
        if self._read is not None and stamp is not None and self._read[0] == stamp:
            return self._read[1]
        found = None if text is None else _parse(text)
        if stamp is not None:
            self._read = (stamp, found)
        return found

    def lists(self, key: str) -> bool | None:
        """Whether the index lists ``key`` (None: no index yet), without parsing every entry."""
        stamp, text = self._stamp_and_text()
        if text is None:
            return None
        if self._read is not None and stamp is not None and self._read[0] == stamp:
            return key in (self._read[1] or {})
        return key in _records(text)

    def change(self, edit: Callable[[Records], None], migrate: Callable[[], Entries]) -> None:
        """Apply ``edit`` to the records as they are now, under the index's lock, and write them
        (``edit`` replaces or removes records, never changes one in place). With no index yet,
        ``migrate`` gives the first entries (once, under the same lock)."""
        with self._locked():
            _, text = self._stamp_and_text(whole=True)
            if text is None:
                records = {key: entry.to_dict() for key, entry in migrate().items()}
            else:
                records = _records(text)
            before = dict(records)
            edit(records)
            if text is None or records != before:
                self._write(_render(records))

    # -- where it lives -------------------------------------------------------------------------

    def _keyring(self) -> Any | None:
        """The memory keyring this index lives in, or None: it is a file."""
        # Not imported to ask (it imports keyring, ~20 ms): a memory keyring exists only once
        # its module has been imported.
        memory = sys.modules.get("credenza.secrets.backends.memory")
        if memory is None:
            return None
        backend = self._context.secrets.backend
        inner = getattr(backend, "backend", backend)
        return inner if isinstance(inner, memory.MemoryKeyring) else None

    def path(self) -> Path:
        """This workspace's index file for this kind of keyring, in the state directory."""
        from credenza import locations

        # The file keyring and the system's are two stores: an index each. (A file keyring
        # exists only once its module has been imported: not imported here to ask.)
        files = sys.modules.get("credenza.secrets.backends.filekeyring")
        file_kind = files is not None and isinstance(
            self._context.secrets.backend, files.FileKeyring
        )
        kind = "file" if file_kind else "system"
        state = Path(locations.user_dir("state"))
        return state / "token-index" / f"{self._context.workspace_id}.{kind}.json"

    def _stamp_and_text(self, *, whole: bool = False) -> tuple[Any, str | None]:
        """The file's identity and its text ("" when unchanged since read, unless ``whole``)."""
        keyring = self._keyring()
        if keyring is not None:
            with _memory_lock:
                text = _in_memory.get(keyring, {}).get(self._context.workspace_id)
            return None, text  # no stamp: parsed again (a memory index is small and fast)
        path = self.path()
        try:
            with path.open("rb") as file:
                status = os.fstat(file.fileno())
                stamp = (str(path), status.st_ino, status.st_mtime_ns, status.st_size)
                if not whole and self._read is not None and self._read[0] == stamp:
                    return stamp, ""  # unchanged since read: the caller uses what it parsed
                return stamp, file.read().decode("utf-8")
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError):
            return None, ""  # unreadable: as empty (tokens are fetched again)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._keyring() is not None:
            with _memory_lock:
                yield
            return
        from credenza.config.files import locked

        path = self.path()
        with locked(path.with_name(path.name + ".lock"), timeout=10):
            yield

    def _write(self, text: str) -> None:
        keyring = self._keyring()
        if keyring is not None:
            with _memory_lock:
                _in_memory.setdefault(keyring, {})[self._context.workspace_id] = text
            return
        from credenza.config.files import write_atomic

        path = self.path()
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise ConfigWriteError(f"cannot write {path}: {exc.strerror}") from None
        self._read = None


def _records(text: str) -> Records:
    """The records of an index's text as they are; a damaged index has none."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    records = data.get("tokens", {}) if isinstance(data, dict) else {}
    if not isinstance(records, dict):
        return {}
    return {str(key): value for key, value in records.items() if isinstance(value, dict)}


def _parse(text: str) -> Entries:
    """The entries of an index's text; a damaged one (or entry) lists nothing: its tokens are
    fetched again, and the keyring entries are still removed by the credential's next change."""
    entries: Entries = {}
    for key, record in _records(text).items():
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            entries[key] = TokenEntry.from_dict(key, record)
    return entries


def _render(records: Records) -> str:
    return json.dumps({"v": 1, "tokens": dict(sorted(records.items()))}, separators=(",", ":"))
