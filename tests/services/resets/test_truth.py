"""A reset tells the truth afterwards: the old secret's expiry goes with it, and a mistyped
pending secret can be thrown away or replaced by the right one without a false "rotated"."""

from __future__ import annotations

import json

import pytest

from credenza.config.changes import ApplicationChange
from credenza.config.model import Provider
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app


def _due(cli: CliRunner) -> set[str]:
    return {i["kind"] for i in json.loads(cli("status", "--json")[1])["items"]}


def test_a_reset_drops_the_old_secrets_expiry_or_records_the_new_one(
    cli: CliRunner, workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, env="sandbox")
    workspace.providers.add("mine", Provider(name="Mine", kind="sandbox", admin_url=sandbox.issuer))
    workspace.providers.set_admin_token("mine", Secret(sandbox.admin_token))
    workspace.applications.edit(app_id, ApplicationChange(provider="mine"))
    cli("env", "edit", app_id, "sandbox", "--secret-expires", "2020-01-01")
    assert "secret_expired" in _due(cli)
    code, _, err = cli("secret", "reset", app_id, "sandbox", "--yes")
    assert code == 0, err
    # The expired secret is gone: status no longer asks for the reset just done.
    assert "secret_expired" not in _due(cli)
    listed = json.loads(cli("env", "list", app_id, "--json")[1])[0]
    assert listed["secret_expires_at"] is None
    code, _, err = cli(
        "secret", "reset", app_id, "sandbox", "--yes", "--secret-expires", "2099-06-30"
    )
    assert code == 0, err
    listed = json.loads(cli("env", "list", app_id, "--json")[1])[0]
    assert listed["secret_expires_at"] == "2099-06-30T00:00:00+00:00"


@pytest.fixture
def one_time(
    cli: CliRunner, workspace: Workspace, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """A NewVoiceMedia-like application (one-time links, 40 characters) whose reset was given a
    mistyped secret: kept as pending, the old secret current. (app id, the old secret)"""
    app_id, old = add_sandbox_app(
        workspace,
        sandbox,
        name="NVM Insights",
        env="sandbox",
        token_endpoint_auth_method="client_secret_post",
    )
    workspace.applications.edit(app_id, ApplicationChange(provider="newvoicemedia"))
    monkeypatch.setenv("NEW_SECRET", "x" * 40)
    code, _, err = cli("secret", "reset", app_id, "sandbox", "--yes", "--from-env", "NEW_SECRET")
    assert code != 0
    assert "kept in the keyring as pending" in err
    assert "reset_unfinished" in _due(cli)
    return app_id, old


def test_a_mistyped_pending_secret_is_discarded_and_the_current_one_stays(
    cli: CliRunner, one_time: tuple[str, str]
) -> None:
    app_id, _ = one_time
    code, _, err = cli("secret", "recover", app_id, "sandbox")
    assert code != 0
    assert "discard-pending" in err  # the way out is named
    code, _, err = cli("secret", "discard-pending", app_id, "sandbox")
    assert code == 2  # no terminal: --yes is needed
    code, _, err = cli("secret", "discard-pending", app_id, "sandbox", "--yes")
    assert code == 0, err
    assert "reset_unfinished" not in _due(cli)
    assert cli("secret", "recover", app_id, "sandbox")[2].startswith("no unfinished reset")
    assert cli("token", app_id, "--env", "sandbox")[0] == 0  # the old secret still works
    code, _, err = cli("secret", "discard-pending", app_id, "sandbox", "--yes")
    assert (code, "nothing to discard" in err) == (0, True)


def test_setting_the_right_secret_finishes_the_unfinished_reset(
    cli: CliRunner, sandbox: SandboxServer, one_time: tuple[str, str]
) -> None:
    app_id, _ = one_time
    # The account manager's secret, pasted right this time.
    right = "R" * 40
    sandbox.state.clients[f"{app_id}-sandbox"].client_secret = right
    code, _, err = cli("secret", "set", app_id, "sandbox", stdin=right)
    assert code == 0, err
    assert "the unfinished reset is finished" in err
    assert "rotated" not in err
    assert "reset_unfinished" not in _due(cli)
    assert cli("secret", "recover", app_id, "sandbox")[2].startswith("no unfinished reset")


def test_setting_a_secret_that_does_not_work_leaves_the_reset_unfinished_and_says_so(
    cli: CliRunner, one_time: tuple[str, str]
) -> None:
    app_id, _ = one_time
    code, _, err = cli("secret", "set", app_id, "sandbox", stdin="W" * 40)
    assert code == 0, err
    assert "still unfinished" in err
    assert "discard-pending" in err
    assert "reset_unfinished" in _due(cli)


def _sandbox_provider(workspace: Workspace, sandbox: SandboxServer, app_id: str) -> None:
    """The application's provider is the sandbox, with no rotation of its own recorded: what
    the sandbox's client record says is the truth."""
    workspace.providers.add("mine", Provider(name="Mine", kind="sandbox", admin_url=sandbox.issuer))
    workspace.providers.set_admin_token("mine", Secret(sandbox.admin_token))
    workspace.applications.edit(app_id, ApplicationChange(provider="mine"))


def test_an_overlap_rotation_is_said_as_overlap_and_the_old_secret_retired(
    cli: CliRunner, workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, old = add_sandbox_app(workspace, sandbox, env="sandbox", rotation="overlap")
    _sandbox_provider(workspace, sandbox, app_id)
    code, _, err = cli("secret", "reset", app_id, "sandbox", "--yes")
    assert code == 0, err
    assert "the old one keeps working until you retire it" in err
    assert "stops working at once" not in err
    client = sandbox.state.clients[f"{app_id}-sandbox"]
    assert client.previous_secret == old  # the old secret does still work
    code, _, err = cli("secret", "retire-previous", app_id, "sandbox")
    assert code == 0, err
    assert "only the new one works now" in err
    assert sandbox.state.clients[f"{app_id}-sandbox"].previous_secret is None


def test_a_cut_over_client_is_said_as_cut_over_whatever_the_record_says(
    cli: CliRunner, workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, env="sandbox")  # the sandbox: cut-over
    workspace.providers.add(
        "mine", Provider(name="Mine", kind="sandbox", admin_url=sandbox.issuer, rotation="overlap")
    )
    workspace.providers.set_admin_token("mine", Secret(sandbox.admin_token))
    workspace.applications.edit(app_id, ApplicationChange(provider="mine"))
    code, _, err = cli("secret", "reset", app_id, "sandbox", "--yes")
    assert code == 0, err
    assert "the old secret stops working at once" in err
    assert "retire-previous" not in err
    code, _, err = cli("secret", "retire-previous", app_id, "sandbox")
    assert code == 2
    assert "nothing to retire" in err
