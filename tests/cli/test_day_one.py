"""The command line, end to end against the sandbox: what a new user does on day one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

CANARY = "cAnArY-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a"


def test_day_one_by_issuer(cli: CliRunner, sandbox: SandboxServer, config_path: Path) -> None:
    client = sandbox.state.add_client({"client_id": "tsms-prod", "scope": "sms:send"})
    assert (
        cli("app", "add", "Telenor SMS", "--owner", "kari@example.no", "--org", "Example AS")[0]
        == 0
    )
    code, _, err = cli(
        "env",
        "add",
        "telenor-sms",
        "production",
        "--client-id",
        "tsms-prod",
        "--issuer",
        sandbox.issuer,
    )
    assert code == 0, err
    assert "/oauth/token" in err
    code, _, err = cli(
        "secret", "set", "telenor-sms", "production", stdin=client.client_secret + "\n"
    )
    assert code == 0, err
    code, out, err = cli("token", "telenor-sms")
    assert code == 0, err
    token = out.strip()
    assert token.count(".") == 2  # a JWT, alone on stdout
    assert token in [t for t in sandbox.state.tokens]
    # Nothing secret under the config directory.
    for path in config_path.parent.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert client.client_secret not in text
            assert token not in text


def test_the_cached_token_is_reused_and_no_cache_fetches(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    first = cli("token", "telenor-sms", "--env", "production")[1]
    second = cli("token", "telenor-sms", "--env", "production")[1]
    third = cli("token", "telenor-sms", "--env", "production", "--no-cache")[1]
    assert first == second
    assert third != first


def test_token_formats(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    raw = cli("token", "telenor-sms")[1].strip()
    header = cli("token", "telenor-sms", "--format", "header")[1].strip()
    assert header == f"Authorization: Bearer {raw}"
    data = json.loads(cli("token", "telenor-sms", "--json")[1])
    assert data["access_token"] == raw
    assert data["token_type"] == "Bearer"
    env = cli("token", "telenor-sms", "--format", "env")[1]
    assert f"export CREDENZA_ACCESS_TOKEN={raw}" in env


def test_wrong_secret_is_one_line_and_exit_1(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox, secret=CANARY)
    code, out, err = cli("token", "telenor-sms")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("credenza: error: ")
    assert "invalid_client" in err
    assert CANARY not in err


def test_wrong_auth_method_is_one_line(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("env", "edit", "telenor-sms", "production", "--auth-method", "client_secret_post")
    code, _, err = cli("token", "telenor-sms")
    assert code == 1
    assert "registered for client_secret_basic" in err
    assert err.count("\n") == 1


def test_a_malformed_config_gives_line_and_column_exit_2_and_is_untouched(
    cli: CliRunner, config_path: Path
) -> None:
    config_path.parent.mkdir(parents=True)
    config_path.write_text('version = 1\n[[applications]]\nid = "a"\nname = "unterminated\n')
    before = config_path.read_bytes()
    code, _, err = cli("app", "add", "Another")
    assert code == 2
    assert f"{config_path}:4:" in err
    assert "Traceback" not in err
    assert config_path.read_bytes() == before


def test_secret_is_read_from_a_named_variable_never_argv(
    cli: CliRunner, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    client = sandbox.state.clients["tsms-prod"]
    monkeypatch.setenv("TELENOR_SECRET", client.client_secret)
    assert cli("secret", "set", "telenor-sms", "production", "--from-env", "TELENOR_SECRET")[0] == 0
    assert cli("token", "telenor-sms")[0] == 0
    code, _, err = cli("secret", "set", "telenor-sms", "production", "--client-secret", "x")
    assert code == 2
    assert "unrecognized arguments" in err


def test_empty_secret_is_refused_and_nothing_is_stored(
    cli: CliRunner, sandbox: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    code, _, err = cli("secret", "set", "telenor-sms", "production", stdin="\n")
    assert code == 2
    assert "empty" in err
    assert memory_keyring.entries == {}


def test_verify_exits_1_when_any_fails_and_reports_json(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "add", "Broken")
    cli(
        "env",
        "add",
        "broken",
        "production",
        "--client-id",
        "nope",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    cli("secret", "set", "broken", "production", stdin=CANARY)
    code, out, _ = cli("verify", "--all", "--json")
    assert code == 1
    statuses = {(r["application"], r["status"]) for r in json.loads(out)}
    assert statuses == {("telenor-sms", "ok"), ("broken", "unknown_client")}
    assert CANARY not in out
    assert cli("verify", "telenor-sms")[0] == 0


def test_revoke_revokes_the_cached_token(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    token = cli("token", "telenor-sms")[1].strip()
    code, _, err = cli("revoke", "telenor-sms", "--env", "production")
    assert code == 0, err
    assert "revoked 1 token" in err
    assert sandbox.state.tokens[token].revoked
    assert cli("token", "telenor-sms")[1].strip() != token


def test_app_list_show_and_remove(
    cli: CliRunner, sandbox: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, out, _ = cli("app", "list")
    assert code == 0
    assert "telenor-sms" in out
    code, out, _ = cli("app", "show", "Telenor SMS")
    assert "production checklist" in out
    assert "[ ] registered with each API used" in out
    assert cli("app", "remove", "telenor-sms")[0] == 2  # no terminal to confirm at
    assert cli("app", "remove", "telenor-sms", "--yes")[0] == 0
    assert memory_keyring.entries == {}


def test_unknown_application_is_exit_2_with_a_hint(cli: CliRunner) -> None:
    code, _, err = cli("token", "nope")
    assert code == 2
    assert "no application 'nope'" in err
    assert "credenza app list" in err


def test_help_documents_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "credenza", "token", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "exit codes:" in result.stdout
    assert "1   the provider said no" in result.stdout


def test_cli_and_token_path_do_not_import_textual_or_the_sandbox(tmp_path: Path) -> None:
    code = (
        "import sys; from credenza.cli import run; "
        "run(['--config', sys.argv[1], 'app', 'list']); "
        "import credenza.workspace, credenza.oauth.tokens; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'uvicorn', 'starlette')]; "
        "print(bad)"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "credenza.secrets.backends.memory.MemoryKeyring"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "c.toml")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_messages_keep_their_lines_and_lose_escapes() -> None:
    from credenza.cli import output

    plan = "Resetting:\n• the old secret a\x1b]52;c;ZXZpbA==\x07stops\n• tokens stay valid"
    assert output.shown(plan) == "Resetting:\n• the old secret astops\n• tokens stay valid"


def test_verify_imports_only_its_own_command_group(tmp_path: Path) -> None:
    """`verify` is scripted as `token` is: the other command groups are not registered, so
    their modules are not imported (~40-65 ms of every run)."""
    code = (
        "import sys; from credenza.cli import run; "
        "run(['--config', sys.argv[1], 'verify', '--all']); "
        "print(sorted(m for m in sys.modules if m.startswith('credenza.cli.')))"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "credenza.secrets.backends.memory.MemoryKeyring"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "c.toml")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    loaded = result.stdout.strip().splitlines()[-1]
    assert "credenza.cli.token" in loaded
    assert "credenza.cli.team" not in loaded
    assert "credenza.cli.secret" not in loaded
