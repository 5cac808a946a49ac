"""Secrets: the store over the keyring in use (store.py), entry names (names.py), masked values."""

from credenza.secrets.backend import Setting
from credenza.secrets.backends.oskeyring import CHUNK_CHARS
from credenza.secrets.masking import CheckedSecret, Secret, check_secret
from credenza.secrets.names import SERVICE, entry_name
from credenza.secrets.store import KeyringKind, SecretStore, StoredSecret

__all__ = [
    "CHUNK_CHARS",
    "SERVICE",
    "CheckedSecret",
    "KeyringKind",
    "Secret",
    "SecretStore",
    "Setting",
    "StoredSecret",
    "check_secret",
    "entry_name",
]
