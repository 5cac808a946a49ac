"""The token agent, the fast path of `credenza token`, and `credenza exec`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from credenza.agent import client as agent
from credenza.agent import protocol
from credenza.agent.server import Agent
from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner, add_telenor_via_cli


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_agent_serves_until_the_skew_then_misses() -> None:
    clock = Clock()
    store = Agent(Path("/unused"), clock=clock)
    store.handle({"op": "put", "key": "k", "token": "t", "expires": clock.now + 120, "skew": 60})
    assert store.handle({"op": "get", "key": "k"})["token"] == "t"
    clock.now += 61
    assert store.handle({"op": "get", "key": "k"}) == {"miss": True}
    clock.now += 60
    store.handle({"op": "ping"})
    assert store.tokens == {}  # expired tokens are dropped, not kept


def test_agent_drops_every_alias_filed_under_a_tag() -> None:
    store = Agent(Path("/unused"))
    for key, app, env in (
        ("by-id", "app", "prod"),
        ("by-name", "app", "sandbox"),
        ("o", "other", "prod"),
    ):
        tags = [f"c\x1f{app}", f"c\x1f{app}\x1f{env}"]
        store.handle({"op": "put", "key": key, "tags": tags, "token": "t", "expires": None})
    store.handle({"op": "drop", "tag": "c\x1fapp\x1fprod"})
    assert sorted(store.tokens) == ["by-name", "o"]
    store.handle({"op": "drop", "tag": "c\x1fapp"})
    assert list(store.tokens) == ["o"]


def test_the_socket_is_user_only_and_gone_after_stop(running_agent: Path) -> None:
    assert oct(running_agent.stat().st_mode & 0o777) == "0o600"
    assert oct(running_agent.parent.stat().st_mode & 0o777) == "0o700"
    assert agent.request({"op": "stop"}) == {"ok": True}
    for _ in range(200):
        if not running_agent.exists():
            break
        threading.Event().wait(0.01)
    assert not running_agent.exists()


def test_no_agent_means_the_full_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "none.sock"))
    assert agent.try_agent(["token", "app"]) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["app", "list"],
        ["token"],
        ["token", "app", "--no-cache"],
        ["token", "app", "--help"],
        ["token", "a", "b"],
    ],
)
def test_the_fast_path_leaves_everything_unusual_to_the_cli(argv: list[str]) -> None:
    assert agent.parse(argv) is None


def test_cli_hands_tokens_to_the_agent_and_the_fast_path_answers(
    running_agent: Path,
    sandbox: SandboxServer,
    config_path: Path,
    cli: CliRunner,
    capfd: pytest.CaptureFixture[str],
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, out, _ = cli("token", "telenor-sms", "--env", "production")
    assert code == 0
    token = out.strip()
    requests_before = len(sandbox.state.requests)
    assert (
        agent.try_agent(
            ["token", "telenor-sms", "--config", str(config_path), "--env", "production"]
        )
        == 0
    )
    assert capfd.readouterr().out.strip() == token
    assert len(sandbox.state.requests) == requests_before  # answered from memory
    # Another environment or other scopes never get this token.
    assert (
        agent.try_agent(["token", "telenor-sms", "--config", str(config_path), "--env", "sandbox"])
        is None
    )
    assert (
        agent.try_agent(
            [
                "token",
                "telenor-sms",
                "--config",
                str(config_path),
                "--env",
                "production",
                "--scope",
                "x",
            ]
        )
        is None
    )
    # Revoking drops it from the agent too.
    assert cli("revoke", "telenor-sms", "--env", "production")[0] == 0
    assert (
        agent.try_agent(
            ["token", "telenor-sms", "--config", str(config_path), "--env", "production"]
        )
        is None
    )


def test_the_fast_path_imports_nothing_heavy(running_agent: Path, tmp_path: Path) -> None:
    config = str(tmp_path / "c.toml")
    agent.request(
        {
            "op": "put",
            "key": protocol.cache_key(protocol.config_key(config), "app", None, []),
            "token": "tok-123",
            "expires": None,
        }
    )
    code = (
        "import sys; from credenza.__main__ import main; rc = main(['token', 'app', '--config', sys.argv[1]]); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual', 'httpx', 'keyring', 'msgspec', 'asyncio', 'json', 're', 'pathlib'} | ({'credenza.cli'} & set(sys.modules))); "
        "print(rc, heavy, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, config],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    assert result.stdout == "tok-123\n"
    assert result.stderr.strip() == "0 []"


def test_exec_puts_the_token_in_the_environment_never_argv(
    sandbox: SandboxServer, cli: CliRunner
) -> None:
    add_telenor_via_cli(cli, sandbox)
    secret = sandbox.state.clients["tsms-prod"].client_secret
    child = (
        "import os, sys; print(os.environ['CREDENZA_ACCESS_TOKEN']); print(os.environ['CREDENZA_TOKEN_TYPE']); "
        "print('SECRET' if 'CREDENZA_CLIENT_SECRET' in os.environ else 'none'); print(repr(sys.argv)); sys.exit(7)"
    )
    code, out, err = cli("exec", "telenor-sms", "--", sys.executable, "-c", child)
    assert code == 7, err  # the child's exit code passes through
    token, token_type, has_secret, argv = out.splitlines()
    assert token.count(".") == 2
    assert token_type == "Bearer"
    assert has_secret == "none"
    assert token not in argv
    os.environ["EXPECTED"] = secret
    try:
        code, out, _ = cli(
            "exec",
            "telenor-sms",
            "--client-credentials",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['CREDENZA_CLIENT_ID'], os.environ['CREDENZA_CLIENT_SECRET'] == os.environ['EXPECTED'])",
        )
    finally:
        del os.environ["EXPECTED"]
    assert code == 0
    assert out.strip() == "tsms-prod True"


def test_the_fast_path_loads_the_agents_client_and_nothing_it_does_not_need(
    running_agent: Path, tmp_path: Path
) -> None:
    """What runs before the socket call: the client, the wire format and the paths; not the
    server, not `socket` (enum, selectors), not typing, not platformdirs."""
    config = str(tmp_path / "c.toml")
    agent.request(
        {
            "op": "put",
            "key": protocol.cache_key(protocol.config_key(config), "app", None, []),
            "token": "tok-123",
            "expires": None,
        }
    )
    code = (
        "import sys; from credenza.__main__ import main; "
        "rc = main(['token', 'app', '--config', sys.argv[1]]); "
        "ours = sorted(m for m in sys.modules if m.split('.')[0] == 'credenza'); "
        "other = sorted({'socket', 'selectors', 'enum', 'typing', 'platformdirs'} & set(sys.modules)); "
        "print(rc, ours, other, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, config],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    assert result.stdout == "tok-123\n"
    loaded = [
        "credenza",
        "credenza.__main__",
        "credenza.agent",
        "credenza.agent.client",
        "credenza.agent.protocol",
        "credenza.locations",
    ]
    assert result.stderr.strip() == f"0 {loaded} []"
