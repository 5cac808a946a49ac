"""`credenza token` without asyncio: the blocking path (Tokens.token_now) caches in the same store
under the same fingerprint as the async path, fails the same way for the same provider, leaves what
it cannot do to the async path, and a fresh token from the command line never loads asyncio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.store import ConfigStore
from credenza.errors import CredenzaError, SignInRequiredError
from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE, FileKeyring
from credenza.workspace import Workspace
from tests.conftest import FAST, add_sandbox_app


async def test_a_blocking_fresh_token_is_cached_where_the_async_path_finds_it(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    found = workspace.tokens.token_now(app_id, "production", use_cache=False)
    workspace.close()
    assert found is not None
    fresh, cached = found
    assert not cached
    again, cached = await workspace.tokens.token(app_id, "production")
    assert cached
    assert again.fingerprint == fresh.fingerprint
    assert again.token.access_token.reveal() == fresh.token.access_token.reveal()
    assert [s.fingerprint for s in workspace.tokens.cached_sessions(app_id)] == [fresh.fingerprint]
    # And the other way round: the async path's new token is what the blocking one then reads.
    newer, _ = await workspace.tokens.token(app_id, "production", use_cache=False)
    await workspace.aclose()
    found = workspace.tokens.token_now(app_id, "production")
    assert found is not None
    assert found[1]
    assert found[0].token.access_token.reveal() == newer.token.access_token.reveal()


async def test_scopes_and_the_request_are_the_same_on_both_paths(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, auth_method="client_secret_post")
    workspace.tokens.token_now(app_id, "production", ["sms:send"], use_cache=False)
    workspace.close()
    await workspace.tokens.token(app_id, "production", ["sms:send"], use_cache=False)
    await workspace.aclose()
    blocking, awaited = sandbox.state.requests[-2:]
    assert blocking["form"] == awaited["form"]
    assert blocking["form"]["scope"] == "sms:send"
    assert blocking["authorization"] == awaited["authorization"]


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "html"},
        {"mode": "malformed_json"},
        {"mode": "drop"},
        {"mode": "error", "status": 400},
        {"mode": "unavailable", "retry_after": 0},
        None,  # the wrong secret
    ],
)
async def test_a_misbehaving_provider_fails_both_paths_the_same(
    workspace: Workspace, sandbox: SandboxServer, fault: dict[str, object] | None
) -> None:
    app_id, secret = add_sandbox_app(workspace, sandbox)
    client_id = workspace.environments.resolve(app_id, "production").environment.client_id
    if fault is None:
        workspace.credentials.set(app_id, "production", "not-the-secret-at-all")
    else:
        sandbox.state.add_fault({**fault, "client_id": client_id})
    before = len(sandbox.state.requests)
    with pytest.raises(CredenzaError) as blocking:
        workspace.tokens.token_now(app_id, "production", use_cache=False)
    workspace.close()
    blocking_requests = len(sandbox.state.requests) - before
    with pytest.raises(CredenzaError) as awaited:
        await workspace.tokens.token(app_id, "production", use_cache=False)
    await workspace.aclose()
    assert type(blocking.value) is type(awaited.value)
    assert str(blocking.value) == str(awaited.value)
    assert blocking.value.exit_code == awaited.value.exit_code
    assert getattr(blocking.value, "kind", None) == getattr(awaited.value, "kind", None)
    assert len(sandbox.state.requests) - before == 2 * blocking_requests
    assert secret not in str(blocking.value)
    assert workspace.tokens.cached_sessions(app_id) == []


async def test_what_only_the_async_path_does_is_left_to_it(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    person = workspace.applications.add(
        "Signed In", ApplicationChange(grant_types=["authorization_code", "refresh_token"])
    ).id
    workspace.environments.add(
        person,
        "production",
        EnvironmentChange(client_id="person", token_url=f"{sandbox.issuer}/oauth/token"),
    )
    issuer_only = workspace.applications.add("Issuer Only").id
    workspace.environments.add(
        issuer_only, "production", EnvironmentChange(client_id="io", issuer=sandbox.issuer)
    )
    before = len(sandbox.state.requests)
    assert workspace.tokens.token_now(person, "production") is None
    assert workspace.tokens.token_now(issuer_only, "production") is None
    assert len(sandbox.state.requests) == before
    with pytest.raises(SignInRequiredError):  # what the async path then says
        await workspace.tokens.token(person, "production")


def test_a_fresh_token_from_the_command_line_never_imports_asyncio(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    config = tmp_path / "config" / "credenza.toml"
    config.parent.mkdir()
    config.write_text('[settings]\nkeyring = "file"\n')
    data = tmp_path / "data"
    passphrase = "correct horse battery"
    keyring = FileKeyring(
        data / "credenza" / "keyring.enc",
        passphrase=lambda prompt, new: passphrase,
        cost=2**10,
        use_agent=False,
    )
    keyring.prepare()
    workspace = Workspace(ConfigStore(config), SecretStore(keyring), http_settings=FAST)
    add_sandbox_app(workspace, sandbox, name="Fresh")
    code = (
        "import sys\n"
        "from credenza.__main__ import main\n"
        "code = main(['token', 'fresh', '--no-cache'])\n"
        "print(' '.join(m for m in ('asyncio', 'anyio._backends._asyncio') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    environment = {
        **os.environ,
        "CREDENZA_CONFIG": str(config),
        "XDG_DATA_HOME": str(data),
        PASSPHRASE_VARIABLE: passphrase,
    }
    before = len(sandbox.state.requests)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr
    token, loaded = result.stdout.split("\n")[:2]
    assert token
    assert loaded == ""
    assert len(sandbox.state.requests) == before + 1
    assert [s.token.access_token.reveal() for s in workspace.tokens.cached_sessions("fresh")] == [
        token
    ]
