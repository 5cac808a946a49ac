"""The agent starts itself: the first `credenza token` starts it, the second is answered by it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credenza.agent import client as agent
from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE, FileKeyring

PASSPHRASE = "tr0ub4dor&3"

Credenza = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """A socket of this test's own; every agent found on it at the end is stopped, then killed."""
    path = tmp_path / "run" / "agent.sock"
    yield path
    answer = agent.request({"op": "ping"}, path=path, wait_for_start=False)
    if answer is None:
        return
    agent.request({"op": "stop"}, path=path, wait_for_start=False)
    pid = int(answer["pid"])
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.025)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def credenza(tmp_path: Path, socket_path: Path) -> Credenza:
    """credenza as a user runs it, with the file keyring (no Secret Service needed) and the
    agent left to start itself."""
    config = tmp_path / "config" / "credenza.toml"
    config.parent.mkdir()
    config.write_text('[settings]\nkeyring = "file"\n')
    data = tmp_path / "data"
    # The file keyring exists already, at a low scrypt cost (a parameter of the file).
    FileKeyring(
        data / "credenza" / "keyring.enc",
        passphrase=lambda prompt, new: PASSPHRASE,
        cost=2**10,
        use_agent=False,
    ).prepare()
    SecretStore(
        FileKeyring(
            data / "credenza" / "keyring.enc",
            passphrase=lambda prompt, new: PASSPHRASE,
            cost=2**10,
            use_agent=False,
        )
    ).set_raw("setup", "done")
    base = {
        **os.environ,
        "CREDENZA_CONFIG": str(config),
        "CREDENZA_AGENT_SOCKET": str(socket_path),
        "XDG_DATA_HOME": str(data),
        PASSPHRASE_VARIABLE: PASSPHRASE,
    }
    base.pop("CREDENZA_AGENT")  # the suite turns auto-start off; these tests are about it

    def run(*argv: str, stdin: str = "", **env: str | None) -> subprocess.CompletedProcess[str]:
        environment = dict(base)
        for key, value in env.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run(
            [sys.executable, "-m", "credenza", *argv],
            input=stdin,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,  # no terminal: a passphrase prompt would fail, not wait
        )

    return run


def add_application(credenza: Credenza, sandbox: SandboxServer) -> None:
    client = sandbox.state.add_client({"client_id": "auto-prod", "scope": "read"})
    for step in (
        credenza("app", "add", "Auto"),
        credenza(
            "env",
            "add",
            "auto",
            "production",
            "--client-id",
            "auto-prod",
            "--issuer",
            sandbox.issuer,
        ),
        credenza("secret", "set", "auto", "production", stdin=client.client_secret),
    ):
        assert step.returncode == 0, step.stderr


def test_the_second_token_call_is_answered_by_the_agent_the_first_started(
    credenza: Credenza, sandbox: SandboxServer, socket_path: Path
) -> None:
    add_application(credenza, sandbox)
    assert agent.request({"op": "ping"}, path=socket_path, wait_for_start=False) is None
    first = credenza("token", "auto")
    assert first.returncode == 0, first.stderr
    status = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert status is not None
    assert status["tokens"] == 1
    assert status["keys"] == 1  # it holds the file keyring's derived key, not the passphrase
    assert status["idle_timeout"] == agent.AUTOSTART_IDLE_TIMEOUT
    # Only the agent can answer now: no keyring file, no passphrase, no token endpoint.
    sandbox.stop()
    second = credenza(
        "token",
        "auto",
        XDG_DATA_HOME=str(socket_path.parent / "nothing"),
        **{PASSPHRASE_VARIABLE: None},
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    again = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert again is not None
    assert again["pid"] == status["pid"]  # the same agent, not a second one


def test_the_agent_hands_the_derived_key_to_later_commands(
    credenza: Credenza, sandbox: SandboxServer, socket_path: Path
) -> None:
    add_application(credenza, sandbox)
    assert credenza("token", "auto").returncode == 0
    # No passphrase anywhere and no terminal: the keyring opens with the key the agent holds.
    fresh = credenza("token", "auto", "--no-cache", **{PASSPHRASE_VARIABLE: None})
    assert fresh.returncode == 0, fresh.stderr


def test_agent_off_starts_nothing(
    credenza: Credenza, sandbox: SandboxServer, socket_path: Path, tmp_path: Path
) -> None:
    add_application(credenza, sandbox)
    config = tmp_path / "config" / "credenza.toml"
    config.write_text(
        config.read_text().replace('keyring = "file"', 'keyring = "file"\nagent = "off"')
    )
    assert credenza("token", "auto").returncode == 0
    assert agents_for(socket_path) == []
    assert credenza("token", "auto", CREDENZA_AGENT="off").returncode == 0
    assert agents_for(socket_path) == []
    assert agent.request({"op": "ping"}, path=socket_path, wait_for_start=False) is None


def agents_for(socket: Path) -> list[int]:
    """The agents started for ``socket``: one started in the background exists from the moment
    it is spawned, before the command that spawned it returns (no waiting for it to listen)."""
    marker = f"CREDENZA_AGENT_SOCKET={socket}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or another user's
            continue
        if b"agent" in command and b"start" in command and marker in environment:
            found.append(int(entry.name))
    return found


def test_two_agents_started_at_once_leave_one(socket_path: Path) -> None:
    environment = {**os.environ, "CREDENZA_AGENT_SOCKET": str(socket_path)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-m", "credenza", "agent", "start", "--idle-timeout", "60"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    deadline = time.monotonic() + 10
    while agent.request({"op": "ping"}, path=socket_path, wait_for_start=False) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The others see the lock (or the live agent) and leave; on a loaded machine that takes
    # a while, so wait for it rather than a fixed time. Two left running fails at the deadline.
    running = [p for p in starters if p.poll() is None]
    while len(running) > 1 and time.monotonic() < deadline + 10:
        time.sleep(0.05)
        running = [p for p in starters if p.poll() is None]
    assert len(running) == 1
    status = agent.request({"op": "ping"}, path=socket_path, wait_for_start=False)
    assert status is not None
    assert status["pid"] == running[0].pid
    agent.request({"op": "stop"}, path=socket_path, wait_for_start=False)
    assert running[0].wait(10) == 0
