"""One writer per credential: the cross-process lock around every read-modify-write of one
application environment's keyring entries (a sign-in's refresh, a secret set, a reset)."""

from __future__ import annotations

import contextvars
import hashlib
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from credenza.config.files import hold_lock, private_directory
from credenza.errors import ConfigWriteError, CredentialLockError
from credenza.services.context import Context, in_thread

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable


# The locks this line of work holds: a call made while holding one (in the same task, or in a
# thread it hands work to, which inherits the context) passes straight through instead of
# waiting for itself. Other tasks and threads (two dashboard workers) still wait their turn.
_held: contextvars.ContextVar[frozenset[Path]] = contextvars.ContextVar(
    "credenza_credential_locks", default=frozenset()
)


def credential_lock(context: Context, app_id: str, environment: str) -> CredentialLock:
    """The lock of one credential: (workspace, application, environment).

    The one place the workspace's identity enters the lock's key: every caller gets its lock
    from here. Keyed by the workspace id, as its keyring entries are: a config moved or renamed
    keeps its lock, two configs created apart never share one, and a copy of a config (same id,
    same entries) shares the lock with the entries it shares.
    """
    key = "\0".join((context.workspace_id, app_id, environment))
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return CredentialLock(
        lock_directory() / f"{name}.lock", f"{app_id}/{environment}", wait_limit(context)
    )


def lock_directory() -> Path:
    """The user's runtime dir (a tmpfs emptied at logout), else their state dir: never beside
    the config, which a team may keep in git."""
    from credenza import locations

    return Path(locations.credential_lock_dir())


def wait_limit(context: Context) -> float:
    """How long a writer waits for another: longer than the other may hold the lock (the HTTP
    calls within their deadline: a reset, its check and a discovery; a refresh and its id_token's
    keys)."""
    settings = context.http_settings
    deadline = settings.deadline if settings is not None else context.config.settings.deadline
    return 3 * deadline + 10


class CredentialLock:
    """Held with ``with`` (blocking code) or ``async with`` (the wait runs in a thread, so the
    dashboard's event loop never blocks on another process). An flock on a 0600 file in a 0700
    directory: the kernel releases it when its holder dies, so a killed process blocks nobody.
    Re-entrant along one line of work (see ``_held``)."""

    def __init__(self, path: Path, label: str, timeout: float) -> None:
        self.path = path
        self.label = label
        self.timeout = timeout
        self._release: Callable[[], None] | None = None
        self._entered: contextvars.Token[frozenset[Path]] | None = None

    @property
    def held_here(self) -> bool:
        """Held already by this task or the one that handed this thread its work."""
        return self.path in _held.get()

    def acquire(self) -> None:
        private_directory(self.path.parent)
        # One descriptor per holding, not thread-local: each waiter has its own (two dashboard
        # workers exclude each other as two processes do), and the release may come from another
        # thread than the wait. No soft-lock fallback: a lock file left by a dead process would
        # block every later one.
        try:
            release = hold_lock(self.path, self.timeout, soft_fallback=False)
        except TimeoutError:
            raise CredentialLockError(
                f"another credenza process has been changing {self.label} for over "
                f"{self.timeout:g} s; nothing was done",
                hint="wait for it to finish (a refresh, a secret set or a reset), then run this "
                "again",
            ) from None
        except OSError as exc:
            raise ConfigWriteError(
                f"cannot lock {self.path}: {exc.strerror}; nothing was changed"
            ) from None
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> CredentialLock:
        if not self.held_here:
            self.acquire()
            self._entered = _held.set(_held.get() | {self.path})
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._leave()

    async def __aenter__(self) -> CredentialLock:
        import asyncio

        if self.held_here:
            return self
        waiting = asyncio.ensure_future(in_thread(self.acquire))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # Cancelled while waiting (Escape in the dashboard): the thread still gets the lock
            # in the end, and lets it go at once instead of holding it for the process's life.
            waiting.add_done_callback(self._release_if_acquired)
            raise
        self._entered = _held.set(_held.get() | {self.path})
        return self

    def _release_if_acquired(self, waited: asyncio.Future[None]) -> None:
        if not waited.cancelled() and waited.exception() is None:
            self.release()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._leave()

    def _leave(self) -> None:
        entered, self._entered = self._entered, None
        if entered is not None:  # not a pass-through
            _held.reset(entered)
            self.release()
