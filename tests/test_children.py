"""SECURITY.md promise 30: what credenza starts gets what it was promised, nothing more.

Real processes each time: the command `credenza exec` runs, the browser a sign-in opens (a
$BROWSER script) and the agent a `credenza token` starts, each showing its own environment.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from credenza.agent import client as agent
from credenza.children import AGENT_VARIABLES, SECRET_VARIABLES
from credenza.sandbox import SandboxServer, SandboxState
from tests.agent.test_autostart import (  # noqa: F401 - fixtures
    PASSPHRASE,
    Credenza,
    add_application,
    credenza,
    socket_path,
)
from tests.cli.test_login import add_pipedrive
from tests.conftest import CliRunner, add_telenor_via_cli
from tests.servers import free_callback

# A dump of the process's own environment, as JSON on stdout.
DUMP = "import os, json; print(json.dumps(dict(os.environ)))"
# What the caller has: the file keyring's passphrase, and (inside an `exec --client-credentials`
# of another application) that application's token and client secret.
CALLER = {
    "CREDENZA_KEYRING_PASSPHRASE": "the-keyring-passphrase",
    "CREDENZA_CLIENT_SECRET": "outer-client-secret",
    "CREDENZA_CLIENT_ID": "outer-client",
    "CREDENZA_ACCESS_TOKEN": "outer-access-token",
    "NOT_A_SECRET": "kept",
}


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CALLER.items():
        monkeypatch.setenv(name, value)


def child_environment(out: str) -> dict[str, str]:
    line = next(line for line in out.splitlines() if line.startswith("{"))
    environment: dict[str, str] = json.loads(line)
    return environment


def test_an_exec_child_gets_the_token_variables_and_no_secret_of_the_caller(
    cli: CliRunner, sandbox: SandboxServer, caller: None
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, out, err = cli("exec", "telenor-sms", "--", sys.executable, "-c", DUMP)
    assert code == 0, err
    child = child_environment(out)
    assert "CREDENZA_KEYRING_PASSPHRASE" not in child
    assert "CREDENZA_CLIENT_SECRET" not in child  # not asked for here: the outer one is gone
    assert "CREDENZA_CLIENT_ID" not in child
    assert child["CREDENZA_ACCESS_TOKEN"] in sandbox.state.tokens  # this exec's own token
    assert child["CREDENZA_TOKEN_TYPE"] == "Bearer"
    assert child["CREDENZA_TOKEN_EXPIRES_AT"]
    assert child["NOT_A_SECRET"] == "kept"  # the rest of the caller's environment
    assert not set(CALLER.values()) - {"kept"} & set(child.values())


def test_exec_client_credentials_promises_this_client_secret_and_still_not_the_passphrase(
    cli: CliRunner, sandbox: SandboxServer, caller: None
) -> None:
    add_telenor_via_cli(cli, sandbox)
    registered = sandbox.state.clients["tsms-prod"].client_secret
    code, out, err = cli(
        "exec", "telenor-sms", "--client-credentials", "--", sys.executable, "-c", DUMP
    )
    assert code == 0, err
    child = child_environment(out)
    assert child["CREDENZA_CLIENT_ID"] == "tsms-prod"
    assert child["CREDENZA_CLIENT_SECRET"] == registered
    assert "CREDENZA_KEYRING_PASSPHRASE" not in child


@pytest.fixture
def approving() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300, auto_approve=True)) as server:
        yield server


def browser_script(tmp_path: Path) -> tuple[Path, Path]:
    """A $BROWSER that writes its environment to a file, then, in the background (the way a
    browser returns at once), follows the sign-in to credenza's callback as a person would."""
    dump = tmp_path / "browser-environment.json"
    visitor = tmp_path / "visit.py"
    visitor.write_text(
        "import sys, urllib.request\n"
        "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        "opener.open(sys.argv[1], timeout=10).read()\n"
    )
    script = tmp_path / "browser.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"'{sys.executable}' -c 'import os, json, sys; json.dump(dict(os.environ), "
        f"open(sys.argv[1], \"w\"))' '{dump}'\n"
        f"'{sys.executable}' '{visitor}' \"$1\" </dev/null >/dev/null 2>&1 &\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, dump


def test_the_browser_a_sign_in_opens_gets_no_secret_variable(
    cli: CliRunner,
    approving: SandboxServer,
    caller: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_pipedrive(cli, approving, free_callback("/pipedrive/callback"))
    script, dump = browser_script(tmp_path)
    monkeypatch.setenv("BROWSER", str(script))
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    code, _, err = cli("login", "pipedrive-crm", "--timeout", "30")
    assert code == 0, err
    assert "Signed in to Pipedrive CRM / production" in err
    seen = json.loads(dump.read_text())
    assert not SECRET_VARIABLES & set(seen)
    assert not {"CREDENZA_CLIENT_ID", "CREDENZA_TOKEN_TYPE"} & set(seen)  # an outer exec's
    assert not set(CALLER.values()) - {"kept"} & set(seen.values())
    assert seen["NOT_A_SECRET"] == "kept"  # the desktop session's variables reach it


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="no /proc here")
def test_an_auto_started_agent_holds_no_secret_of_the_command_that_started_it(
    credenza: Credenza,  # noqa: F811 - the fixture imported above
    sandbox: SandboxServer,
    socket_path: Path,  # noqa: F811
) -> None:
    add_application(credenza, sandbox)
    # What a shell has after `export NEW_SECRET=...; credenza secret set --from-env NEW_SECRET`,
    # inside an `exec --client-credentials` of another application.
    first = credenza(
        "token",
        "auto",
        NEW_SECRET="the-from-env-secret",
        CREDENZA_CLIENT_SECRET="outer-client-secret",
        CREDENZA_ACCESS_TOKEN="outer-access-token",
    )
    assert first.returncode == 0, first.stderr
    status = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert status is not None
    assert status["tokens"] == 1  # it works on what it was given
    raw = Path(f"/proc/{status['pid']}/environ").read_bytes()
    held = dict(entry.split("=", 1) for entry in raw.decode().split("\0") if entry and "=" in entry)
    assert "CREDENZA_CLIENT_SECRET" not in held
    assert "NEW_SECRET" not in held
    assert "CREDENZA_KEYRING_PASSPHRASE" not in held
    for value in ("the-from-env-secret", "outer-client-secret", "outer-access-token", PASSPHRASE):
        assert value.encode() not in raw
    assert {k for k in held if not k.startswith("LC_")} <= AGENT_VARIABLES
    assert held["CREDENZA_AGENT_SOCKET"] == str(socket_path)
    assert os.environ["PATH"] == held["PATH"]
