"""The secret store: masked values, checks on storing, refused backends, deadlines, chunking."""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Sequence
from typing import ClassVar

import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from credenza.cli import output
from credenza.errors import (
    CredenzaError,
    KeyringLockedError,
    NoKeyringError,
    SecretMissingError,
    SecretRejectedError,
    SecretStoreError,
    UnsafeKeyringError,
)
from credenza.secrets import CHUNK_CHARS, Secret, SecretStore, check_secret
from credenza.secrets.backend import Backend
from credenza.secrets.backends.memory import MemoryKeyring

CANARY = "cAnArY-7f3e9b2d41a8c6e0f5b1d9a3c7e2f4b6"


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's PlaintextKeyring (by name: credenza classifies by class)."""


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("collection is locked")


class HangingKeyring(MemoryKeyring):
    """A keyring waiting on an unlock prompt nobody answers."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return None


class ExplodingKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"backend choked on {password}")


class LyingKeyring(MemoryKeyring):
    """Reports success and stores nothing, like the null backend but unnamed."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


class LimitedKeyring(MemoryKeyring):
    """Refuses values over 2,560 bytes of UTF-16, as Windows Credential Manager does."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password.encode("utf-16-le")) > 2560:
            raise keyring.errors.PasswordSetError("value too long")
        super().set_password(service, username, password)


def test_secret_repr_str_and_traceback_are_masked() -> None:
    secret = Secret(CANARY)
    assert CANARY not in repr(secret)
    assert CANARY not in str(secret)
    assert CANARY not in f"{secret}"
    try:
        raise ValueError(secret)
    except ValueError:
        assert CANARY not in traceback.format_exc()
    assert secret.reveal() == CANARY
    assert secret.masked().endswith(CANARY[-4:])
    assert CANARY not in secret.masked()


def test_a_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(CANARY))


def test_surrounding_whitespace_is_trimmed_with_a_warning() -> None:
    checked = check_secret(f"  {CANARY}\n")
    assert checked.secret.reveal() == CANARY
    assert any("whitespace" in w for w in checked.warnings)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(SecretRejectedError, match="empty"):
        check_secret("  \n")


def test_an_unexpected_length_is_flagged() -> None:
    assert check_secret("x" * 40, expected_length=40).warnings == ()
    warnings = check_secret("x" * 39, expected_length=40).warnings
    assert any("39 characters" in w and "40" in w for w in warnings)


def test_set_get_delete_round_trip(secret_store: SecretStore) -> None:
    secret_store.set_client_secret("app", "production", Secret(CANARY), origin="https://id.example")
    stored = secret_store.get_client_secret("app", "production")
    assert stored.secret.reveal() == CANARY
    assert stored.origin == "https://id.example"
    secret_store.delete_client_secret("app", "production")
    with pytest.raises(SecretMissingError) as missing:
        secret_store.get_client_secret("app", "production")
    assert "credenza secret set app production" in output.problem(missing.value)


def test_entries_are_per_application_environment_and_kind(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore(memory_keyring)
    store.set_client_secret("app", "sandbox", Secret("one"), origin=None)
    store.set_client_secret("app", "production", Secret("two"), origin=None)
    assert {name for _, name in memory_keyring.entries} == {
        "app/sandbox/client_secret",
        "app/production/client_secret",
    }
    assert {service for service, _ in memory_keyring.entries} == {"credenza"}


def test_a_4kib_value_is_chunked_where_the_keyring_limits_entry_size() -> None:
    backend = LimitedKeyring()
    store = SecretStore(backend)
    value = "eyJ" + "x" * 4093
    store.set_raw("app/prod/token:", value)
    assert store.get_raw("app/prod/token:") == value
    assert len(backend.entries) == -(-len(value) // CHUNK_CHARS) + 1
    store.delete_raw("app/prod/token:")
    assert backend.entries == {}


@pytest.mark.parametrize(
    ("backend", "error", "words"),
    [
        (fail.Keyring(), NoKeyringError, "no usable keyring"),  # type: ignore[no-untyped-call]
        (null.Keyring(), UnsafeKeyringError, "stores nothing"),  # type: ignore[no-untyped-call]
        (PlaintextKeyring(), UnsafeKeyringError, "plaintext"),
    ],
)
def test_unusable_backends_are_refused_with_their_name(
    backend: object, error: type, words: str
) -> None:
    store = SecretStore(backend)
    with pytest.raises(error) as caught:
        store.set_client_secret("app", "env", Secret(CANARY), origin=None)
    assert words in str(caught.value)
    assert type(backend).__name__ in str(caught.value)
    # One command that leads somewhere, and no advice credenza would then refuse.
    assert isinstance(caught.value, CredenzaError)
    assert "`credenza keyring use file`" in output.problem(caught.value)
    assert "cryptfile" not in str(caught.value)
    assert "keyrings.alt" not in str(caught.value)


def test_a_chainer_holding_a_plaintext_backend_is_refused() -> None:
    class Chain(chainer.ChainerBackend):
        backends: ClassVar = [MemoryKeyring(), PlaintextKeyring()]  # what keyring would discover

    with pytest.raises(UnsafeKeyringError, match="plaintext"):
        SecretStore(Chain()).get_raw("x")  # type: ignore[no-untyped-call]


def test_plaintext_is_allowed_only_on_opt_in_and_warned_about_on_every_use() -> None:
    warnings: list[str] = []
    backend = PlaintextKeyring()
    for _ in range(2):  # two commands, each with its own store
        store = SecretStore(backend, allow_plaintext=True, warn=warnings.append)
        store.set_client_secret("app", "env", Secret(CANARY), origin=None)
        store.get_client_secret("app", "env")
    assert len(warnings) == 2
    assert all("PLAINTEXT" in w for w in warnings)


def test_a_locked_keyring_is_a_clear_error() -> None:
    with pytest.raises(KeyringLockedError, match="locked"):
        SecretStore(LockedKeyring()).get_raw("app/env/client_secret")


def test_a_hanging_keyring_call_gives_up_at_its_deadline() -> None:
    backend = HangingKeyring()
    store = SecretStore(backend, timeout=0.3)
    try:
        with pytest.raises(KeyringLockedError, match=r"did not answer within 0\.3 s"):
            store.get_raw("app/env/client_secret")
    finally:
        backend.release.set()


def test_a_backend_error_never_shows_the_secret() -> None:
    with pytest.raises(SecretStoreError) as caught:
        SecretStore(ExplodingKeyring()).set_client_secret("app", "env", Secret(CANARY), origin=None)
    assert CANARY not in str(caught.value)
    assert "RuntimeError" in str(caught.value)


def test_a_backend_that_does_not_keep_values_is_caught_by_reading_back() -> None:
    with pytest.raises(UnsafeKeyringError, match="does not give it back"):
        SecretStore(LyingKeyring()).set_client_secret("app", "env", Secret(CANARY), origin=None)


def test_keyring_resolution_is_lazy(memory_keyring: MemoryKeyring) -> None:
    from credenza.secrets.backends.oskeyring import OsKeyring

    store = SecretStore()
    assert store._impl is None
    assert store.chosen is None
    store.set_raw("x", "y")
    assert store.chosen is not None
    assert store.chosen.name == "oskeyring"
    assert isinstance(store.backend, OsKeyring)
    assert store.backend.backend is memory_keyring


def test_memory_keyring_is_never_chosen_by_discovery() -> None:
    assert MemoryKeyring.priority < 1
    assert isinstance(MemoryKeyring(), KeyringBackend)


class KillableKeyring(LimitedKeyring):
    """Dies (as a SIGKILL would stop it) after a given number of writes and deletes."""

    def __init__(self, entries: dict[tuple[str, str], str], allowed: int) -> None:
        super().__init__()
        self.entries = entries
        self.allowed = allowed

    def _tick(self) -> None:
        if self.allowed <= 0:
            raise SystemExit("killed")
        self.allowed -= 1

    def set_password(self, service: str, username: str, password: str) -> None:
        self._tick()
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._tick()
        super().delete_password(service, username)


def test_a_rewrite_of_a_chunked_value_killed_at_any_step_reads_old_or_new_never_a_mix() -> None:
    old, new = "eyJ" + "o" * 4500, "eyJ" + "n" * 4500  # same length: a mix would go unnoticed
    writes = -(-len(new) // CHUNK_CHARS) + 1
    for steps in range(2 * writes + 2):  # every write and delete of the rewrite, and after
        entries: dict[tuple[str, str], str] = {}
        SecretStore(KillableKeyring(entries, 10_000)).set_raw("app/prod/token:", old)
        with contextlib.suppress(SecretStoreError):
            SecretStore(KillableKeyring(entries, steps)).set_raw("app/prod/token:", new)
        reader = KillableKeyring(entries, 10_000)  # the next process
        assert SecretStore(reader).get_raw("app/prod/token:") == (old if steps < writes else new)
        if steps >= writes:
            # Killed after the switch: the next write removes the old generation it names.
            SecretStore(reader).set_raw("app/prod/token:", new)
            assert len(entries) == writes


def test_rewriting_a_chunked_value_leaves_only_the_new_generation() -> None:
    backend = LimitedKeyring()
    store = SecretStore(backend)
    for letter in "abc":
        store.set_raw("app/prod/token:", "eyJ" + letter * 4500)
    assert store.get_raw("app/prod/token:") == "eyJ" + "c" * 4500
    assert len(backend.entries) == -(-4503 // CHUNK_CHARS) + 1
    store.set_raw("app/prod/token:", "short")
    assert {name for _, name in backend.entries} == {"app/prod/token:"}


def test_a_chunk_changed_behind_our_back_reads_as_missing_not_as_a_wrong_value() -> None:
    backend = LimitedKeyring()
    store = SecretStore(backend)
    store.set_raw("app/prod/token:", "eyJ" + "x" * 4500)
    chunk = next(key for key in backend.entries if key[1].endswith(".2"))
    backend.entries[chunk] = "y" * len(backend.entries[chunk])
    assert store.get_raw("app/prod/token:") is None


def test_values_chunked_by_earlier_versions_are_read_and_replaced() -> None:
    backend = LimitedKeyring()
    value = "eyJ" + "z" * 2500
    for number, start in enumerate(range(0, len(value), 1000), start=1):
        backend.entries[("credenza", f"app/prod/token:#{number}")] = value[start : start + 1000]
    backend.entries[("credenza", "app/prod/token:")] = f"credenza-chunks:3:{len(value)}"
    store = SecretStore(backend)
    assert store.get_raw("app/prod/token:") == value
    store.set_raw("app/prod/token:", "fresh")
    assert backend.entries == {("credenza", "app/prod/token:"): "fresh"}


def test_many_entries_are_read_at_once_chunked_or_not() -> None:
    store = SecretStore(LimitedKeyring())
    store.set_raw("a", "1")
    store.set_raw("b", "eyJ" + "b" * 3000)
    assert store.get_many(["a", "b", "c"]) == {"a": "1", "b": "eyJ" + "b" * 3000, "c": None}


class BatchLimitedKeyring(Backend):
    """A keyring that takes at most two names per get_many call, and records each call."""

    max_batch = 2

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[list[str]] = []

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        assert len(names) <= self.max_batch
        self.calls.append(list(names))
        return {name: self.values.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_many_entries_are_read_in_calls_no_larger_than_the_backend_takes() -> None:
    """gnome-keyring takes a minute for 10,000 names in one call: past the deadline, reported
    as a locked keyring. The store asks for them in calls of the backend's size instead."""
    backend = BatchLimitedKeyring()
    store = SecretStore(backend)
    for name in "abcde":
        store.set_raw(name, name.upper())
    backend.calls.clear()
    assert store.get_many(["a", "b", "c", "d", "e", "f"]) == {
        "a": "A",
        "b": "B",
        "c": "C",
        "d": "D",
        "e": "E",
        "f": None,
    }
    assert backend.calls == [["a", "b"], ["c", "d"], ["e", "f"]]
