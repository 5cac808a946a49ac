"""A secret changed while a token call is in flight: the token issued to the old secret is not
kept for the new one (not cached, not handed to the agent), on the async and the blocking path."""

from __future__ import annotations

import asyncio
import threading
import time

from credenza.config.store import ConfigStore
from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore
from credenza.services.tokens.records import SessionToken
from credenza.workspace import Workspace
from tests.conftest import FAST, add_sandbox_app


def beside(workspace: Workspace, secret_store: SecretStore) -> Workspace:
    """Another process on the same config and keyring (a CLI call beside the dashboard)."""
    return Workspace(
        store=ConfigStore(workspace.context.store.path), secrets=secret_store, http_settings=FAST
    )


def slow_token_calls(sandbox: SandboxServer, client_id: str) -> int:
    sandbox.state.add_fault({"mode": "latency", "latency_ms": 400, "client_id": client_id})
    return len(sandbox.state.requests)


def wait_for_request(sandbox: SandboxServer, before: int) -> None:
    deadline = time.monotonic() + 5
    while len(sandbox.state.requests) == before:  # the call is in flight from here
        assert time.monotonic() < deadline
        time.sleep(0.005)


async def test_a_secret_set_during_a_token_call_leaves_no_token_of_the_old_secret(
    workspace: Workspace, sandbox: SandboxServer, secret_store: SecretStore
) -> None:
    # Overlap rotation at the provider: the call in flight still succeeds with the old secret.
    app_id, _ = add_sandbox_app(workspace, sandbox, rotation="overlap")
    client_id = f"{app_id}-production"
    before = slow_token_calls(sandbox, client_id)
    call = asyncio.create_task(workspace.tokens.token(app_id, "production"))
    await asyncio.to_thread(wait_for_request, sandbox, before)
    new = sandbox.state.reset_secret(client_id).client_secret
    other = beside(workspace, secret_store)
    other.credentials.set(app_id, "production", new)  # forgets every token: there is none yet
    session, cached = await call
    assert not cached
    assert session.token.access_token.reveal()  # the caller still gets what it asked for
    assert workspace.tokens.cached(app_id, "production", session.fingerprint) is None
    assert workspace.tokens.store.holds(session.fingerprint) is None
    # The next call gets a token with the new secret, not the one in flight before.
    sandbox.state.faults.clear()
    again, cached = await workspace.tokens.token(app_id, "production")
    assert not cached
    assert again.token.access_token.reveal() != session.token.access_token.reveal()
    await workspace.aclose()
    await other.aclose()


def test_the_blocking_path_keeps_no_token_of_the_old_secret_either(
    workspace: Workspace, sandbox: SandboxServer, secret_store: SecretStore
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, rotation="overlap")
    client_id = f"{app_id}-production"
    before = slow_token_calls(sandbox, client_id)
    found: list[tuple[SessionToken, bool] | None] = []
    call = threading.Thread(
        target=lambda: found.append(workspace.tokens.token_now(app_id, "production"))
    )
    call.start()
    wait_for_request(sandbox, before)
    new = sandbox.state.reset_secret(client_id).client_secret
    beside(workspace, secret_store).credentials.set(app_id, "production", new)
    call.join(10)
    assert found
    assert found[0] is not None
    session, cached = found[0]
    assert not cached
    assert workspace.tokens.cached(app_id, "production", session.fingerprint) is None
    assert workspace.tokens.store.holds(session.fingerprint) is None
    # Nothing of the credential is left in the keyring: no token, no index line for one.
    assert workspace.tokens.cached_sessions(app_id, "production") == []


def test_without_a_change_the_token_is_cached(workspace: Workspace, sandbox: SandboxServer) -> None:
    """The check above can pass: it is the change that drops the token, not the check itself."""
    app_id, _ = add_sandbox_app(workspace, sandbox)
    found = workspace.tokens.token_now(app_id, "production")
    assert found is not None
    session, _ = found
    cached = workspace.tokens.cached(app_id, "production", session.fingerprint)
    assert cached is not None
    assert cached.access_token.reveal() == session.token.access_token.reveal()


def test_a_token_forgotten_before_it_reaches_the_agent_is_not_left_there(
    workspace: Workspace, sandbox: SandboxServer, running_agent: object
) -> None:
    from credenza.agent import client as agent

    app_id, _ = add_sandbox_app(workspace, sandbox)
    read_at = time.time()  # as `credenza token` takes it, before the token is read
    found = workspace.tokens.token_now(app_id, "production")
    assert found is not None
    session, _ = found
    workspace.tokens.share_with_agent(session, "kept", read_at)
    assert agent.request({"op": "get", "key": "kept"})["token"]  # type: ignore[index]
    # `credenza token` read the cache, then a `secret set` elsewhere forgot every token of the
    # credential (telling the agent), and only then did this call hand its copy over.
    workspace.tokens.forget(app_id, "production")
    workspace.tokens.share_with_agent(session, "late", read_at)
    assert not (agent.request({"op": "get", "key": "late"}) or {}).get("token")
