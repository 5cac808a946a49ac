"""verify --all reads the client secrets in one batch, then once each after its token call."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from credenza.errors import SecretMissingError, SecretStoreError
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret, SecretStore, names
from credenza.secrets.backend import Backend
from credenza.services.tokens.issue import Issuing
from credenza.workspace import Workspace
from tests.conftest import add_sandbox_app
from tests.services.tokens.test_race import beside, slow_token_calls, wait_for_request

T = TypeVar("T")
FROZEN = datetime(2026, 12, 1, tzinfo=UTC)


async def test_verify_many_reads_the_secrets_in_a_batch_before_the_calls_and_one_after(
    workspace: Workspace, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On gnome-keyring every keyring call is a D-Bus round trip answered one at a time: 400
    credentials made 1,200 calls (the secret read twice before the token call, once after),
    most of `verify --all`'s time, then ~230 with a read each after its call. Now: one batch
    before the calls, one after them all (is each token's secret still the stored one?), and
    a worker thread for each batch, not three for each credential."""
    apps = [add_sandbox_app(workspace, sandbox, name=f"App {n}")[0] for n in range(6)]
    calls: list[list[str]] = []
    batched = SecretStore._batched

    def counted(store: SecretStore, backend: Backend, wanted: list[str]) -> dict[str, str | None]:
        calls.append(list(wanted))
        return batched(store, backend, wanted)

    monkeypatch.setattr(SecretStore, "_batched", counted)
    hops = 0
    to_thread = asyncio.to_thread

    async def counted_hop(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        nonlocal hops
        hops += 1
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted_hop)
    results = await workspace.verification.verify_many([(app, "production") for app in apps])
    assert [result.status for result in results] == ["ok"] * 6
    secrets = {workspace.secrets.entry(names.client_secret(app, "production")) for app in apps}
    reads = [[name for name in call if name in secrets] for call in calls]
    reads = [call for call in reads if call]
    assert [set(call) for call in reads] == [secrets, secrets]
    assert Counter(name for call in reads for name in call) == dict.fromkeys(secrets, 2)
    assert hops == 2
    await workspace.aclose()


async def test_a_secret_set_during_verify_many_leaves_no_token_of_the_old_secret(
    workspace: Workspace, sandbox: SandboxServer, secret_store: SecretStore
) -> None:
    """The check after the calls, batched: a token issued to a secret changed while its call
    was in flight is not held, and a refresh failure recorded for it is not cleared; the
    credential beside it, unchanged, is held and its failure cleared. Both verify ok."""
    changed, _ = add_sandbox_app(workspace, sandbox, name="Changed", rotation="overlap")
    same, _ = add_sandbox_app(workspace, sandbox, name="Same")
    for app in (changed, same):
        workspace.context.local_state.refresh_failed(app, "production", "down", FROZEN)
    client_id = f"{changed}-production"
    before = slow_token_calls(sandbox, client_id)
    run = asyncio.create_task(
        workspace.verification.verify_many([(changed, "production"), (same, "production")])
    )
    await asyncio.to_thread(wait_for_request, sandbox, before)
    new = sandbox.state.reset_secret(client_id).client_secret
    other = beside(workspace, secret_store)
    other.credentials.set(changed, "production", new)
    results = await run
    assert [(r.application_id, r.status) for r in results] == [(changed, "ok"), (same, "ok")]
    assert [(s.application_id, s.environment) for s in workspace.tokens.held()] == [
        (same, "production")
    ]
    assert set(workspace.context.local_state.refresh_failures()) == {(changed, "production")}
    await workspace.aclose()
    await other.aclose()


async def test_a_check_after_the_calls_that_fails_is_that_rows_error_not_the_runs(
    workspace: Workspace, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyring (or a team store) failing to answer for one credential's check after the
    calls: that row says so, the others are verified, and its token is not held."""
    apps = [add_sandbox_app(workspace, sandbox, name=f"App {n}")[0] for n in range(3)]
    issued_to_current = Issuing.issued_to_current

    def failing_for_one(issuing: Issuing, resolved: Any, *args: Any, **kwargs: Any) -> bool:
        if resolved.application.id == apps[1]:
            raise SecretStoreError("the keyring did not answer")
        return issued_to_current(issuing, resolved, *args, **kwargs)

    monkeypatch.setattr(Issuing, "issued_to_current", failing_for_one)
    results = await workspace.verification.verify_many([(app, "production") for app in apps])
    assert [(r.application_id, r.status) for r in results] == [
        (apps[0], "ok"),
        (apps[1], "keyring"),
        (apps[2], "ok"),
    ]
    assert sorted(s.application_id for s in workspace.tokens.held()) == [apps[0], apps[2]]
    await workspace.aclose()


async def test_a_secret_read_ahead_is_used_once_and_dropped_after_the_run(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """What was read ahead serves the first read only: the check after the token call (is the
    secret still the stored one?) reads the keyring, and nothing outlives the run."""
    app_id, _ = add_sandbox_app(workspace, sandbox)
    other, _ = add_sandbox_app(workspace, sandbox, name="Other")
    workspace.credentials.read_ahead([(app_id, "production")])
    first = workspace.credentials.stored_secret(app_id, "production", ahead=True)
    workspace.secrets.set_client_secret(app_id, "production", first.secret, origin="https://x.test")
    assert (
        workspace.credentials.stored_secret(app_id, "production", ahead=True).origin
        == "https://x.test"
    )
    # Read ahead again, then a run for another credential: nothing of it is left after.
    workspace.credentials.read_ahead([(app_id, "production")])
    [result] = await workspace.verification.verify_many([(other, "production")])
    assert result.ok
    workspace.secrets.set_client_secret(app_id, "production", first.secret, origin="https://y.test")
    assert (
        workspace.credentials.stored_secret(app_id, "production", ahead=True).origin
        == "https://y.test"
    )
    await workspace.aclose()


async def test_a_confirmation_after_a_read_ahead_keeps_the_secret_stored_meanwhile(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """Confirming an endpoint stores the secret again with more origins, read under the lock so
    that a secret set meanwhile is never undone: never the copy read ahead for a verify run."""
    app_id, secret = add_sandbox_app(workspace, sandbox)
    workspace.credentials.read_ahead([(app_id, "production")])
    newer = secret[::-1]
    origin = workspace.secrets.get_client_secret(app_id, "production").origin
    # Another process (`credenza secret set`) stores a new secret after the read ahead.
    workspace.secrets.set_client_secret(app_id, "production", Secret(newer), origin=origin)
    workspace.credentials.confirm_endpoint(app_id, "production", ["https://other.test"])
    stored = workspace.secrets.get_client_secret(app_id, "production")
    assert stored.secret.reveal() == newer
    assert "https://other.test" in (stored.origin or "")
    workspace.credentials.read_ahead([])
    await workspace.aclose()


async def test_a_secret_set_after_a_read_ahead_is_the_one_a_call_sends(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """A secret set in this process after the read ahead: the next call sends the new one."""
    app_id, secret = add_sandbox_app(workspace, sandbox)
    workspace.credentials.read_ahead([(app_id, "production")])
    newer = secret[::-1]
    workspace.credentials.set(app_id, "production", newer)
    resolved = workspace.credentials.ready_now(app_id, "production")
    assert resolved is not None
    credentials = workspace.credentials.for_call(resolved, ())
    assert credentials.secret.reveal() == newer
    workspace.credentials.read_ahead([])
    await workspace.aclose()


async def test_a_secret_removed_after_a_read_ahead_is_not_sent(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """A credential removed in this process after the read ahead: no call sends its secret."""
    app_id, _ = add_sandbox_app(workspace, sandbox)
    workspace.credentials.read_ahead([(app_id, "production")])
    workspace.credentials.remove(app_id, "production")
    resolved = workspace.credentials.ready_now(app_id, "production")
    assert resolved is not None
    with pytest.raises(SecretMissingError):
        workspace.credentials.for_call(resolved, ())
    workspace.credentials.read_ahead([])
    await workspace.aclose()
