"""Choosing the keyring: `credenza keyring use file|system` and `credenza keyring status`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credenza.config.local import set_user_settings
from credenza.secrets.backend import Setting
from credenza.secrets.backends.filekeyring import (
    DEFAULT_COST,
    FileKeyring,
    PassphraseSource,
    default_path,
)
from credenza.secrets.store import SecretStore


@dataclass(frozen=True)
class KeyringStatus:
    """What `keyring status` reports: which keyring, where, and whether the agent holds its key."""

    kind: Setting
    label: str
    path: Path | None
    created: bool


def use_file_keyring(
    settings: Path,
    *,
    path: Path | None = None,
    passphrase: PassphraseSource | None = None,
    cost: int = DEFAULT_COST,
) -> KeyringStatus:
    """Create the file keyring (a new passphrase, asked twice) or open the existing one (its
    passphrase checked), then record ``keyring = "file"`` in this person's own ``settings``
    file: a machine's keyring is its owner's choice, never the shared config's."""
    keyring = FileKeyring(path or default_path(), passphrase=passphrase, cost=cost)
    created = not keyring.path.exists()
    keyring.prepare()
    if created:
        keyring.create()
    set_user_settings(settings, keyring="file")
    return KeyringStatus("file", keyring.label, keyring.path, created)


def use_system_keyring(settings: Path) -> None:
    """The desktop keyring, in this person's own ``settings`` file (whatever the shared config
    says); the file keyring is left where it is."""
    set_user_settings(settings, keyring="system")


def status(store: SecretStore) -> KeyringStatus:
    """The keyring this store uses, resolved and checked (a file keyring asks its passphrase)."""
    backend = store.backend
    kind: Setting = "file" if store.keyring == "file" else "system"
    return KeyringStatus(kind, backend.label, backend.path, created=False)
