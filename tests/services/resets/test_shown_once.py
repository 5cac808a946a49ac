"""Shown-once secrets survive: a secret the provider issues is in the keyring before it is
verified, and when the keyring will not keep it, it is shown with the words "not stored"."""

from __future__ import annotations

import asyncio

import keyring
import pytest
from keyring.errors import PasswordSetError

from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app
from tests.test_workspace import use_sandbox_provider


class RefusingKeyring(MemoryKeyring):
    """Works until told to refuse writes (a locked or full keyring mid-command)."""

    refuse = False

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.refuse:
            raise PasswordSetError("the collection is locked")
        super().set_password(service, username, password)


@pytest.fixture
def refusing_keyring(memory_keyring: MemoryKeyring) -> RefusingKeyring:
    backend = RefusingKeyring()
    keyring.set_keyring(backend)  # memory_keyring's teardown restores the previous one
    return backend


def test_an_issued_secret_the_keyring_refuses_is_printed_as_not_stored(
    workspace: Workspace,
    sandbox: SandboxServer,
    cli: CliRunner,
    refusing_keyring: RefusingKeyring,
    secret_store: SecretStore,
) -> None:
    secret_store._backend = refusing_keyring  # the keyring the workspace's view writes to
    app_id, _ = add_sandbox_app(workspace, sandbox, env="sandbox")
    use_sandbox_provider(workspace, sandbox, app_id)
    refusing_keyring.refuse = True
    code, out, err = cli("secret", "reset", app_id, "sandbox", "--yes")
    assert code == 3
    issued = sandbox.state.clients[f"{app_id}-sandbox"].client_secret
    assert out.strip() == issued  # the one copy there is, on stdout
    assert "NOT stored" in err


async def test_a_reset_cancelled_while_verifying_leaves_the_secret_recoverable(
    workspace: Workspace, sandbox: SandboxServer, cli: CliRunner
) -> None:
    app_id, old = add_sandbox_app(workspace, sandbox, env="sandbox")
    use_sandbox_provider(workspace, sandbox, app_id)
    client_id = f"{app_id}-sandbox"
    sandbox.state.add_fault({"mode": "latency", "latency_ms": 3000, "client_id": client_id})
    calls = len(sandbox.state.requests)
    reset = asyncio.create_task(workspace.resets.reset(app_id, "sandbox"))
    while sandbox.state.clients[client_id].client_secret == old or (
        len(sandbox.state.requests) == calls
    ):
        await asyncio.sleep(0.01)  # the provider issued it; verification is under way
    reset.cancel()  # Escape in the dashboard, Ctrl-C in the CLI
    with pytest.raises(asyncio.CancelledError):
        await reset
    issued = sandbox.state.clients[client_id].client_secret
    pending = workspace.resets.pending(app_id, "sandbox")
    assert pending is not None
    assert pending.reveal() == issued
    await workspace.aclose()
    # The CLI runs its own event loop: off this one.
    assert (await asyncio.to_thread(cli, "secret", "recover", app_id, "sandbox"))[0] == 0
    assert workspace.credentials.reveal(app_id, "sandbox").reveal() == issued
