"""Keep-fresh that persists: the agent renews the tokens a person chose ahead of expiry, against
the sandbox with a few seconds' token lifetime, so that `credenza token` is answered from memory;
the choice lives in their keep file and survives the agent's restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from credenza.__main__ import main
from credenza.agent import client as agent
from credenza.agent.protocol import cache_key, config_key
from credenza.agent.server import Agent
from credenza.cli.keeper import WorkspaceKeeper
from credenza.config.keep import keep_path, read_kept
from credenza.config.store import ConfigStore
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import SecretStore
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE, FileKeyring
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app, add_telenor_via_cli
from tests.grants_helpers import add_user_app
from tests.servers import free_callback

T = TypeVar("T")
TTL = 4  # seconds: renewed 2 s before expiry (half the lifetime), twice per lifetime


def wait_for(condition: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``condition`` until it gives something truthy (the condition, never a set time)."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)


@pytest.fixture
def short_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=TTL, auto_approve=True)) as server:
        yield server


@pytest.fixture
def short_config(config_path: Path) -> Path:
    """A config whose tokens count as fresh until a second before expiry (default: a minute,
    longer than the sandbox's lifetime here)."""
    config_path.parent.mkdir(parents=True)
    config_path.write_text("[settings]\ntoken_skew_seconds = 1\n")
    return config_path


class Agents:
    """Agents in this process, each with the keeper `credenza agent start` gives it, on one
    private socket; each is stopped at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.running: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    def start(self) -> None:
        server = Agent(self.path, idle_timeout=60, keeper=WorkspaceKeeper())
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(server.run(),))
        thread.start()
        self.running.append((loop, thread))
        wait_for(lambda: agent.request({"op": "ping"}, path=self.path) is not None)

    def stop(self) -> None:
        loop, thread = self.running.pop()
        agent.request({"op": "stop"}, path=self.path)
        thread.join(10)
        assert not thread.is_alive()
        loop.close()

    def kept(self) -> list[dict[str, Any]]:
        answer = agent.request({"op": "kept"}, path=self.path)
        assert answer is not None
        return list(answer["kept"])


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agents]:
    path = tmp_path / "agent" / "agent.sock"
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(path))
    held = Agents(path)
    yield held
    while held.running:
        held.stop()


def token_calls(server: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in server.state.requests if r["path"] == "/oauth/token"]


def access_tokens(server: SandboxServer) -> list[str]:
    """Every access token the sandbox issued, in order."""
    with server.state.lock:
        return [token for token, issued in server.state.tokens.items() if issued.kind == "access"]


def renewals(agents: Agents, at_least: int) -> dict[str, Any] | None:
    kept = agents.kept()
    return kept[0] if kept and kept[0]["renewals"] >= at_least else None


def fast_token(
    config: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str
) -> str:
    """`credenza token` as a script runs it, answered by the agent: the full CLI (which could
    fetch) must not run at all."""

    def full_cli(argv: list[str]) -> int:
        raise AssertionError(f"the full CLI ran: {argv}")

    monkeypatch.setattr("credenza.cli.run", full_cli)
    capfd.readouterr()
    assert main(["token", "--config", str(config), *argv]) == 0
    return capfd.readouterr().out.strip()


def test_a_kept_token_is_renewed_before_it_expires_and_answered_without_the_network(
    cli: CliRunner,
    short_sandbox: SandboxServer,
    short_config: Path,
    agents: Agents,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_telenor_via_cli(cli, short_sandbox)
    agents.start()
    code, _, err = cli("agent", "keep", "telenor-sms", "--env", "production")
    assert code == 0, err
    assert "kept fresh: Telenor SMS / production" in err
    # No credenza command runs from here on: the agent renews on its own.
    wait_for(lambda: renewals(agents, 2))
    issued = [short_sandbox.state.tokens[token] for token in access_tokens(short_sandbox)]
    assert len(issued) >= 2
    assert issued[1].issued_at < issued[0].expires_at  # renewed before the first expired
    before = len(token_calls(short_sandbox))
    latest = access_tokens(short_sandbox)[-1]
    assert fast_token(short_config, capfd, monkeypatch, "telenor-sms") == latest
    assert len(token_calls(short_sandbox)) == before
    # The keep file names the config, the workspace and the environment; no secret.
    text = keep_path().read_text()
    assert str(short_config.resolve()) in text
    assert "production" in text
    assert latest not in text
    assert oct(keep_path().stat().st_mode & 0o777) == "0o600"
    assert oct(keep_path().parent.stat().st_mode & 0o777) == "0o700"
    # And the agent's view for scripts.
    code, out, _ = cli("agent", "list", "--json")
    listed = json.loads(out)
    assert listed["agent_running"] is True
    assert listed["kept"][0]["application"] == "telenor-sms"
    assert listed["kept"][0]["expires_at"] is not None
    assert listed["kept"][0]["error"] is None


def test_the_choice_survives_an_agent_restart_and_unkeep_ends_it(
    cli: CliRunner, short_sandbox: SandboxServer, short_config: Path, agents: Agents
) -> None:
    add_telenor_via_cli(cli, short_sandbox)
    agents.start()
    code, _, err = cli("token", "telenor-sms", "--keep-fresh")
    assert code == 0, err
    wait_for(lambda: renewals(agents, 1))
    agents.stop()
    # A new agent knows nothing but the keep file, and resumes from it.
    issued_before = len(access_tokens(short_sandbox))
    agents.start()
    wait_for(lambda: renewals(agents, 1))
    assert len(access_tokens(short_sandbox)) > issued_before
    code, _, err = cli("agent", "unkeep", "telenor-sms")
    assert code == 0, err
    assert "no longer kept fresh: telenor-sms / production" in err
    assert read_kept(keep_path()) == []
    wait_for(lambda: agents.kept() == [])
    stopped_at = len(token_calls(short_sandbox))
    # What the agent held runs out (a second before expiry, past when it was due for renewal)
    # and no renewal came.
    key = cache_key(config_key(str(short_config)), "telenor-sms", None, [])
    wait_for(lambda: agent.lookup(key, path=str(agents.path)) is None)
    assert len(token_calls(short_sandbox)) == stopped_at


def test_a_signed_in_persons_token_is_kept_fresh_with_its_refresh_token(
    cli: CliRunner,
    short_sandbox: SandboxServer,
    short_config: Path,
    agents: Agents,
    browser: list[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    callback = free_callback("/pipedrive/callback")
    add_user_app(cli, short_sandbox, callback, callback=callback)
    code, _, err = cli("login", "pipedrive-crm")
    assert code == 0, err
    agents.start()
    assert cli("agent", "keep", "pipedrive-crm")[0] == 0
    wait_for(lambda: renewals(agents, 2))
    grants = [r["form"].get("grant_type") for r in token_calls(short_sandbox)]
    assert grants[0] == "authorization_code"
    assert set(grants[1:]) == {"refresh_token"}  # never another sign-in, never a client grant
    before = len(token_calls(short_sandbox))
    latest = access_tokens(short_sandbox)[-1]
    assert fast_token(short_config, capfd, monkeypatch, "pipedrive-crm") == latest
    assert len(token_calls(short_sandbox)) == before


def test_a_failing_renewal_is_reported_by_status_and_retried_with_backoff(
    cli: CliRunner, short_sandbox: SandboxServer, short_config: Path, agents: Agents
) -> None:
    add_telenor_via_cli(cli, short_sandbox)
    assert cli("token", "telenor-sms")[0] == 0
    # The secret changes at the provider (a teammate's reset): every renewal now fails.
    short_sandbox.state.reset_secret("tsms-prod")
    changed_at = len(token_calls(short_sandbox))
    agents.start()
    assert cli("agent", "keep", "telenor-sms")[0] == 0
    failed = wait_for(lambda: [k for k in agents.kept() if k["failures"] >= 2])[0]
    # One token call per failed try, none in between: retried after a backoff, not in a loop.
    assert len(token_calls(short_sandbox)) - changed_at == failed["failures"]
    assert failed["error"]
    _, out, _ = cli("status", "--json")
    assert "refresh_failed" in out
    assert "telenor-sms" in out
    _, out, _ = cli("agent", "list")
    assert "failed:" in out


def test_the_backoff_grows_and_a_renewal_resets_it(tmp_path: Path) -> None:
    """The agent's own schedule on a frozen clock: 1 s, 2 s, 4 s after each failure."""

    class Failing:
        def entries(self) -> dict[str, dict[str, Any]]:
            return {"x": {"application": "a", "environment": "e"}}

        def renew(self, entry_id: str) -> dict[str, Any]:
            raise RuntimeError("invalid_client: the secret is wrong")

    now = [1000.0]
    server = Agent(tmp_path / "a.sock", clock=lambda: now[0], keeper=Failing())

    async def tries() -> list[float]:
        server._wake = asyncio.Event()
        await server._read_kept()
        state = server.kept["x"]
        waits = []
        for _ in range(3):
            assert server._due(state) <= now[0]
            await server._renew("x", state)
            waits.append(server._due(state) - now[0])
            now[0] = server._due(state)
        return waits

    assert asyncio.run(tries()) == [1.0, 2.0, 4.0]
    assert (
        server.handle({"op": "kept"})["kept"][0]["error"] == "invalid_client: the secret is wrong"
    )


def test_a_drop_renews_at_once_but_a_renewals_own_drop_does_not(tmp_path: Path) -> None:
    """A person's renewal drops the agent's old copies as it stores the new token (so that no
    old one is handed out): that must not set off another renewal; a drop from elsewhere (a
    secret changed) renews at once."""
    tag = "/config\x1fpipedrive-crm\x1fproduction"
    now = [1000.0]
    server: Agent

    class SelfDropping:
        def entries(self) -> dict[str, dict[str, Any]]:
            return {"x": {"application": "pipedrive-crm", "environment": "production"}}

        def renew(self, entry_id: str) -> dict[str, Any]:
            server.handle({"op": "drop", "tag": tag})
            put = {"op": "put", "key": "k", "tags": [tag], "token": "t", "expires": now[0] + 100}
            return {"puts": [put], "expires": now[0] + 100, "issued": now[0], "skew": 1}

    server = Agent(tmp_path / "a.sock", clock=lambda: now[0], keeper=SelfDropping())

    async def renewals() -> tuple[float, float]:
        server._wake = asyncio.Event()
        await server._read_kept()
        state = server.kept["x"]
        await server._renew("x", state)
        after_own = server._due(state)
        assert server.handle({"op": "get", "key": "k"})["token"] == "t"  # the put went through
        server.handle({"op": "drop", "tag": tag})
        return after_own, server._due(state)

    after_own, after_drop = asyncio.run(renewals())
    assert after_own == 1000.0 + 50  # half the lifetime before expiry, not now
    assert after_drop <= now[0]


# -- a real agent process, auto-started -----------------------------------------------------------

PASSPHRASE = "tr0ub4dor&3"


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """Every agent found on this test's socket at the end is stopped, then killed."""
    path = tmp_path / "run" / "agent.sock"
    yield path
    stop_agent(path)


def stop_agent(path: Path) -> None:
    answer = agent.request({"op": "ping"}, path=path, wait_for_start=False)
    if answer is None:
        return
    agent.request({"op": "stop"}, path=path, wait_for_start=False)
    pid = int(answer["pid"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """False once the process has ended, reaped or not (its parent, init here, reaps it when
    it gets round to it; a zombie holds no socket or lock)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_an_auto_started_agent_process_keeps_the_token_fresh_and_resumes_after_a_restart(
    tmp_path: Path, socket_path: Path, short_sandbox: SandboxServer
) -> None:
    config = tmp_path / "config" / "credenza.toml"
    config.parent.mkdir()
    config.write_text('[settings]\nkeyring = "file"\ntoken_skew_seconds = 1\n')
    data = tmp_path / "data"
    keyring = FileKeyring(
        data / "credenza" / "keyring.enc",
        passphrase=lambda prompt, new: PASSPHRASE,
        cost=2**10,
        use_agent=False,
    )
    keyring.prepare()
    # Set up in this process (as `app add`, `env add`, `secret set` would), into the same files.
    workspace = Workspace(store=ConfigStore(config), secrets=SecretStore(keyring))
    add_sandbox_app(workspace, short_sandbox)
    environment = {
        **os.environ,
        "CREDENZA_CONFIG": str(config),
        "CREDENZA_AGENT_SOCKET": str(socket_path),
        "XDG_DATA_HOME": str(data),
        PASSPHRASE_VARIABLE: PASSPHRASE,
    }
    environment.pop("CREDENZA_AGENT")  # the suite turns auto-start off; this test is about it

    def credenza(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "credenza", *argv],
            capture_output=True,
            text=True,
            env=environment,
            timeout=30,
            check=False,
        )

    def kept() -> list[dict[str, Any]]:
        answer = agent.request({"op": "kept"}, path=socket_path, wait_for_start=False)
        return list(answer["kept"]) if answer else []

    first = credenza("token", "telenor-sms", "--keep-fresh")
    assert first.returncode == 0, first.stderr
    printed = first.stdout.strip()
    assert printed in access_tokens(short_sandbox)
    # The agent process got a token of its own: no command asked for one. (Counted against the
    # token the command printed, not the tokens issued when it returned: the agent may have
    # fetched its own by then.)
    wait_for(lambda: [k for k in kept() if k["renewals"] >= 1])
    assert [token for token in access_tokens(short_sandbox) if token != printed]
    pid = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert pid is not None
    stop_agent(socket_path)
    # As after a machine restart: the next `credenza token` starts an agent, which resumes.
    again = credenza("token", "telenor-sms")
    assert again.returncode == 0, again.stderr
    wait_for(lambda: [k for k in kept() if k["renewals"] >= 1 and k["error"] is None])
    now = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert now is not None
    assert now["pid"] != pid["pid"]
    assert now["kept"] == 1


def test_keep_needs_a_known_application_and_removing_one_stops_keeping_it(
    cli: CliRunner, short_sandbox: SandboxServer, short_config: Path
) -> None:
    add_telenor_via_cli(cli, short_sandbox)
    code, _, err = cli("agent", "keep")
    assert code == 2
    assert "needs the application" in err
    code, _, err = cli("agent", "keep", "no-such-app")
    assert code == 2
    assert read_kept(keep_path()) == []
    assert cli("agent", "keep", "telenor-sms")[0] == 0
    [entry] = read_kept(keep_path())
    assert (entry.application, entry.environment, entry.scopes) == ("telenor-sms", "production", ())
    _, out, _ = cli("agent", "list")
    assert "telenor-sms" in out
    assert "(no agent)" in out
    code, _, err = cli("app", "remove", "telenor-sms", "--yes")
    assert code == 0, err
    assert read_kept(keep_path()) == []


def test_an_agent_with_nothing_kept_imports_neither_the_workspace_nor_httpx(
    tmp_path: Path, socket_path: Path
) -> None:
    environment = {**os.environ, "CREDENZA_AGENT_SOCKET": str(socket_path)}
    started = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "credenza", "agent", "start"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = wait_for(lambda: agent.request({"op": "ping"}, path=socket_path))
        assert ready["kept"] == 0
        agent.request({"op": "stop"}, path=socket_path)
        _, err = started.communicate(timeout=10)
    finally:
        if started.poll() is None:
            started.kill()
            started.wait()
    imported = {line.rpartition("|")[2].strip() for line in err.splitlines() if "|" in line}
    assert "credenza.config.keep" in imported  # it did read the (empty) keep file
    assert "credenza.workspace" not in imported
    assert "httpx" not in imported
