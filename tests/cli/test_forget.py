"""`credenza forget --all`: what a workspace left on this machine goes before an uninstall —
every keyring entry of its environments, its local state, the agent — and the config stays."""

from __future__ import annotations

import tomllib
from pathlib import Path

from credenza.agent import client as agent
from credenza.config.local import state_path
from credenza.sandbox import SandboxServer
from credenza.secrets import names
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


def test_forget_all_leaves_no_keyring_entry_no_local_state_and_no_agent(
    cli: CliRunner,
    sandbox: SandboxServer,
    config_path: Path,
    memory_keyring: MemoryKeyring,
    running_agent: Path,
) -> None:
    add_telenor_via_cli(cli, sandbox)
    assert cli("token", APP)[0] == 0  # a cached token, in the keyring and the agent
    # A reset left unfinished and a person signed in: their entries too.
    workspace = tomllib.loads(config_path.read_text())["workspace"]
    pending = names.in_workspace(workspace, names.pending_secret(APP, "production"))
    memory_keyring.set_password(names.SERVICE, pending, "p")
    memory_keyring.set_password(
        names.SERVICE, names.in_workspace(workspace, names.user_token(APP, "production")), "{}"
    )
    memory_keyring.set_password("someone-else", "unrelated", "kept")
    shared = config_path.read_bytes()
    assert any(service == names.SERVICE for service, _ in memory_keyring.entries)
    assert state_path().read_text().strip()

    code, _, err = cli("forget", "--all")  # no terminal, no --yes: refused, nothing removed
    assert code == 2
    assert "--yes" in err
    assert memory_keyring.get_password(names.SERVICE, pending)

    code, _, err = cli("forget", "--all", "--yes")
    assert code == 0, err
    assert [key for key in memory_keyring.entries if key[0] == names.SERVICE] == []
    assert memory_keyring.entries == {("someone-else", "unrelated"): "kept"}
    assert all(table == {} for table in tomllib.loads(state_path().read_text()).values())
    assert agent.request({"op": "ping"}, path=running_agent, wait_for_start=False) is None
    assert config_path.read_bytes() == shared
    assert "the agent was stopped" in err


def test_forget_without_all_says_what_it_takes(cli: CliRunner) -> None:
    code, _, err = cli("forget")
    assert code == 2
    assert "`credenza forget --all`" in err
