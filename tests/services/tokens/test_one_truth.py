"""One truth per credential: after any change to what a token belongs to, no cache — memory,
keyring or agent — hands out the old token (issue 9, SECURITY.md promise 26)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from credenza.__main__ import main
from credenza.sandbox import SandboxServer
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

pytestmark = pytest.mark.usefixtures("running_agent")

APP = "telenor-sms"


@pytest.fixture
def token(config_path: Path, capfd: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """`credenza token` as a script runs it: the agent's fast path first, then the full CLI."""

    def run(*extra: str, config: Path = config_path) -> tuple[int, str]:
        capfd.readouterr()
        code = main(["token", APP, "--config", str(config), "--env", "production", *extra])
        return code, capfd.readouterr().out.strip()

    return run


def _issued_to(sandbox: SandboxServer, token: str) -> str:
    return sandbox.state.tokens[token].client_id


def test_the_agent_answers_a_repeated_call_without_the_provider(
    cli: CliRunner, sandbox: SandboxServer, token: Callable[..., tuple[int, str]]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, first = token()
    assert code == 0
    grants = len(sandbox.state.requests)
    assert token() == (0, first)
    assert len(sandbox.state.requests) == grants  # the agent answered: the test can tell


def test_a_new_client_id_never_gets_the_old_clients_token(
    cli: CliRunner, sandbox: SandboxServer, token: Callable[..., tuple[int, str]]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, old = token()
    other = sandbox.state.add_client({"client_id": "tsms-prod-2", "scope": "sms:send"})
    assert cli("env", "edit", APP, "production", "--client-id", "tsms-prod-2")[0] == 0
    assert cli("secret", "set", APP, "production", stdin=other.client_secret)[0] == 0
    code, new = token()
    assert code == 0
    assert new != old
    assert _issued_to(sandbox, new) == "tsms-prod-2"


@pytest.mark.parametrize(
    "change",
    [
        ["--resource", "https://api.example.no/sms"],
        ["--audience", "sms-api"],
        ["--auth-method", "client_secret_post"],
        ["--scope", "sms:send", "--param", "tenant=42"],
        ["--add-scope", "sms:read"],
    ],
    ids=["resource", "audience", "auth-method", "param", "scope"],
)
def test_an_edited_credential_never_gets_the_old_token(
    cli: CliRunner,
    sandbox: SandboxServer,
    token: Callable[..., tuple[int, str]],
    change: list[str],
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, old = token()
    assert cli("env", "edit", APP, "production", *change)[0] == 0
    _, after = token()
    assert after != old  # a new token, or an error from the provider: never the old one


def test_a_moved_token_endpoint_never_gets_the_old_token(
    cli: CliRunner, sandbox: SandboxServer, token: Callable[..., tuple[int, str]]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, old = token()
    moved = sandbox.issuer.replace("127.0.0.1", "localhost") + "/oauth/token"
    assert cli("env", "edit", APP, "production", "--token-url", moved)[0] == 0
    code, after = token()
    assert code != 0
    assert after == ""  # bound to the old origin: nothing sent, nothing printed
    assert cli("secret", "confirm-endpoint", APP, "production")[0] == 0
    code, after = token()
    assert code == 0
    assert after != old


def test_a_removed_environment_has_no_token_anywhere(
    cli: CliRunner,
    sandbox: SandboxServer,
    token: Callable[..., tuple[int, str]],
    memory_keyring: MemoryKeyring,
) -> None:
    add_telenor_via_cli(cli, sandbox)
    assert token()[0] == 0
    assert cli("env", "remove", APP, "production", "--yes")[0] == 0
    code, out = token()
    assert (code, out) == (2, "")
    assert [name for _, name in memory_keyring.entries if name.startswith(APP)] == []


def test_a_renamed_then_removed_application_has_no_token_under_either_name(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    capfd.readouterr()
    assert main(["token", "Telenor SMS", "--config", str(config_path)]) == 0
    assert cli("app", "edit", APP, "--name", "Telenor Bulk")[0] == 0
    assert main(["token", "Telenor Bulk", "--config", str(config_path)]) == 0
    assert cli("app", "remove", APP, "--yes")[0] == 0
    capfd.readouterr()
    for name in ("Telenor SMS", "Telenor Bulk", APP):
        assert main(["token", name, "--config", str(config_path)]) == 2
    assert capfd.readouterr().out == ""


def test_a_revoke_reaches_the_agent(
    cli: CliRunner, sandbox: SandboxServer, token: Callable[..., tuple[int, str]]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, old = token()
    assert cli("revoke", APP, "--env", "production")[0] == 0
    assert sandbox.state.tokens[old].revoked
    code, after = token()
    assert code == 0
    assert after != old


def test_another_workspace_copied_over_the_config_gets_its_own_token(
    cli: CliRunner,
    run_cli: Callable[[Path], CliRunner],
    sandbox: SandboxServer,
    config_path: Path,
    tmp_path: Path,
    token: Callable[..., tuple[int, str]],
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, ours = token()
    # A second workspace with an application of the same name and its own client.
    other_config = tmp_path / "other" / "credenza.toml"
    other = run_cli(other_config)
    client = sandbox.state.add_client({"client_id": "theirs", "scope": "sms:send"})
    other("app", "add", "Telenor SMS")
    other(
        "env", "add", APP, "production", "--client-id", "theirs",
        "--token-url", f"{sandbox.issuer}/oauth/token",
    )  # fmt: skip
    other("secret", "set", APP, "production", stdin=client.client_secret)
    shutil.copyfile(other_config, config_path)
    code, after = token()
    assert after != ours
    if code == 0:
        assert _issued_to(sandbox, after) == "theirs"
