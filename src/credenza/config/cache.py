"""The parsed-config cache: a large config's typed records as msgpack, keyed by the file's hash.

Parsing TOML is pure Python: 50 ms for 1,000 applications and 0.75 s for 10,000, before the
dashboard can draw anything. Decoding the same records from msgpack takes a tenth of that. The
cache is only ever a faster way to read the file's current bytes: the file is read and hashed
every time, and an entry is used only when it was made from exactly those bytes, by this code
(the schema key below), and is a file of ours that nobody else can write. Anything else, or any
error, means the file is parsed as if there were no cache. The config holds no secret, so
neither does the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import msgspec

from credenza.config.model import CONFIG_VERSION, Config

# Bump when the envelope below changes shape.
_FORMAT = 1
# Below this size parsing costs a few milliseconds: not worth a file in the user's cache dir.
MIN_BYTES = 64 * 1024


class _Envelope(msgspec.Struct, array_like=True):
    schema: str
    digest: str
    config: msgspec.Raw


def schema_key() -> str:
    """Changes whenever the code that turns bytes into a Config may have changed.

    The source of the model and of the store (their validation), with the versions of the
    config format, credenza and msgspec: an entry written by other code is never read back.
    """
    import credenza
    from credenza.config import model, store

    digest = hashlib.sha256()
    for part in (str(_FORMAT), str(CONFIG_VERSION), credenza.__version__, msgspec.__version__):
        digest.update(part.encode() + b"\0")
    for module in (model, store, sys.modules[__name__]):
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


class ParsedConfigCache:
    """One msgpack file per config path, in ``directory`` (by default the user cache dir)."""

    def __init__(self, directory: Path | None = None, *, min_bytes: int = MIN_BYTES) -> None:
        self._directory = directory
        self.min_bytes = min_bytes
        self._schema: str | None = None

    @property
    def directory(self) -> Path:
        if self._directory is None:
            from credenza import locations

            self._directory = Path(locations.config_cache_dir())
        return self._directory

    @property
    def schema(self) -> str:
        if self._schema is None:
            self._schema = schema_key()
        return self._schema

    def entry(self, config_path: Path) -> Path:
        """Where the entry for ``config_path`` lives: one per config, replaced when it changes."""
        name = hashlib.sha256(os.fsencode(config_path.resolve())).hexdigest()[:32]
        return self.directory / f"{name}.msgpack"

    def get(self, config_path: Path, data: bytes, digest: str) -> Config | None:
        """The Config parsed from exactly ``data`` (whose SHA-256 is ``digest``), or None."""
        if len(data) < self.min_bytes:
            return None
        try:
            entry = self.entry(config_path)
            with open(entry, "rb") as handle:
                if not _ours(os.fstat(handle.fileno())):
                    return None
                envelope = msgspec.msgpack.decode(handle.read(), type=_Envelope)
            if envelope.digest != digest or envelope.schema != self.schema:
                return None
            # Decoding into Config runs the model's own checks again.
            return msgspec.msgpack.decode(envelope.config, type=Config)
        except (OSError, ValueError, msgspec.MsgspecError):
            return None

    def put(self, config_path: Path, data: bytes, digest: str, config: Config) -> None:
        """Remember ``config`` as the parse of ``data``; a failure to write only costs speed."""
        if len(data) < self.min_bytes:
            return
        with contextlib.suppress(OSError, ValueError, msgspec.MsgspecError):
            entry = self.entry(config_path)
            _private_directory(entry.parent)
            payload = msgspec.msgpack.encode(
                _Envelope(self.schema, digest, msgspec.Raw(msgspec.msgpack.encode(config)))
            )
            fd, temp = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent)
            try:  # mkstemp makes the file 0600 whatever the umask
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                os.replace(temp, entry)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise


def _private_directory(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(parents=True, mode=0o700)
        directory.chmod(0o700)


def _ours(status: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else: otherwise another user could choose
    what credenza believes the config says."""
    if sys.platform == "win32":
        return True
    return status.st_uid == os.geteuid() and not status.st_mode & 0o022
