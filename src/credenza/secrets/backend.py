"""What a secret store is to credenza: the Backend interface (read, write, delete entries) and the
registry entry each backend module declares about itself (name, when it is chosen, needs, limits)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: The values of the ``keyring`` setting that choose a backend: "system" (the desktop's, whichever
#: answers) or "file" (credenza's encrypted file). "auto" is the older name of "system".
Setting = Literal["system", "file"]


class Backend(ABC):
    """One keyring credenza can use: Secret Service, the file keyring, or one of keyring's.

    Methods raise credenza errors (``SecretStoreError`` and below) for what the user must act on;
    anything else they raise is reported as a failure of the backend named by ``label``. They may
    block: the store runs each call with a deadline, except ``prepare``.
    """

    #: Names the backend in every message ("Secret Service (org.freedesktop.secrets)").
    label: str = "keyring"
    #: Values longer than this are split into chunks; None means no limit.
    max_chars: int | None = None
    #: ``get_many`` is given at most this many names per call (each call has its own deadline);
    #: None means no limit.
    max_batch: int | None = None
    #: What to do when the backend is locked or does not answer in time.
    unlock_hint: str = "unlock your keyring and try again"
    #: The file that holds every entry, for a backend kept in one (`keyring status` shows it).
    path: Path | None = None

    def prepare(self) -> None:  # noqa: B027 (most backends need no preparation)
        """Once per store, in the caller's thread and without a deadline (it may prompt)."""

    @abstractmethod
    def get(self, name: str) -> str | None: ...

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        """Several entries at once; backends that can batch (Secret Service, file) override it."""
        return {name: self.get(name) for name in names}

    @abstractmethod
    def set(self, name: str, value: str) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the entry; a missing entry is not an error."""


@dataclass(frozen=True)
class Wanted:
    """What the store asks of a backend it opens: its deadline and the user's settings."""

    timeout: float
    allow_plaintext: bool
    warn: Callable[[str], None]
    # The ``keyring`` setting came from the shared config (a teammate's choice), not this person.
    from_shared_config: bool = False


@dataclass(frozen=True)
class BackendEntry:
    """A secret store as its module declares it (``BACKEND``); secrets/backends/__init__.py
    registers the module. Everything that chooses or describes a backend reads these."""

    #: Its name in the registry: its module's ("secretservice", "filekeyring", ...).
    name: str
    #: The ``keyring`` setting that chooses it; None: never a setting's choice (the memory
    #: keyring: the demo, tests, and the fallback of a run whose secrets are in a team store).
    chosen_by: Setting | None
    #: What it is, in the user's words.
    summary: str
    #: What it needs to work.
    needs: str
    #: What it cannot do, and what the store does about it (chunking, batching).
    limits: str
    #: Whether it may be tried here (platform, environment); cheap, never blocks.
    available: Callable[[], bool]
    #: The backend, opened (not prepared); None when it turns out not to be here after all.
    open: Callable[[Wanted], Backend | None]
