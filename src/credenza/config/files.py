"""The file helpers every module that touches a file imports: atomic writes, private directories,
the cross-process lock, and the one way a file the config names is read.

A file the config names (an error table, a CA bundle, a certificate, an import) is read as a
regular file only, with a size cap, a relative path taken from the config file's directory. A
config file is shared (a team's repository), so a path in it is another person's choice: a FIFO
there would hang every command that reads it, /dev/zero would grow without bound, and a relative
path would mean a different file in every directory credenza is run from.

Where files live is not decided here (the per-OS directories have their own module).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from credenza.errors import (
    ConfigError,
    ConfigLockError,
    ConfigWriteError,
    CredenzaError,
    NotFoundError,
)
from credenza.next_steps import NextStep

KIB = 1024
MIB = 1024 * KIB
# Per kind of file: an error-code table and a certificate are a few KiB; the system's CA bundle
# is about 200 KiB, a company's own rarely more than a few hundred.
ERRORS_FILE_CAP = 1 * MIB
CA_BUNDLE_CAP = 4 * MIB
CERTIFICATE_CAP = 1 * MIB

_READ_FLAGS = (
    os.O_RDONLY
    | os.O_NONBLOCK  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)  # a terminal device never becomes the controlling one
    | getattr(os, "O_CLOEXEC", 0)
)


def resolve_path(path: str, base: str | None) -> str:
    """``path`` with ``~`` expanded; a relative one is taken from ``base`` (the config file's
    directory), not from wherever credenza happens to run."""
    expanded = os.path.expanduser(path)
    if base is not None and not os.path.isabs(expanded):
        return os.path.join(base, expanded)
    return expanded


def config_directory(config_path: str | os.PathLike[str]) -> str:
    """The directory relative paths in a config file are taken from: the real file's (a config
    symlinked from a team's repository names the files next to it there)."""
    return os.path.dirname(os.path.realpath(config_path))


def describe_size(size: int) -> str:
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size // KIB} KiB"


def read_regular(
    path: str,
    *,
    cap: int,
    what: str,
    hint: str,
    base: str | None = None,
    error: type[CredenzaError] = ConfigError,
    next_steps: tuple[NextStep, ...] = (),
) -> bytes:
    """The bytes of the regular file at ``path`` (relative to ``base``), at most ``cap`` of them.

    Anything else is ``error`` (exit 2) naming ``what`` (the key path and the file): a missing
    file, a FIFO, a device, a directory, or a file larger than ``cap``. Nothing here blocks or
    reads past ``cap + 1`` bytes, whatever the path points at.
    """
    resolved = resolve_path(path, base)
    try:
        fd = os.open(resolved, _READ_FLAGS)
    except FileNotFoundError:
        kind = NotFoundError if error is not ConfigError else error
        raise kind(f"{what}: no such file", hint=hint, next_steps=next_steps) from None
    except OSError as exc:
        raise error(
            f"{what} cannot be read ({exc.strerror or exc})", hint=hint, next_steps=next_steps
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(
                f"{what} is not a regular file ({_kind(info.st_mode)})",
                hint=hint,
                next_steps=next_steps,
            )
        if info.st_size > cap:
            raise error(
                f"{what} is larger than {describe_size(cap)}", hint=hint, next_steps=next_steps
            )
        # A regular file may still grow while it is read: never more than cap + 1 bytes.
        chunks: list[bytes] = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 256 * KIB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise error(
                f"{what} is larger than {describe_size(cap)}", hint=hint, next_steps=next_steps
            )
        return b"".join(chunks)
    except OSError as exc:
        raise error(
            f"{what} cannot be read ({exc.strerror or exc})", hint=hint, next_steps=next_steps
        ) from None
    finally:
        os.close(fd)


def regular_file_stamp(
    path: str,
    *,
    what: str,
    hint: str,
    base: str | None = None,
    next_steps: tuple[NextStep, ...] = (),
) -> tuple[int, ...]:
    """What tells two versions of a regular file apart (for a parsed copy kept in memory), from a
    ``stat`` that never blocks; raises ConfigError for a missing or non-regular file."""
    resolved = resolve_path(path, base)
    try:
        info = os.stat(resolved)
    except OSError as exc:
        detail = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror or exc
        raise ConfigError(f"{what}: {detail}", hint=hint, next_steps=next_steps) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{what} is not a regular file ({_kind(info.st_mode)})",
            hint=hint,
            next_steps=next_steps,
        )
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


# -- writing --------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, replace, fsync the directory."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(path.parent)
    except OSError as exc:
        raise ConfigWriteError(
            f"could not save {path}: {exc.strerror or exc}; the file was left as it was",
            hint="free some disk space or fix the permissions, then try again",
        ) from None


def private_directory(directory: Path) -> None:
    """``directory`` and its parents, mode 0700 (an existing one is made 0700 too)."""
    try:
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    except OSError as exc:
        raise ConfigWriteError(
            f"cannot create {directory}: {exc.strerror}; nothing was changed"
        ) from None


@contextlib.contextmanager
def locked(path: Path, timeout: float) -> Iterator[None]:
    """Hold the cross-process lock file ``path`` (0600, in a 0700 directory) for the block;
    ConfigLockError when another process holds it for over ``timeout`` seconds."""
    private_directory(path.parent)
    try:
        release = hold_lock(path, timeout)
    except TimeoutError:
        raise ConfigLockError(
            f"another credenza process has held {path} for over {timeout:g} s; nothing was changed",
            hint="wait for it to finish, or remove the lock file if no credenza is running",
        ) from None
    except OSError as exc:
        raise ConfigWriteError(f"cannot lock {path}: {exc.strerror}; nothing was changed") from None
    try:
        yield
    finally:
        release()


def hold_lock(path: Path, timeout: float, *, soft_fallback: bool = True) -> Callable[[], None]:
    """Take the flock(2) on ``path`` that filelock.FileLock takes (the two exclude each other),
    without importing filelock (~10 ms with logging, on every token call that caches); the
    function that lets it go, from any thread. TimeoutError past ``timeout``; OSError when the
    file cannot be opened. Where the file system has no flock, filelock's soft lock (a file
    that exists while held) unless ``soft_fallback`` is off: then the OSError."""
    try:
        fd = _flock(path, timeout)
    except TimeoutError:
        raise
    except OSError as exc:
        if not soft_fallback or exc.errno not in _NO_FLOCK:
            raise
        import filelock

        lock = filelock.FileLock(path, timeout=timeout, mode=0o600, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise TimeoutError from None
        return lock.release

    def release() -> None:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return release


# flock(2) not implemented here (some network and FUSE file systems), or no fcntl (Windows).
_NO_FLOCK = frozenset({errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})
_POLL = 0.05  # as filelock polls
_HELD = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})


def _flock(path: Path, timeout: float) -> int:
    """``hold_lock``'s flock: the file opened without truncating it (a waiter must not empty the
    holder's) nor following a link, made 0600 by whoever creates it, retried when it was
    unlinked between open and lock. The descriptor, locked; TimeoutError past ``timeout``."""
    try:
        import fcntl
    except ImportError:
        raise OSError(errno.ENOSYS, "no fcntl") from None
    import time

    # O_NONBLOCK as filelock opens it: a lease on the file cannot hold the open past the timeout.
    flags = (
        os.O_RDWR
        | os.O_CREAT
        | os.O_NONBLOCK
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    ends = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, flags | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)  # whatever the umask
            except PermissionError:
                pass
            except BaseException:
                os.close(fd)
                raise
        except FileExistsError:
            try:
                fd = os.open(path, flags, 0o600)
            except FileNotFoundError:
                continue  # removed since: create it again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            # Held by another: EWOULDBLOCK; some file systems say EACCES (as filelock reads it).
            if exc.errno not in _HELD:
                raise
        except BaseException:
            os.close(fd)
            raise
        else:
            if os.fstat(fd).st_nlink > 0:
                return fd
            fcntl.flock(fd, fcntl.LOCK_UN)  # a name no longer: try the one there now
            os.close(fd)
            continue
        if time.monotonic() >= ends:
            raise TimeoutError
        time.sleep(_POLL)


def _fsync_directory(directory: Path) -> None:
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
