"""Teams: the secrets in a real OpenBao (KV v2), tokens per person, rotations that reach everyone
(issue 24; SECURITY.md 36-37). Two people are two workspaces with their own keyrings, their own
state and their own store tokens, and one shared config file. No mock of Vault: check-and-set and
versions are what is tested."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import pytest

from credenza.cli import run
from credenza.config.changes import EnvironmentChange
from credenza.errors import ResetInProgressError
from credenza.sandbox import SandboxServer
from credenza.sandbox.clients import Client
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.workspace import Workspace
from tests.conftest import FAST, zero_backoff
from tests.test_workspace import use_sandbox_provider
from tests.vault import BaoServer, team_policies

ENV = "sandbox"  # a reset here takes --yes (production asks for the typed name)


@pytest.fixture(scope="module")
def bao() -> Iterator[BaoServer]:
    with BaoServer() as server:
        yield server


@dataclass
class Person:
    name: str
    token: str
    home: Path
    keyring: MemoryKeyring = field(default_factory=MemoryKeyring)


@dataclass
class Team:
    """One shared config, a path of its own in the store, and the people who use it."""

    bao: BaoServer
    sandbox: SandboxServer
    config: Path
    path: str
    root: Path
    monkeypatch: pytest.MonkeyPatch
    capfd: pytest.CaptureFixture[str]
    app: str = "telenor-sms"
    outputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        zero_backoff(self.monkeypatch)  # a stopped or sealed store: 7 s a test, waited

    def person(self, name: str, *policies: str) -> Person:
        token = self.bao.token(*policies, display_name=name)
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        return Person(name, token, home)

    def be(self, person: Person) -> None:
        """This process is now ``person``: their store token, keyring, state and home."""
        self.monkeypatch.setenv("VAULT_TOKEN", person.token)
        self.monkeypatch.setenv("HOME", str(person.home))
        self.monkeypatch.setenv("XDG_STATE_HOME", str(person.home / "state"))
        self.monkeypatch.setenv("XDG_CACHE_HOME", str(person.home / "cache"))
        self.monkeypatch.setenv("XDG_CONFIG_HOME", str(person.home / "config"))
        keyring.set_keyring(person.keyring)

    def cli(self, person: Person, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        self.be(person)
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = run(["--config", str(self.config), *argv])
        out, err = self.capfd.readouterr()
        self.outputs += [out, err]
        return code, out, err

    def workspace(self, person: Person) -> Workspace:
        """``person``'s workspace, their store token read now (so a thread keeps it)."""
        self.be(person)
        workspace = Workspace.open(self.config, secrets=SecretStore(person.keyring, timeout=5))
        workspace.context.http_settings = FAST
        team = workspace.credentials.team_store()
        assert team is not None
        team.token()
        return workspace

    def record(self, env: str = ENV) -> dict[str, Any] | None:
        return self.bao.read(f"secret/data/{self.path}/{self.app}/{env}")

    def version(self, env: str = ENV) -> int:
        record = self.record(env)
        return 0 if record is None else int(record["metadata"]["version"])

    def client_id(self, env: str = ENV) -> str:
        return f"{self.app}-{env}-{self.path.rsplit('/', 1)[-1]}"


@pytest.fixture
def team(
    bao: BaoServer,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[Team]:
    previous = keyring.get_keyring()
    shared = Team(
        bao,
        sandbox,
        tmp_path / "shared" / "credenza.toml",
        f"credenza/t{secrets.token_hex(6)}",
        tmp_path,
        monkeypatch,
        capfd,
    )
    yield shared
    keyring.set_keyring(previous)


@pytest.fixture
def people(team: Team) -> tuple[Person, Person]:
    """Alice and Bob may both read and write (rotators); the config has one environment."""
    rotate, _ = team_policies(team.bao, "secret", team.path)
    alice, bob = team.person("alice", rotate), team.person("bob", rotate)
    code, _, err = team.cli(alice, "team", "use", "vault", team.bao.address, "--path", team.path)
    assert code == 0, err
    add_environment(team, alice, ENV)
    for person in (alice, bob):
        # Each person's own admin token for the sandbox provider (kept in their keyring).
        workspace = team.workspace(person)
        if person is alice:
            use_sandbox_provider(workspace, team.sandbox, team.app)
        else:
            workspace.secrets.set_raw("providers/sandbox/admin_token", team.sandbox.admin_token)
    return alice, bob


def add_environment(team: Team, person: Person, env: str) -> str:
    """An environment at the sandbox; returns the secret the sandbox registered."""
    client = team.sandbox.state.add_client({"client_id": team.client_id(env), "scope": "sms:send"})
    workspace = team.workspace(person)
    if not any(a.id == team.app for a in workspace.config.applications):
        workspace.applications.add("Telenor SMS")
    workspace.environments.add(
        team.app,
        env,
        EnvironmentChange(
            client_id=client.client_id, token_url=f"{team.sandbox.issuer}/oauth/token"
        ),
    )
    return client.client_secret


def current_secret(team: Team, env: str = ENV) -> str:
    return team.sandbox.state.clients[team.client_id(env)].client_secret


def keyring_holds(person: Person, value: str) -> bool:
    return any(value in entry for entry in person.keyring.entries.values())


def files_holding(root: Path, value: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and value.encode() in path.read_bytes()
    ]


# -- one person sets, everyone uses ------------------------------------------------------------


def test_a_secret_one_person_sets_gives_another_a_token_without_their_keyring(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    secret = current_secret(team)
    code, _, err = team.cli(alice, "secret", "set", team.app, ENV, stdin=secret)
    assert code == 0, err
    assert "in the team store" in err
    record = team.record()
    assert record is not None
    assert record["data"]["secret"] == secret
    assert record["data"]["by"] == "token-alice"
    assert record["data"]["action"] == "set"

    code, out, err = team.cli(bob, "token", team.app)
    assert code == 0, err
    assert out.strip()
    # The secret is in nobody's keyring, nor in any file of either workspace, nor any output.
    assert not keyring_holds(alice, secret)
    assert not keyring_holds(bob, secret)
    assert files_holding(team.root, secret) == []
    assert not any(secret in text for text in team.outputs)


def test_a_missing_secret_says_where_to_get_it(team: Team, people: tuple[Person, Person]) -> None:
    _, bob = people
    code, out, err = team.cli(bob, "token", team.app)
    assert code == 2
    assert out == ""
    assert "not in the team store" in err
    assert "ask someone with write access, or `credenza team push`" in err


def test_a_teammates_reset_reaches_the_next_token_of_everyone(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    code, before, err = team.cli(bob, "token", team.app)
    assert code == 0, err
    assert team.cli(bob, "token", team.app)[1] == before  # cached in Bob's keyring

    code, _, err = team.cli(alice, "secret", "reset", team.app, ENV, "--yes")
    assert code == 0, err
    assert f"record (secret/data/{team.path}/{team.app}/{ENV}) is claimed first" in err
    issued = current_secret(team)
    record = team.record()
    assert record is not None
    assert record["data"]["secret"] == issued
    assert "claim" not in record["data"]
    assert "pending_secret" not in record["data"]

    code, after, err = team.cli(bob, "token", team.app, "--json")
    assert code == 0, err
    # A new token, fetched with the secret Alice's reset put in the store (the old one is dead).
    assert json.loads(after)["access_token"] != before.strip()
    assert not keyring_holds(bob, issued)
    assert files_holding(team.root, issued) == []
    assert not any(issued in text for text in team.outputs)


def test_two_resets_at_once_one_succeeds_the_other_is_told_the_provider_saw_one(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    state = team.sandbox.state
    resets: list[str] = []
    asked, go_on = threading.Event(), threading.Event()
    reset_at_sandbox = state.reset_secret

    def held_reset(client_id: str) -> Any:
        resets.append(client_id)
        asked.set()
        assert go_on.wait(30)
        return reset_at_sandbox(client_id)

    team.monkeypatch.setattr(state, "reset_secret", held_reset)
    workspace = team.workspace(alice)
    outcome: dict[str, Any] = {}

    def alice_resets() -> None:
        try:
            outcome["result"] = asyncio.run(workspace.resets.reset(team.app, ENV))
        except BaseException as exc:  # reported to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=alice_resets)
    thread.start()
    try:
        assert asked.wait(30)  # Alice's claim is written and the provider is being asked
        code, _out, err = team.cli(bob, "secret", "reset", team.app, ENV, "--yes")
    finally:
        go_on.set()
        thread.join(30)
    assert code == 1
    assert "another reset of telenor-sms / sandbox is in progress (by token-alice since" in err
    assert "error" not in outcome, outcome.get("error")
    assert resets == [team.client_id()]  # the provider saw one reset
    record = team.record()
    assert record is not None
    assert record["data"]["secret"] == current_secret(team)
    assert "claim" not in record["data"]


def test_a_claim_lost_to_check_and_set_stops_before_the_provider(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    store_a = team.workspace(alice).credentials.team_store()
    store_b = team.workspace(bob).credentials.team_store()
    assert store_a is not None
    assert store_b is not None
    seen_by_b = store_b.read(team.app, ENV)  # Bob read the record ...
    store_a.claim(team.app, ENV)  # ... then Alice claimed it
    assert seen_by_b is not None
    assert "claim" not in seen_by_b.data
    with pytest.raises(ResetInProgressError, match="by token-alice since"):
        store_b.claim(team.app, ENV, against=seen_by_b)  # its check-and-set loses


# -- permissions and failures --------------------------------------------------------------------


def test_a_read_only_token_is_refused_every_write_and_the_store_is_unchanged(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    _, consume = team_policies(team.bao, "secret", team.path)
    carol = team.person("carol", consume)
    team.workspace(carol).secrets.set_raw("providers/sandbox/admin_token", team.sandbox.admin_token)
    before = team.record()
    resets: list[str] = []
    reset_at_sandbox = team.sandbox.state.reset_secret

    def recording(client_id: str) -> Client:
        resets.append(client_id)
        return reset_at_sandbox(client_id)

    team.monkeypatch.setattr(team.sandbox.state, "reset_secret", recording)
    path = f"secret/data/{team.path}/{team.app}/{ENV}"
    writes = [
        ("secret", "set", team.app, ENV),
        ("secret", "reset", team.app, ENV, "--yes"),
        ("secret", "confirm-endpoint", team.app, ENV),
    ]
    for argv in writes:
        code, _, err = team.cli(carol, *argv, stdin="a-new-secret-carol-typed")
        assert code == 3, (argv, err)
        assert path in err, (argv, err)
        assert "create/update capability" in err, (argv, err)
    assert resets == []  # refused before the provider was asked
    assert team.record() == before
    # Reading is what the policy allows: Carol gets a token.
    code, out, err = team.cli(carol, "token", team.app)
    assert code == 0, err
    assert out.strip()


def test_vault_stopped_serves_the_cached_token_and_exits_3_naming_the_address(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with BaoServer() as own:
        team = Team(own, sandbox, tmp_path / "shared" / "c.toml", "credenza/acme", tmp_path,
                    monkeypatch, capfd)  # fmt: skip
        previous = keyring.get_keyring()
        try:
            rotate, _ = team_policies(own, "secret", team.path)
            alice = team.person("alice", rotate)
            assert team.cli(alice, "team", "use", "vault", own.address, "--path", team.path)[0] == 0
            add_environment(team, alice, ENV)
            assert (
                team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
            )
            code, cached, err = team.cli(alice, "token", team.app)
            assert code == 0, err
            own.stop()

            code, out, err = team.cli(alice, "token", team.app)
            assert (code, out) == (0, cached), err  # the cached, unexpired token

            code, out, err = team.cli(alice, "token", team.app, "--no-cache")
            assert code == 3
            assert out == ""
            assert f"the team store at {own.address} cannot be used" in err
            code, _, err = team.cli(alice, "secret", "set", team.app, ENV, stdin="another-secret-1")
            assert code == 3
            assert own.address in err
            code, _, err = team.cli(alice, "team", "status")
            assert code == 3
            assert own.address in err
        finally:
            keyring.set_keyring(previous)


def test_no_store_token_says_how_to_get_one(team: Team, people: tuple[Person, Person]) -> None:
    alice, _ = people
    team.be(alice)
    team.monkeypatch.delenv("VAULT_TOKEN")
    team.monkeypatch.setattr(sys, "stdin", io.StringIO("x-secret-value"))
    code = run(["--config", str(team.config), "secret", "set", team.app, ENV])
    _, err = team.capfd.readouterr()
    assert code == 3
    assert "no token for the team store" in err
    assert "VAULT_TOKEN" in err


# -- push, status, history -------------------------------------------------------------------------


def test_team_push_copies_keyring_secrets_where_the_store_has_none_and_lists_conflicts(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    add_environment(team, alice, "staging")
    add_environment(team, alice, "qa")
    # Bob's keyring holds secrets from before the team store: two of three environments.
    bob_keyring = team.workspace(bob).secrets  # his keyring, within this workspace
    bob_keyring.set_client_secret(team.app, ENV, _secret("bob-sandbox"), origin=None)
    bob_keyring.set_client_secret(team.app, "staging", _secret("bob-staging"), origin=None)
    # Alice already put another secret for staging in the store.
    assert (
        team.cli(alice, "secret", "set", team.app, "staging", stdin="alice-staging-secret")[0] == 0
    )
    staging_before = team.record("staging")

    code, out, err = team.cli(bob, "team", "push", "--json")
    assert code == 1, err  # a conflict is reported
    result = json.loads(out)
    assert result["pushed"] == [f"{team.app}/{ENV}"]
    assert result["conflicts"] == [f"{team.app}/staging"]
    assert result["not_in_keyring"] == [f"{team.app}/qa"]
    assert team.record("staging") == staging_before  # never overwritten
    pushed = team.record(ENV)
    assert pushed is not None
    assert pushed["data"]["secret"] == "bob-sandbox"
    assert pushed["data"]["action"] == "push"
    assert pushed["data"]["by"] == "token-bob"
    # Again: nothing new, the same secret is already there.
    code, out, _ = team.cli(bob, "team", "push", "--json")
    assert json.loads(out)["already"] == [f"{team.app}/{ENV}"]
    assert not any("bob-sandbox" in text or "bob-staging" in text for text in team.outputs)


def test_team_status_says_token_source_validity_capabilities_and_environments(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    add_environment(team, alice, "staging")
    code, out, err = team.cli(alice, "team", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["address"] == team.bao.address
    assert status["path"] == team.path
    assert status["mount"] == "secret"
    assert status["token_source"] == "VAULT_TOKEN"
    assert status["token_valid"]
    assert status["who"] == "token-alice"
    assert status["can_read"]
    assert status["can_write"]
    assert status["environments"] == {f"{team.app}/{ENV}": 1, f"{team.app}/staging": None}
    assert alice.token not in out + err
    code, out, err = team.cli(alice, "env", "list", team.app)
    assert code == 0, err
    assert "not in the team store" in out  # staging; sandbox has a secret there

    _, consume = team_policies(team.bao, "secret", team.path)
    carol = team.person("carol", consume)
    status = json.loads(team.cli(carol, "team", "status", "--json")[1])
    assert status["can_read"]
    assert not status["can_write"]


def test_a_store_token_from_the_login_file_is_used_and_named(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    (alice.home / ".vault-token").write_text(alice.token + "\n")
    team.be(alice)
    team.monkeypatch.delenv("VAULT_TOKEN")
    code = run(["--config", str(team.config), "team", "status", "--json"])
    out, _ = team.capfd.readouterr()
    assert code == 0
    assert json.loads(out)["token_source"] == "~/.vault-token"


def test_secret_history_lists_versions_who_and_action_never_a_value(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    first = current_secret(team)
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=first)[0] == 0
    assert team.cli(bob, "secret", "reset", team.app, ENV, "--yes")[0] == 0
    code, out, err = team.cli(alice, "secret", "history", team.app, ENV, "--json")
    assert code == 0, err
    history = json.loads(out)
    assert [(e["version"], e["who"], e["action"]) for e in history] == [
        (1, "token-alice", "set"),
        (2, "token-bob", "reset-claimed"),
        (3, "token-bob", "reset-issued"),
        (4, "token-bob", "reset"),
    ]
    assert all(e["time"] for e in history)
    code, table, _ = team.cli(alice, "secret", "history", team.app, ENV)
    assert code == 0
    assert "reset-issued" in table
    for value in (first, current_secret(team)):
        assert value not in out
        assert value not in table


def test_an_overlap_reset_keeps_the_previous_secret_in_the_record_until_retired(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    team.sandbox.state.clients[team.client_id()].rotation = "overlap"
    use_sandbox_provider(team.workspace(alice), team.sandbox, team.app, rotation="overlap")
    old = current_secret(team)
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=old)[0] == 0
    code, _, err = team.cli(alice, "secret", "reset", team.app, ENV, "--yes")
    assert code == 0, err
    record = team.record()
    assert record is not None
    assert record["data"]["secret"] == current_secret(team)
    assert record["data"]["previous"] == old
    code, _, err = team.cli(bob, "secret", "retire-previous", team.app, ENV)
    assert code == 0, err
    record = team.record()
    assert record is not None
    assert "previous" not in record["data"]
    assert record["data"]["action"] == "retire-previous"


def test_ci_with_a_store_token_and_no_keyring_gets_a_token(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    env = {
        **os.environ,
        "VAULT_TOKEN": bob.token,
        "HOME": str(team.root / "ci"),
        "XDG_STATE_HOME": str(team.root / "ci" / "state"),
        "XDG_CACHE_HOME": str(team.root / "ci" / "cache"),
        "XDG_CONFIG_HOME": str(team.root / "ci" / "config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "credenza", "--config", str(team.config), "token", team.app],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip()
    assert "kept in memory" in ran.stderr
    assert bob.token not in ran.stdout + ran.stderr
    assert files_holding(team.root, current_secret(team)) == []


def _secret(value: str) -> Any:
    from credenza.secrets import Secret

    return Secret(value)


def test_the_team_section_is_validated_once_and_nothing_changes_on_bad_input(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    before = team.config.read_bytes()
    for argv, said in [
        (("http://vault.example.com:8200", "--path", "a/b"), "plain http"),
        (("not a url", "--path", "a/b"), "address"),
        ((team.bao.address, "--path", "a/../b"), "path"),
        ((team.bao.address, "--path", "a", "--mount", "se cret"), "mount"),
    ]:
        code, _, err = team.cli(alice, "team", "use", "vault", *argv)
        assert code == 2, (argv, err)
        assert said in err, err
        assert len(err.strip().splitlines()) == 1, err
    assert team.config.read_bytes() == before


# -- a reset stopped half-way (SECURITY.md 27, 36) -------------------------------------------------


async def test_a_reset_stopped_while_verifying_leaves_the_issued_secret_in_the_store(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    old = current_secret(team)
    assert (await asyncio.to_thread(team.cli, alice, "secret", "set", team.app, ENV, stdin=old))[
        0
    ] == 0
    state = team.sandbox.state
    state.add_fault({"mode": "latency", "latency_ms": 3000, "client_id": team.client_id()})
    calls = len(state.requests)
    workspace = team.workspace(alice)
    reset = asyncio.create_task(workspace.resets.reset(team.app, ENV))
    while current_secret(team) == old or len(state.requests) == calls:
        await asyncio.sleep(0.01)  # the provider issued it; the check is under way
    reset.cancel()  # Ctrl-C, Escape, or a kill: what is in the store is what survives
    with pytest.raises(asyncio.CancelledError):
        await reset
    issued = current_secret(team)
    record = team.record()
    assert record is not None
    assert record["data"]["pending_secret"] == issued  # in the store before it was verified
    assert record["data"]["secret"] == old
    assert record["data"]["claim"]["by"] == "token-alice"
    state.clear_faults()

    code, _, err = await asyncio.to_thread(team.cli, bob, "secret", "reset", team.app, ENV, "--yes")
    assert code == 1
    assert "in progress (by token-alice" in err
    # Bob's status reads the store: the reset Alice left unfinished needs attention.
    _, out, _ = await asyncio.to_thread(team.cli, bob, "status", "--json")
    assert "reset_unfinished" in out
    code, _, err = await asyncio.to_thread(team.cli, alice, "secret", "recover", team.app, ENV)
    assert code == 0, err
    record = team.record()
    assert record is not None
    assert record["data"]["secret"] == issued
    assert "claim" not in record["data"]
    assert "pending_secret" not in record["data"]
    code, _, err = await asyncio.to_thread(team.cli, bob, "token", team.app)
    assert code == 0, err


def test_an_issued_secret_the_store_cannot_take_is_shown_once_on_stdout(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with BaoServer() as own:
        team = Team(own, sandbox, tmp_path / "shared" / "c.toml", "credenza/acme", tmp_path,
                    monkeypatch, capfd)  # fmt: skip
        previous = keyring.get_keyring()
        try:
            rotate, _ = team_policies(own, "secret", team.path)
            alice = team.person("alice", rotate)
            assert team.cli(alice, "team", "use", "vault", own.address, "--path", team.path)[0] == 0
            add_environment(team, alice, ENV)
            use_sandbox_provider(team.workspace(alice), sandbox, team.app)
            assert (
                team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
            )
            reset_at_sandbox = sandbox.state.reset_secret

            def store_goes_down(client_id: str) -> Any:
                issued = reset_at_sandbox(client_id)
                own.stop()  # after the claim, before the issued secret reaches the store
                return issued

            monkeypatch.setattr(sandbox.state, "reset_secret", store_goes_down)
            code, out, err = team.cli(alice, "secret", "reset", team.app, ENV, "--yes")
        finally:
            keyring.set_keyring(previous)
    assert code == 3
    assert out.strip() == current_secret(team)  # the one copy there is, on stdout
    assert "the team store did not keep it" in err
    assert "NOT stored" in err


def test_a_store_with_a_private_ca_needs_the_ca_bundle_and_works_with_it(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with BaoServer(tls=True) as own:
        team = Team(own, sandbox, tmp_path / "shared" / "c.toml", "credenza/acme", tmp_path,
                    monkeypatch, capfd)  # fmt: skip
        previous = keyring.get_keyring()
        try:
            rotate, _ = team_policies(own, "secret", team.path)
            alice = team.person("alice", rotate)
            assert own.address.startswith("https://")
            assert team.cli(alice, "team", "use", "vault", own.address, "--path", team.path)[0] == 0
            code, out, err = team.cli(alice, "team", "status")
            assert code == 3
            assert "certificate" in err
            assert "not trusted" in err

            def trust(config: Any) -> None:
                config.settings.ca_bundle = own.ca_file

            team.workspace(alice).context.mutate(trust)
            code, out, err = team.cli(alice, "team", "status", "--json")
            assert code == 0, err
            assert json.loads(out)["token_valid"]
        finally:
            keyring.set_keyring(previous)


def test_team_status_says_an_invalid_store_token_is_not_valid(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    stranger = Person("mallory", "hvs.not-a-token-" + secrets.token_hex(8), alice.home)
    code, out, err = team.cli(stranger, "team", "status", "--json")
    assert code == 3, err
    status = json.loads(out)
    assert status["token_source"] == "VAULT_TOKEN"
    assert not status["token_valid"]
    assert not status["can_read"]
    assert stranger.token not in out + err


def test_a_private_key_lives_in_the_team_store_too(
    team: Team, people: tuple[Person, Person]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    alice, bob = people
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert team.cli(alice, "env", "edit", team.app, ENV, "--auth-method", "private_key_jwt")[0] == 0
    code, _, err = team.cli(
        alice, "secret", "set", team.app, ENV, "--private-key", "--key-id", "k1", stdin=pem
    )
    assert code == 0, err
    assert "in the team store" in err
    record = team.record()
    assert record is not None
    assert "PRIVATE KEY" in record["data"]["secret"]
    code, out, err = team.cli(bob, "secret", "public-key", team.app, ENV)
    assert code == 0, err
    assert json.loads(out)["keys"][0]["kid"] == "k1"
    assert not keyring_holds(bob, "PRIVATE KEY")
    assert files_holding(team.root, "PRIVATE KEY") == []


def test_the_agent_never_answers_for_a_team_store_so_a_rotation_reaches_scripts(
    team: Team, people: tuple[Person, Person], running_agent: Path
) -> None:
    from credenza.agent import client

    alice, bob = people
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
    code, before, err = team.cli(bob, "token", team.app)
    assert code == 0, err
    # The fast path finds nothing: the agent never asks the store, so it is never given one.
    assert client.try_agent(["token", team.app, "--config", str(team.config)]) is None
    assert team.cli(alice, "secret", "reset", team.app, ENV, "--yes")[0] == 0
    code, after, err = team.cli(bob, "token", team.app)
    assert code == 0, err
    assert after != before


CHILD = """
import json, os, sys, keyring
from credenza.secrets.backends.memory import MemoryKeyring
mine = MemoryKeyring()
for service, name, value in json.loads(os.environ.pop("KEYRING_ENTRIES")):
    mine.set_password(service, name, value)
keyring.set_keyring(mine)
from credenza.cli import run
sys.exit(run(sys.argv[1:]))
"""


@pytest.mark.parametrize("step", ["asking the provider", "verifying the issued secret"])
def test_a_reset_killed_at_each_step_leaves_the_store_recoverable(
    team: Team, people: tuple[Person, Person], step: str
) -> None:
    import signal
    import time

    alice, bob = people
    old = current_secret(team)
    assert team.cli(alice, "secret", "set", team.app, ENV, stdin=old)[0] == 0
    state = team.sandbox.state
    asked, never = threading.Event(), threading.Event()
    reset_at_sandbox = state.reset_secret

    def held_reset(client_id: str) -> Any:
        asked.set()
        never.wait(30)  # the process is killed meanwhile; then nothing is reset
        raise RuntimeError("the client went away")

    if step == "asking the provider":
        team.monkeypatch.setattr(state, "reset_secret", held_reset)
    else:
        state.add_fault({"mode": "latency", "latency_ms": 20000, "client_id": team.client_id()})
    team.be(alice)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            "--config",
            str(team.config),
            "secret",
            "reset",
            team.app,
            ENV,
            "--yes",
        ],
        # Alice's keyring (her sandbox admin token, under this workspace's names) in the child.
        env={
            **os.environ,
            "KEYRING_ENTRIES": json.dumps(
                [[service, name, value] for (service, name), value in alice.keyring.entries.items()]
            ),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ends = time.monotonic() + 30
        while time.monotonic() < ends:  # wait for the step, then kill there
            record = team.record()
            data = record["data"] if record is not None else {}
            if step == "asking the provider" and asked.is_set() and "claim" in data:
                break
            if step != "asking the provider" and "pending_secret" in data:
                break
            assert child.poll() is None, child.communicate()
            time.sleep(0.02)
        else:
            pytest.fail(f"the reset never reached: {step}")
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        never.set()
        if child.poll() is None:
            child.kill()
            child.communicate()
    state.clear_faults()
    team.monkeypatch.setattr(state, "reset_secret", reset_at_sandbox)
    record = team.record()
    assert record is not None
    assert record["data"]["claim"]["by"] == "token-alice"
    if step == "asking the provider":
        assert current_secret(team) == old  # nothing was issued
        assert "pending_secret" not in record["data"]
    else:
        assert record["data"]["pending_secret"] == current_secret(team)  # kept before verified
    # Someone else is told; the author's recover finishes (or gives the claim back).
    assert team.cli(bob, "secret", "reset", team.app, ENV, "--yes")[0] == 1
    code, _, err = team.cli(alice, "secret", "recover", team.app, ENV)
    assert code == 0, err
    record = team.record()
    assert record is not None
    assert "claim" not in record["data"]
    assert record["data"]["secret"] == current_secret(team)
    code, _, err = team.cli(bob, "token", team.app)
    assert code == 0, err


def test_a_sealed_store_is_exit_3_naming_the_address_and_the_cached_token_is_served(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with BaoServer() as own:
        team = Team(own, sandbox, tmp_path / "shared" / "c.toml", "credenza/acme", tmp_path,
                    monkeypatch, capfd)  # fmt: skip
        previous = keyring.get_keyring()
        try:
            rotate, _ = team_policies(own, "secret", team.path)
            alice = team.person("alice", rotate)
            assert team.cli(alice, "team", "use", "vault", own.address, "--path", team.path)[0] == 0
            add_environment(team, alice, ENV)
            assert (
                team.cli(alice, "secret", "set", team.app, ENV, stdin=current_secret(team))[0] == 0
            )
            code, cached, err = team.cli(alice, "token", team.app)
            assert code == 0, err
            own.api("PUT", "sys/seal")

            code, out, err = team.cli(alice, "token", team.app)
            assert (code, out) == (0, cached), err
            code, out, err = team.cli(alice, "token", team.app, "--no-cache")
            assert code == 3
            assert out == ""
            assert f"the team store at {own.address} cannot be used" in err
            assert "sealed" in err
        finally:
            keyring.set_keyring(previous)


def test_team_use_writes_where_the_secrets_are_and_nothing_personal(
    team: Team, people: tuple[Person, Person]
) -> None:
    import tomllib

    alice, _ = people
    text = team.config.read_text()
    assert tomllib.loads(text)["team"] == {
        "backend": "vault",
        "address": team.bao.address,
        "path": team.path,
        "mount": "secret",
    }
    assert alice.token not in text
    assert "token-alice" not in text


def test_doctor_checks_the_team_store_token_and_access_without_printing_the_token(
    team: Team, people: tuple[Person, Person]
) -> None:
    alice, _ = people
    code, out, err = team.cli(alice, "doctor", "--json")
    store = [c for c in json.loads(out)["checks"] if c["kind"] == "team_store"]
    assert len(store) == 1, err
    assert store[0]["ok"]
    assert "token from VAULT_TOKEN, valid as token-alice; it may read, write" in store[0]["found"]
    assert alice.token not in out + err

    _, consume = team_policies(team.bao, "secret", team.path)
    carol = team.person("carol", consume)
    store = [
        c
        for c in json.loads(team.cli(carol, "doctor", "--json")[1])["checks"]
        if c["kind"] == "team_store"
    ]
    assert store[0]["ok"]
    assert "it may read" in store[0]["found"]
    assert "write" not in store[0]["found"]

    stranger = Person("mallory", "hvs.not-a-token-" + secrets.token_hex(8), alice.home)
    code, out, _ = team.cli(stranger, "doctor", "--json")
    assert code == 1
    store = [c for c in json.loads(out)["checks"] if c["kind"] == "team_store"]
    assert not store[0]["ok"]
    assert stranger.token not in out
