"""One writer per credential (SECURITY.md promise 29): parallel `credenza token` processes against
a provider that rotates refresh tokens all succeed and keep the sign-in, round after round; a
refused refresh deletes only the refresh token it used; the lock's wait is bounded and a holder
killed mid-way blocks nobody. Real processes, one file keyring, the sandbox over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.store import ConfigStore
from credenza.errors import CredentialLockError
from credenza.oauth.transcript import Transcript
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import SecretStore, names
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE, FileKeyring
from credenza.services.credential_lock import credential_lock
from credenza.workspace import Workspace
from tests.conftest import FAST
from tests.servers import free_callback

APP, ENV = "crm", "production"
PASSPHRASE = "correct horse battery staple"
USER_GRANTS = ["authorization_code", "refresh_token"]
CALLERS = 4  # parallel `credenza token` processes per round
ROUNDS = 3  # each round fails on its own without the lock (the calls overlap at the provider)


@dataclass
class Machine:
    """One person's machine: a config, the file keyring every process opens, the environment
    a `credenza` process runs with."""

    config: Path
    secrets: SecretStore
    environment: dict[str, str]

    def workspace(self) -> Workspace:
        return Workspace(store=ConfigStore(self.config), secrets=self.secrets, http_settings=FAST)

    def entries(self) -> SecretStore:
        """The keyring as the config's workspace sees it (its entries carry the workspace id)."""
        return self.workspace().context.secrets

    def stored_sign_in(self) -> dict[str, object] | None:
        payload = self.entries().get_raw(names.user_token(APP, ENV))
        return None if payload is None else dict(json.loads(payload))

    def token_calls(self, count: int) -> list[subprocess.CompletedProcess[str]]:
        """``count`` `credenza token` processes started together, each run to its end."""
        argv = [sys.executable, "-m", "credenza", "token", APP, "--config", str(self.config)]
        started = [
            subprocess.Popen(
                argv,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        finished = []
        for process in started:
            out, err = process.communicate(timeout=60)
            finished.append(subprocess.CompletedProcess(argv, process.returncode, out, err))
        return finished


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300, auto_approve=True)) as running:
        yield running


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    config = tmp_path / "config" / "credenza.toml"
    config.parent.mkdir()
    # A token is refreshed when it is within 60 s of expiry.
    config.write_text('[settings]\nkeyring = "file"\ntoken_skew_seconds = 60\n')
    data = tmp_path / "data"
    keyring = FileKeyring(
        data / "credenza" / "keyring.enc",
        passphrase=lambda prompt, new: PASSPHRASE,
        cost=2**10,  # scrypt's cost is a parameter of the file: cheap for every process
        use_agent=False,
    )
    environment = {
        **os.environ,  # the suite's own XDG dirs (state, so the locks) and CREDENZA_AGENT=off
        "XDG_DATA_HOME": str(data),
        "CREDENZA_AGENT_SOCKET": str(tmp_path / "no-agent.sock"),
        PASSPHRASE_VARIABLE: PASSPHRASE,
    }
    return Machine(config, SecretStore(keyring, timeout=10), environment)


async def sign_in(machine: Machine, server: SandboxServer, token_ttl: int) -> None:
    """A person signed in to CRM, whose provider rotates refresh tokens (the sandbox does)."""
    callback = free_callback()
    client = server.state.add_client(
        {
            "client_id": "crm-user",
            "scope": "deals:read",
            "grant_types": USER_GRANTS,
            "redirect_uris": [callback],
            "token_ttl": token_ttl,
        }
    )
    workspace = machine.workspace()
    workspace.applications.add(
        "CRM", ApplicationChange(callback_url=callback, grant_types=USER_GRANTS)
    )
    workspace.environments.add(
        APP,
        ENV,
        EnvironmentChange(
            client_id="crm-user",
            token_url=f"{server.issuer}/oauth/token",
            authorization_url=f"{server.issuer}/oauth/authorize",
        ),
    )
    workspace.credentials.set(APP, ENV, client.client_secret)

    def approve(url: str) -> None:  # the browser: the sandbox approves at once
        def visit() -> None:
            with httpx.Client(trust_env=False) as browser:
                browser.get(browser.get(url).headers["location"])

        threading.Thread(target=visit, daemon=True).start()

    await workspace.sign_in.with_browser(APP, ENV, None, show=approve)
    await workspace.aclose()


def refreshes(server: SandboxServer) -> list[str]:
    """The refresh tokens the sandbox was sent, in order."""
    return [
        request["form"]["refresh_token"]
        for request in list(server.state.requests)
        if request["form"].get("grant_type") == "refresh_token"
    ]


def expire_access_token(machine: Machine) -> None:
    """The stored access token's time is up (as it is after an hour of nobody asking)."""
    stored = machine.stored_sign_in()
    assert stored is not None
    token = dict(stored["token"])  # type: ignore[call-overload]
    token["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    machine.entries().set_raw(names.user_token(APP, ENV), json.dumps({**stored, "token": token}))


def every_call_succeeds(calls: list[subprocess.CompletedProcess[str]], round: int) -> list[str]:
    for call in calls:
        assert call.returncode == 0, f"round {round}: {call.stderr}"
        assert call.stdout.strip()
    return [call.stdout.strip() for call in calls]


def calls_overlap(server: SandboxServer) -> None:
    """The token endpoint answers after 100 ms: parallel refreshes are in flight together."""
    server.state.add_fault({"mode": "latency", "latency_ms": 100, "client_id": "crm-user"})


async def test_parallel_token_calls_each_refresh_with_the_refresh_token_the_one_before_stored(
    machine: Machine, server: SandboxServer
) -> None:
    # Every token issued is within the skew of expiry: every call refreshes, every round.
    await sign_in(machine, server, token_ttl=30)
    calls_overlap(server)
    for round in range(ROUNDS):
        before = refreshes(server)
        every_call_succeeds(machine.token_calls(CALLERS), round)
        # The sign-in survives, and no refresh token was sent twice.
        assert machine.stored_sign_in() is not None
        sent = refreshes(server)[len(before) :]
        assert len(sent) == CALLERS
        assert len(set(refreshes(server))) == len(refreshes(server))


async def test_parallel_token_calls_share_the_one_refresh_the_first_made(
    machine: Machine, server: SandboxServer
) -> None:
    await sign_in(machine, server, token_ttl=300)
    calls_overlap(server)
    for round in range(ROUNDS - 1):
        expire_access_token(machine)
        before = len(refreshes(server))
        tokens = every_call_succeeds(machine.token_calls(CALLERS), round)
        # One refresh for the round; the others waited for it and use its token.
        assert len(refreshes(server)) == before + 1
        assert len(set(tokens)) == 1
        stored = machine.stored_sign_in()
        assert stored is not None
        assert stored["token"]["access_token"] == tokens[0]  # type: ignore[index]
    # A token still fresh is answered without the lock: one held elsewhere is not waited for.
    with credential_lock(machine.workspace().context, APP, ENV):
        assert every_call_succeeds(machine.token_calls(1), ROUNDS - 1) == tokens[:1]


async def test_a_refused_refresh_leaves_a_refresh_token_stored_by_someone_else_meanwhile(
    machine: Machine, server: SandboxServer
) -> None:
    await sign_in(machine, server, token_ttl=300)
    expire_access_token(machine)
    mine = machine.workspace()
    other = machine.workspace()
    resolved = other.environments.resolve(APP, ENV)
    read = other.tokens.user_session(resolved)
    assert read is not None
    # Someone else (an older credenza, a writer that takes no lock) refreshes first, and stores
    # its answer while this process's refresh with the same, now spent, token is in flight.
    theirs, _ = await other.tokens.user_token(resolved, 60)

    def stored_meanwhile(exchange: Transcript) -> None:
        if exchange.form and exchange.form.get("grant_type") == "refresh_token":
            other.tokens.keep_user_token(resolved, read.requested_scopes, theirs.token)

    mine.context.observe(stored_meanwhile)
    other.tokens.keep_user_token(resolved, read.requested_scopes, read.token)  # as mine read it
    session, _ = await mine.tokens.token(APP, ENV)
    # The refused refresh token was the one this process used: the one stored since stays,
    # and is what this call hands out.
    stored = machine.stored_sign_in()
    assert stored is not None
    assert stored["token"]["refresh_token"] == theirs.token.refresh_token.reveal()  # type: ignore[index,union-attr]
    assert session.token.access_token.reveal() == theirs.token.access_token.reveal()
    await mine.aclose()
    await other.aclose()


def test_the_wait_for_a_credential_held_elsewhere_is_bounded_and_says_so(
    machine: Machine,
) -> None:
    workspace = machine.workspace()
    workspace.applications.add("CRM")
    holder = credential_lock(workspace.context, APP, ENV)
    waiter = credential_lock(workspace.context, APP, ENV)
    waiter.timeout = 0.2
    with holder, pytest.raises(CredentialLockError) as refused:
        waiter.acquire()
    assert "crm/production" in refused.value.message
    assert "nothing was done" in refused.value.message
    assert refused.value.hint
    # Another credential is not held up by it.
    with holder, credential_lock(workspace.context, APP, "sandbox"):
        pass


HOLDER = """
import sys
from pathlib import Path
from credenza.services.credential_lock import CredentialLock

lock = CredentialLock(Path(sys.argv[1]), "crm/production", 5)
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_a_holder_killed_mid_way_blocks_nobody(machine: Machine) -> None:
    workspace = machine.workspace()
    lock = credential_lock(workspace.context, APP, ENV)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    lock.timeout = 0.1
    with pytest.raises(CredentialLockError):
        lock.acquire()  # held by the other process
    holder.kill()  # SIGKILL: no release, no clean-up; the kernel drops its flock
    holder.wait(10)
    lock.timeout = 10
    with lock:
        # 0600 in a 0700 directory: no other user can take (or hold up) this person's lock.
        assert lock.path.stat().st_mode & 0o777 == 0o600
        assert lock.path.parent.stat().st_mode & 0o777 == 0o700
