"""verify --all reads the client secrets in one batch, then once each after its token call."""

from __future__ import annotations

from collections import Counter

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
