"""What the secret store asks of a keyring: read one or many entries, write, delete, say its name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


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
