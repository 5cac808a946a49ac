"""An in-memory keyring backend: for the demo workspace and tests, never for real secrets; and the
fallback of a run whose secrets are in a team store on a machine without a keyring.

Imports keyring (about 0.1 s): the registry imports this module only when it is used."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from credenza.secrets.backend import Backend, BackendEntry, Wanted


class MemoryKeyring(KeyringBackend):
    """Holds entries in this process only; they vanish when it exits. Selected explicitly."""

    priority = 0  # never chosen by keyring's own discovery

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError(f"no entry for {username}") from None


def _open(wanted: Wanted) -> Backend:
    from credenza.secrets.backends.oskeyring import OsKeyring

    return OsKeyring(MemoryKeyring())


BACKEND = BackendEntry(
    name="memory",
    chosen_by=None,
    summary="this process's memory: the demo, tests, and tokens of a team-store run on a "
    "machine without a keyring",
    needs="nothing",
    limits="gone when the process exits; values over 1,000 characters in chunks, as oskeyring",
    available=lambda: True,
    open=_open,
)
