"""`credenza doctor`: one line per check, ✓ or ✗ with the fix; exit 0 only when all pass."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner, add_telenor_via_cli
from tests.servers import closed_port, serve

APP = "telenor-sms"


@pytest.fixture
def healthy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: CliRunner, sandbox: SandboxServer
) -> Path:
    """A workspace at the sandbox, completion installed for bash, no agent: all in order."""
    add_telenor_via_cli(cli, sandbox)
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    completion = data / "bash-completion" / "completions" / "credenza"
    completion.parent.mkdir(parents=True)
    completion.write_text("# credenza completions\n")
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "agent" / "agent.sock"))
    return completion


def lines(out: str, mark: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(mark)]


def test_a_healthy_workspace_passes_every_check(
    cli: CliRunner, healthy: Path, sandbox: SandboxServer
) -> None:
    code, out, err = cli("doctor")
    assert code == 0, out + err
    assert lines(out, "✗") == []
    text = "\n".join(lines(out, "✓"))
    for piece in ("python: Python 3.", "credenza: credenza", "config:", "keyring:", "agent:"):
        assert piece in text
    assert f"endpoint {sandbox.issuer}: answers" in text
    assert "completion: installed for bash" in text
    registered = next(iter(sandbox.state.clients.values())).client_secret
    assert registered not in out + err  # no secret is printed (none is read)
    code, out, _ = cli("doctor", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert {check["kind"] for check in report["checks"]} >= {
        "python",
        "config",
        "keyring",
        "agent",
        "endpoint",
        "completion",
    }
    keyring_check = next(c for c in report["checks"] if c["kind"] == "keyring")
    assert isinstance(keyring_check["elapsed_ms"], float)


def test_no_keyring_is_named_with_the_way_to_get_one(cli: CliRunner, healthy: Path) -> None:
    # The memory keyring fixture restores its own after.
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad.startswith("✗ keyring:")
    assert "fail.Keyring" in bad
    assert "`credenza keyring use file`" in bad


def test_a_config_error_is_named_with_its_file_and_line(
    cli: CliRunner, healthy: Path, config_path: Path
) -> None:
    config_path.write_text(config_path.read_text() + "\n[settings\n")
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad.startswith(f"✗ config: {config_path}:")
    assert "invalid TOML" in bad
    assert "✓ python" in out  # the other checks still run


def test_an_unreachable_endpoint_is_named(
    cli: CliRunner, healthy: Path, sandbox: SandboxServer
) -> None:
    dead = closed_port()
    cli("app", "add", "Gone")
    cli("env", "add", "gone", "production", "--client-id", "x", "--token-url", dead)
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    origin = dead.rsplit("/", 1)[0]
    assert bad.startswith(f"✗ endpoint {origin}: unreachable")
    assert f"✓ endpoint {sandbox.issuer}" in out


@pytest.fixture
def skewed_server() -> Iterator[str]:
    """A token endpoint whose clock is 5 minutes ahead of ours."""

    async def answer(request: Request) -> Response:
        ahead = datetime.now(UTC) + timedelta(minutes=5)
        return Response(b"", status_code=405, headers={"date": format_datetime(ahead, True)})

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "HEAD", "POST"])])
    with serve(app, date_header=False) as server:
        yield f"{server.issuer}/oauth/token"


def test_a_provider_clock_five_minutes_off_is_named(
    cli: CliRunner, healthy: Path, skewed_server: str
) -> None:
    cli("app", "add", "Skewed")
    cli("env", "add", "skewed", "production", "--client-id", "x", "--token-url", skewed_server)
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad.startswith(f"✗ endpoint {skewed_server.rsplit('/', 2)[0]}: answers (HTTP 405")
    assert "s ahead of ours" in bad
    assert "clock" in bad
    code, out, _ = cli("doctor", "--json")
    [check] = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert 290 <= check["offset_seconds"] <= 310


def test_a_machine_setting_in_the_shared_config_is_to_be_moved(
    cli: CliRunner, healthy: Path, config_path: Path
) -> None:
    config_path.write_text(config_path.read_text() + '\n[settings]\nagent = "off"\n')
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad.startswith("✗ settings agent:")
    assert str(config_path) in bad
    assert "`credenza settings set agent off`" in bad
    # The advice followed: kept for oneself, gone from the shared file.
    assert cli("settings", "set", "agent", "off")[0] == 0
    config_path.write_text(config_path.read_text().replace('agent = "off"\n', ""))
    assert cli("doctor")[0] == 0


def test_a_stale_agent_socket_is_named(cli: CliRunner, healthy: Path, tmp_path: Path) -> None:
    path = tmp_path / "agent" / "agent.sock"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))  # bound, never listening, then closed: what a killed agent leaves
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad.startswith(f"✗ agent: a stale socket at {path}")


def test_completion_not_installed_says_the_command_that_installs_it(
    cli: CliRunner, healthy: Path
) -> None:
    healthy.unlink()
    code, out, _ = cli("doctor")
    assert code == 1
    [bad] = lines(out, "✗")
    assert bad == f"✗ completion: not installed for bash — credenza completion bash > {healthy}"
