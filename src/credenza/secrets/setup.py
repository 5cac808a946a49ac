"""Choosing the keyring: `credenza keyring use file|system` and `credenza keyring status`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from credenza.secrets.filekeyring import DEFAULT_COST, FileKeyring, PassphraseSource, default_path
from credenza.secrets.store import SecretStore

if TYPE_CHECKING:
    from credenza.config.store import ConfigStore


@dataclass(frozen=True)
class KeyringStatus:
    """What `keyring status` reports: which keyring, where, and whether the agent holds its key."""

    kind: Literal["auto", "file"]
    label: str
    path: Path | None
    created: bool


def use_file_keyring(
    config: ConfigStore,
    *,
    path: Path | None = None,
    passphrase: PassphraseSource | None = None,
    cost: int = DEFAULT_COST,
) -> KeyringStatus:
    """Create the file keyring (a new passphrase, asked twice) or open the existing one (its
    passphrase checked), then record ``keyring = "file"`` in the settings."""
    keyring = FileKeyring(path or default_path(), passphrase=passphrase, cost=cost)
    created = not keyring.path.exists()
    keyring.prepare()
    if created:
        keyring.create()
    with config.edit() as edited:
        edited.settings.keyring = "file"
    return KeyringStatus("file", keyring.label, keyring.path, created)


def use_system_keyring(config: ConfigStore) -> None:
    """Back to the desktop keyring; the file keyring is left where it is."""
    with config.edit() as edited:
        edited.settings.keyring = "auto"


def status(store: SecretStore) -> KeyringStatus:
    """The keyring this store uses, resolved and checked (a file keyring asks its passphrase)."""
    backend = store.backend
    path = backend.path if isinstance(backend, FileKeyring) else None
    return KeyringStatus(store.keyring, backend.label, path, created=False)
