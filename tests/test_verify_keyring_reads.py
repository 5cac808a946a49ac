"""verify --all reads the client secrets in one batch, then once each after its token call; reads
asked for at once go to the keyring together."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence

import pytest

from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore, names
from credenza.secrets.backend import Backend
from credenza.workspace import Workspace
from tests.conftest import add_sandbox_app


async def test_verify_many_reads_each_secret_in_a_batch_then_once_after_its_call(
    workspace: Workspace, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On gnome-keyring every keyring call is a D-Bus round trip answered one at a time: 400
    credentials made 1,200 calls (the secret read twice before the token call, once after),
    most of `verify --all`'s time. Now: one batch before, one read each after."""
    apps = [add_sandbox_app(workspace, sandbox, name=f"App {n}")[0] for n in range(6)]
    calls: list[list[str]] = []
    batched = SecretStore._batched

    def counted(store: SecretStore, backend: Backend, wanted: list[str]) -> dict[str, str | None]:
        calls.append(list(wanted))
        return batched(store, backend, wanted)

    monkeypatch.setattr(SecretStore, "_batched", counted)
    results = await workspace.verification.verify_many([(app, "production") for app in apps])
    assert [result.status for result in results] == ["ok"] * 6
    secrets = {workspace.secrets.entry(names.client_secret(app, "production")) for app in apps}
    reads = [[name for name in call if name in secrets] for call in calls]
    reads = [call for call in reads if call]
    # The first call reads every secret at once; each is then read once more, alone.
    assert set(reads[0]) == secrets
    assert Counter(name for call in reads[1:] for name in call) == dict.fromkeys(secrets, 1)
    await workspace.aclose()


async def test_a_secret_read_ahead_is_used_once_and_dropped_after_the_run(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """What was read ahead serves the first read only: the check after the token call (is the
    secret still the stored one?) reads the keyring, and nothing outlives the run."""
    app_id, _ = add_sandbox_app(workspace, sandbox)
    other, _ = add_sandbox_app(workspace, sandbox, name="Other")
    workspace.credentials.read_ahead([(app_id, "production")])
    first = workspace.credentials.stored_secret(app_id, "production")
    workspace.secrets.set_client_secret(app_id, "production", first.secret, origin="https://x.test")
    assert workspace.credentials.stored_secret(app_id, "production").origin == "https://x.test"
    # Read ahead again, then a run for another credential: nothing of it is left after.
    workspace.credentials.read_ahead([(app_id, "production")])
    [result] = await workspace.verification.verify_many([(other, "production")])
    assert result.ok
    workspace.secrets.set_client_secret(app_id, "production", first.secret, origin="https://y.test")
    assert workspace.credentials.stored_secret(app_id, "production").origin == "https://y.test"
    await workspace.aclose()


class FirstCallWaits(Backend):
    """A keyring whose first read waits until told, and that records each read call."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        self.calls.append(list(names))
        if len(self.calls) == 1:
            self.release.wait(10)
        return {name: self.values.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_reads_asked_for_during_a_keyring_call_go_together_in_the_next() -> None:
    """A Secret Service answers one call at a time; a batch of names costs a fraction of as
    many calls. Reads asked for while one is in flight are one call after it, each still
    answered with what it asked for."""
    backend = FirstCallWaits()
    store = SecretStore(backend)
    for name in "abcde":
        backend.values[name] = name.upper()
    found: dict[str, str | None] = {}

    def read(name: str) -> None:
        found[name] = store.get_raw(name)

    first = threading.Thread(target=read, args=("a",))
    first.start()
    deadline = time.monotonic() + 10
    while not backend.calls and time.monotonic() < deadline:
        time.sleep(0.001)
    others = [threading.Thread(target=read, args=(name,)) for name in "bcde"]
    for thread in others:
        thread.start()
    # Every other read has asked (and waits for the call in flight) before it ends.
    while len(store._asked) < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    backend.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert found == {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    assert backend.calls[0] == ["a"]
    assert len(backend.calls) == 2
    assert sorted(backend.calls[1]) == ["b", "c", "d", "e"]
