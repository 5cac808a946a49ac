"""The registry of secret stores: each backend module declares itself, and a new one is one module
plus one registration, which the keyring setting then chooses."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence

import pytest

from credenza.cli import output
from credenza.secrets import SecretStore
from credenza.secrets.backend import Backend, BackendEntry, Wanted
from credenza.secrets.backends import REGISTERED
from credenza.secrets.store import backends


def test_every_registered_module_declares_itself_under_its_own_name() -> None:
    entries = backends()
    assert [entry.name for entry in entries] == list(REGISTERED)
    assert {entry.chosen_by for entry in entries} == {"system", "file", None}
    assert all(entry.summary and entry.needs and entry.limits for entry in entries)
    # One fallback only: what a team-store run uses on a machine without a keyring.
    assert [entry.name for entry in entries if entry.chosen_by is None] == ["memory"]


class _Vault(Backend):
    label = "an added store"

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.entries.get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        return {name: self.entries.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        self.entries[name] = value

    def delete(self, name: str) -> None:
        self.entries.pop(name, None)


def test_a_new_store_is_one_module_and_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _Vault()
    asked: list[Wanted] = []

    def open_it(wanted: Wanted) -> Backend:
        asked.append(wanted)
        return opened

    module = types.ModuleType("credenza.secrets.backends.added")
    module.BACKEND = BackendEntry(  # type: ignore[attr-defined]
        name="added",
        chosen_by="file",
        summary="a store added for this test",
        needs="nothing",
        limits="none",
        available=lambda: True,
        open=open_it,
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr("credenza.secrets.backends.REGISTERED", ("added", *REGISTERED))

    store = SecretStore(keyring="file", timeout=3.0)
    store.set_raw("app/env/client_secret", "kept")
    assert opened.entries == {"app/env/client_secret": "kept"}
    assert store.chosen is not None
    assert store.chosen.name == "added"
    assert [w.timeout for w in asked] == [3.0]


def test_an_unavailable_store_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("credenza.secrets.backends.absent")

    def never(wanted: Wanted) -> Backend:
        raise AssertionError("an unavailable store is never opened")

    module.BACKEND = BackendEntry(  # type: ignore[attr-defined]
        name="absent",
        chosen_by="file",
        summary="a store this machine does not have",
        needs="something missing",
        limits="none",
        available=lambda: False,
        open=never,
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr("credenza.secrets.backends.REGISTERED", ("absent", "memory"))
    # Nothing else is chosen by "file": the store says there is no keyring, and how to get one.
    from credenza.errors import NoKeyringError

    with pytest.raises(NoKeyringError, match='keyring = "file"') as caught:
        SecretStore(keyring="file").get_raw("x")
    assert "credenza keyring use file" in output.problem(caught.value)
