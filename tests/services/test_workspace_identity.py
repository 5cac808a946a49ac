"""SECURITY.md promise 28: one identity per workspace. Two configs made separately with the same
application and environment names share one keyring and never touch each other's secrets,
sign-ins, pending secrets or cached tokens; a moved config keeps them; the entries of a keyring
written before workspace ids move under the id once, nothing lost, even when killed half way."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w

from credenza.errors import ConfigWriteError
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import names
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.services.credential_key import fingerprint, legacy_fingerprint
from credenza.workspace import Workspace
from tests.conftest import CliRunner
from tests.servers import free_callback

LONG = "p" * 2500  # more than one keyring entry holds: stored as chunks


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300, auto_approve=True)) as running:
        yield running


@pytest.fixture
def two(tmp_path: Path, run_cli: Callable[[Path], CliRunner]) -> tuple[CliRunner, CliRunner]:
    """A personal config and a team's, made separately, over one keyring."""
    return run_cli(tmp_path / "mine" / "credenza.toml"), run_cli(
        tmp_path / "team" / "credenza.toml"
    )


def add_billing(cli: CliRunner, server: SandboxServer, client_id: str) -> str:
    """billing/production with its own client at the sandbox; its secret stored. The secret."""
    client = server.state.add_client({"client_id": client_id, "scope": "invoices:read"})
    assert cli("app", "add", "Billing")[0] == 0
    token_url = f"{server.issuer}/oauth/token"
    code, _, err = cli(
        "env", "add", "billing", "production", "--client-id", client_id, "--token-url", token_url
    )
    assert code == 0, err
    assert cli("secret", "set", "billing", "production", stdin=client.client_secret)[0] == 0
    return client.client_secret


def add_crm(cli: CliRunner, server: SandboxServer, client_id: str) -> None:
    """crm/production, signed in by a person (authorization code); its secret stored."""
    callback = free_callback("/crm/callback")
    client = server.state.add_client(
        {
            "client_id": client_id,
            "scope": "deals:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [callback],
        }
    )
    grants = ["--grant-type", "authorization_code", "--grant-type", "refresh_token"]
    assert cli("app", "add", "CRM", "--callback-url", callback, *grants)[0] == 0
    code, _, err = cli(
        "env", "add", "crm", "production", "--client-id", client_id, "--issuer", server.issuer
    )
    assert code == 0, err
    assert cli("secret", "set", "crm", "production", stdin=client.client_secret)[0] == 0


def token_requests(server: SandboxServer) -> int:
    return sum(1 for request in server.state.requests if request["form"].get("grant_type"))


def opened(config: Path) -> Workspace:
    return Workspace.open(config)


def test_secret_set_in_one_config_leaves_the_other_sending_its_own(
    two: tuple[CliRunner, CliRunner], server: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    mine, team = two
    add_billing(mine, server, "billing-mine")
    add_billing(team, server, "billing-team")
    # The team's secret was set last: mine still sends its own (not invalid_client).
    code, out, err = mine("token", "billing", "--no-cache")
    assert code == 0, err
    assert out.strip()
    assert mine("secret", "set", "billing", "production", stdin="a-new-one-of-mine")[0] == 0
    code, _, err = team("token", "billing", "--no-cache")
    assert code == 0, err


def test_app_remove_in_one_config_leaves_the_others_secret_and_tokens(
    two: tuple[CliRunner, CliRunner], server: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    mine, team = two
    add_billing(mine, server, "billing-mine")
    add_billing(team, server, "billing-team")
    first = mine("token", "billing")[1].strip()
    assert team("token", "billing")[0] == 0
    assert team("app", "remove", "billing", "--yes")[0] == 0
    calls = token_requests(server)
    code, out, err = mine("token", "billing")
    assert code == 0, err
    assert out.strip() == first  # still cached: its token index was not the team's
    assert token_requests(server) == calls
    code, _, err = mine("token", "billing", "--no-cache")
    assert code == 0, err  # and its secret is still there


def test_sign_ins_are_each_configs_own(
    two: tuple[CliRunner, CliRunner], server: SandboxServer, browser: list[str]
) -> None:
    mine, team = two
    add_crm(mine, server, "crm-mine")
    add_crm(team, server, "crm-team")
    assert mine("login", "crm")[0] == 0
    assert team("login", "crm")[0] == 0
    calls = token_requests(server)
    code, out, err = mine("token", "crm")
    assert code == 0, err  # not "nobody is signed in": the team's sign-in did not replace it
    assert team("logout", "crm")[0] == 0
    assert mine("token", "crm") == (0, out, "")
    assert token_requests(server) == calls


def test_a_pending_secret_survives_the_other_config_removing_its_application(
    two: tuple[CliRunner, CliRunner], server: SandboxServer, tmp_path: Path
) -> None:
    mine, team = two
    add_billing(mine, server, "billing-mine")
    add_billing(team, server, "billing-team")
    # What a reset killed after the provider issued a new secret leaves: its one copy, pending.
    issued = server.state.clients["billing-mine"].client_secret = "issued-by-a-reset-0123456789"
    workspace = opened(tmp_path / "mine" / "credenza.toml")
    workspace.secrets.set_raw(names.pending_secret("billing", "production"), issued)
    assert team("app", "remove", "billing", "--yes")[0] == 0
    code, _, err = mine("secret", "recover", "billing", "production")
    assert code == 0, err
    assert workspace.resets.pending("billing", "production") is None
    code, _, err = mine("token", "billing", "--no-cache")
    assert code == 0, err  # with the recovered secret


def test_a_moved_config_keeps_its_secrets_sign_in_and_state(
    tmp_path: Path,
    run_cli: Callable[[Path], CliRunner],
    server: SandboxServer,
    browser: list[str],
) -> None:
    before = tmp_path / "repo" / "credenza.toml"
    cli = run_cli(before)
    add_crm(cli, server, "crm-mine")
    assert cli("login", "crm")[0] == 0
    stored = opened(before).context.local_state.secret_set_at("crm", "production")
    assert stored is not None
    after = tmp_path / "renamed-repo" / "team.toml"
    after.parent.mkdir()
    before.rename(after)
    moved = run_cli(after)
    calls = token_requests(server)
    code, out, err = moved("token", "crm")
    assert code == 0, err  # still signed in, with the token kept before the move
    assert out.strip()
    assert token_requests(server) == calls
    assert opened(after).context.local_state.secret_set_at("crm", "production") == stored


def test_a_copied_config_is_the_same_workspace(
    tmp_path: Path, run_cli: Callable[[Path], CliRunner], server: SandboxServer
) -> None:
    original = tmp_path / "a" / "credenza.toml"
    add_billing(run_cli(original), server, "billing-mine")
    copy = tmp_path / "b" / "credenza.toml"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    assert opened(copy).workspace_id == opened(original).workspace_id
    code, _, err = run_cli(copy)("token", "billing", "--no-cache")
    assert code == 0, err


def test_a_config_is_given_its_id_once_and_a_bad_one_is_refused(
    tmp_path: Path, run_cli: Callable[[Path], CliRunner], memory_keyring: MemoryKeyring
) -> None:
    config = tmp_path / "credenza.toml"
    cli = run_cli(config)
    assert cli("app", "list")[0] == 0
    assert not config.exists()  # nothing to keep yet: no file made
    assert cli("app", "add", "Billing")[0] == 0
    given = tomllib.loads(config.read_text())["workspace"]
    assert len(given) == 22
    assert cli("app", "add", "CRM")[0] == 0
    assert tomllib.loads(config.read_text())["workspace"] == given
    config.write_text(config.read_text().replace(given, "-x"))
    code, _, err = cli("app", "list")
    assert code == 2
    assert "workspace" in err
    assert "Traceback" not in err


# -- the keyring before workspace ids ---------------------------------------------------------


def setup_everything(cli: CliRunner, server: SandboxServer, config: Path) -> dict[str, str]:
    """A secret, a cached token, a sign-in and a long (chunked) pending secret; what each is."""
    secret = add_billing(cli, server, "billing-mine")
    add_crm(cli, server, "crm-mine")
    assert cli("login", "crm")[0] == 0
    cached = cli("token", "billing")[1].strip()
    signed_in = cli("token", "crm")[1].strip()
    workspace = opened(config)
    workspace.secrets.set_raw(names.pending_secret("billing", "production"), LONG)
    return {"secret": secret, "cached": cached, "signed_in": signed_in}


def to_legacy(backend: MemoryKeyring, config: Path) -> None:
    """What credenza before workspace ids left: entries named ``app/env/kind``, fingerprints
    with the config's path, no id in the config, no local state."""
    workspace = opened(config)
    prefix = workspace.workspace_id + "/"
    renamed: dict[str, str] = {}  # a fingerprint in the workspace -> the one before ids
    for app_id, env in (("billing", "production"), ("crm", "production")):
        resolved = workspace.environments.resolve(app_id, env)
        user = workspace.secrets.get_raw(names.user_token(app_id, env))
        # Its token index as it was kept then: in the keyring, a line per token.
        cached = [
            entry
            for entry in workspace.tokens.store.entries().values()
            if (entry.application_id, entry.environment) == (app_id, env) and not entry.user
        ]
        lines = [
            " ".join([names.token(app_id, env, entry.fingerprint), *entry.requested_scopes])
            for entry in cached
        ]
        if lines:
            index = names.in_workspace(workspace.workspace_id, names.token_index(app_id, env))
            backend.entries[(names.SERVICE, index)] = "\n".join(lines)
        scopes = [line.split(" ")[1:] for line in lines if line]
        if user is not None:
            scopes.append(json.loads(user)["scopes"])
        for requested in scopes:
            new = fingerprint(workspace.workspace_id, resolved, requested)
            renamed[new] = legacy_fingerprint(os.path.realpath(config), resolved, requested)
    assert renamed
    entries = dict(backend.entries)
    backend.entries.clear()
    for (service, name), value in entries.items():
        assert name.startswith(prefix)
        name = name.removeprefix(prefix)
        for new, old in renamed.items():
            name, value = name.replace(new, old), value.replace(new, old)
        backend.entries[(service, name)] = value
    data = tomllib.loads(config.read_text())
    del data["workspace"]
    config.write_text(tomli_w.dumps(data))
    shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]), ignore_errors=True)


def check_nothing_lost(
    cli: CliRunner, server: SandboxServer, config: Path, backend: MemoryKeyring, was: dict[str, str]
) -> None:
    calls = token_requests(server)
    assert cli("token", "billing") == (0, was["cached"] + "\n", "")  # the cached token
    assert cli("token", "crm") == (0, was["signed_in"] + "\n", "")  # the sign-in
    assert token_requests(server) == calls
    workspace = opened(config)
    stored = workspace.secrets.get_client_secret("billing", "production")
    assert stored.secret.reveal() == was["secret"]
    pending = workspace.resets.pending("billing", "production")
    assert pending is not None
    assert pending.reveal() == LONG
    prefix = workspace.workspace_id + "/"
    left = [name for _, name in backend.entries if not name.startswith(prefix)]
    assert not left, left


def test_a_keyring_from_before_workspace_ids_moves_under_the_id_nothing_lost(
    cli: CliRunner,
    server: SandboxServer,
    browser: list[str],
    config_path: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    was = setup_everything(cli, server, config_path)
    to_legacy(memory_keyring, config_path)
    assert (("credenza", "billing/production/pending_secret")) in memory_keyring.entries
    check_nothing_lost(cli, server, config_path, memory_keyring, was)
    assert "workspace" in tomllib.loads(config_path.read_text())


class DyingKeyring(MemoryKeyring):
    """Dies (as a killed process would stop) after ``left`` writes or deletes."""

    def __init__(self) -> None:
        super().__init__()
        self.left: int | None = None

    def _step(self) -> None:
        if self.left is not None:
            if self.left == 0:
                raise RuntimeError("killed")
            self.left -= 1

    def set_password(self, service: str, username: str, password: str) -> None:
        self._step()
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._step()
        super().delete_password(service, username)


def test_a_move_killed_at_any_step_is_finished_by_the_next_run(
    cli: CliRunner,
    server: SandboxServer,
    browser: list[str],
    config_path: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    import keyring

    dying = DyingKeyring()
    keyring.set_keyring(dying)  # memory_keyring's teardown restores the one before
    was = setup_everything(cli, server, config_path)
    to_legacy(dying, config_path)
    legacy, text = dict(dying.entries), config_path.read_text()
    for step in range(100):
        dying.entries = dict(legacy)
        config_path.write_text(text)
        shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]), ignore_errors=True)
        dying.left = step
        code, _, err = cli("token", "billing")
        dying.left = None
        if code == 0:
            assert step > 10  # it did die on the way, many times
            break
        assert "killed" in err
        check_nothing_lost(cli, server, config_path, dying, was)
    else:
        pytest.fail("the move never finished")


def test_new_id_makes_a_copied_config_a_workspace_of_its_own(
    tmp_path: Path, run_cli: Callable[[Path], CliRunner], server: SandboxServer
) -> None:
    original = tmp_path / "a" / "credenza.toml"
    mine = run_cli(original)
    add_billing(mine, server, "billing-mine")
    copy = tmp_path / "b" / "credenza.toml"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    copied = run_cli(copy)
    shared = mine("workspace", "show")[1].strip()
    assert copied("workspace", "show")[1].strip() == shared
    code, out, err = copied("workspace", "new-id")
    assert code == 0, err
    assert out.strip() != shared
    assert shared in err  # how to undo it
    shown = json.loads(copied("workspace", "show", "--json")[1])
    assert shown == {"workspace": out.strip(), "config": str(copy)}
    assert copied("token", "billing", "--no-cache")[0] != 0  # none of the original's secrets
    assert copied("secret", "set", "billing", "production", stdin="the-copy-s-own-secret")[0] == 0
    code, _, err = mine("token", "billing", "--no-cache")
    assert code == 0, err


def test_a_config_that_cannot_be_saved_still_lists_and_says_why_no_secret_is_kept(
    config_path: Path,
    cli: CliRunner,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(
        tomli_w.dumps(
            {
                "version": 1,
                "applications": [
                    {
                        "id": "billing",
                        "name": "Billing",
                        "environments": {
                            "production": {
                                "client_id": "billing",
                                "token_url": "https://auth.example.org/token",
                            }
                        },
                    }
                ],
            }
        )
    )

    def read_only(path: Path, data: bytes) -> None:
        raise ConfigWriteError(f"could not save {path}: Read-only file system")

    monkeypatch.setattr("credenza.config.store.write_atomic", read_only)
    code, out, _ = cli("app", "list")
    assert code == 0
    assert "billing" in out
    code, _, err = cli("secret", "set", "billing", "production", stdin="s3cret-value")
    assert code == 2
    assert "no workspace id yet" in err
    assert 'workspace = "' in err  # what to add by hand
    assert "Traceback" not in err
    assert memory_keyring.entries == {}


def test_local_state_kept_by_the_configs_path_before_ids_moves_under_the_id(
    config_path: Path, cli: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    import hashlib
    from datetime import UTC, datetime

    from credenza.config.local import state_path

    config_path.parent.mkdir()
    config_path.write_text('version = 1\n[[applications]]\nid = "billing"\nname = "Billing"\n')
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    by_path = hashlib.sha256(os.path.realpath(config_path).encode()).hexdigest()[:24]
    state_path().parent.mkdir(parents=True)
    state_path().write_text(tomli_w.dumps({by_path: {"billing/production": when}}))
    assert cli("app", "list")[0] == 0
    moved = config_path.parent.parent / "elsewhere.toml"
    config_path.rename(moved)
    assert opened(moved).context.local_state.secret_set_at("billing", "production") == when
    assert by_path not in tomllib.loads(state_path().read_text())
