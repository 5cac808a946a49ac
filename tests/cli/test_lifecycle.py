"""The credential lifecycle from the CLI: secret expiry, `status`, retiring the previous secret
of an overlap rotation, and a default environment per application."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from credenza.config.changes import ApplicationChange
from credenza.config.model import Provider
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app, add_telenor_via_cli


def test_secret_expires_is_set_shown_and_cleared(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, _, err = cli("env", "edit", "telenor-sms", "production", "--secret-expires", "2099-05-01")
    assert code == 0, err
    code, out, _ = cli("env", "list", "telenor-sms")
    assert "2099-05-01 (in " in out
    code, out, _ = cli("env", "list", "telenor-sms", "--json")
    listed = json.loads(out)[0]
    assert listed["secret_expires_at"] == "2099-05-01T00:00:00+00:00"
    assert isinstance(listed["secret_age_seconds"], int)
    assert "secret expiry: 2099-05-01" in cli("app", "show", "telenor-sms")[1]
    cli("env", "edit", "telenor-sms", "production", "--secret-expires", "")
    assert (
        json.loads(cli("env", "list", "telenor-sms", "--json")[1])[0]["secret_expires_at"] is None
    )


def test_secret_expires_refuses_a_non_date(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, _, err = cli("env", "edit", "telenor-sms", "production", "--secret-expires", "soon")
    assert code == 2
    assert "YYYY-MM-DD" in err


def test_status_is_quiet_and_exits_0_when_nothing_is_due(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    cli("app", "add", "Sandbox Only")
    cli("env", "add", "sandbox-only", "sandbox", "--client-id", "x", "--token-url", sandbox.issuer)
    code, out, err = cli("status")
    assert (code, out) == (0, "")
    assert "nothing needs attention" in err


def test_status_lists_an_expiring_secret_and_exits_1(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    # Midnight six days ahead: 5 whole days away (6 only at the stroke of midnight).
    soon = (datetime.now(UTC) + timedelta(days=6)).date().isoformat()
    cli("env", "edit", "telenor-sms", "production", "--secret-expires", soon)
    code, out, err = cli("status")
    assert code == 1
    assert "the secret expires in 5 days" in out or "expires in 6 days" in out
    assert "credenza secret reset telenor-sms production" in err
    code, out, _ = cli("status", "--json")
    assert code == 1
    data = json.loads(out)
    expiring = [i for i in data["items"] if i["kind"] == "secret_expiring"]
    assert expiring[0]["days"] in (5, 6)
    assert expiring[0]["when"].startswith(soon)
    # The checklist of an application with a production environment is listed too.
    assert {"secret_expiring", "checklist_open"} <= {i["kind"] for i in data["items"]}
    assert data["due"] == sum(1 for i in data["items"] if i["level"] == "due")
    assert cli("status", "--quiet") == (1, "", "")


def test_status_flags_two_applications_sharing_a_production_client_id(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    for name in ("One", "Two"):
        cli("app", "add", name, "--provider", "chorus")
        cli(
            "env",
            "add",
            name.lower(),
            "production",
            "--client-id",
            "same",
            "--token-url",
            sandbox.issuer,
        )
    data = json.loads(cli("status", "--json")[1])
    shared = [
        (i["application"], i["subject"]) for i in data["items"] if i["kind"] == "client_id_shared"
    ]
    assert shared == [("one", "two"), ("two", "one")]


def test_retire_previous_ends_an_overlap_rotation_at_the_sandbox(
    cli: CliRunner, workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, old = add_sandbox_app(workspace, sandbox, env="sandbox", rotation="overlap")
    workspace.providers.add(
        "mine", Provider(name="Mine", kind="sandbox", admin_url=sandbox.issuer, rotation="overlap")
    )
    workspace.providers.set_admin_token("mine", Secret(sandbox.admin_token))
    workspace.applications.edit(app_id, ApplicationChange(provider="mine"))
    code, _, err = cli("secret", "reset", app_id, "sandbox", "--yes")
    assert code == 0, err
    assert "retire-previous" in err  # the plan says when to run it
    client = sandbox.state.clients[f"{app_id}-sandbox"]
    assert client.previous_secret == old
    code, _, err = cli("secret", "retire-previous", app_id, "sandbox")
    assert code == 0, err
    assert "only the new one works now" in err
    assert sandbox.state.clients[f"{app_id}-sandbox"].previous_secret is None


def test_retire_previous_on_a_cutover_provider_says_there_is_nothing_to_retire(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "edit", "telenor-sms", "--provider", "pipedrive")
    code, _, err = cli("secret", "retire-previous", "telenor-sms", "production")
    assert code == 2
    assert "nothing to retire" in err


def test_default_env_is_used_by_token_and_verify_when_env_is_omitted(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli(
        "env",
        "add",
        "telenor-sms",
        "sandbox",
        "--client-id",
        "other",
        "--token-url",
        sandbox.issuer,
    )
    code, _, err = cli("token", "telenor-sms")
    assert code == 2
    assert "--default-env" in err
    assert cli("app", "edit", "telenor-sms", "--default-env", "production")[0] == 0
    code, out, err = cli("token", "telenor-sms")
    assert code == 0, err
    assert sandbox.state.lookup(out.strip()) is not None
    code, out, _ = cli("verify", "telenor-sms", "--json")
    assert [r["environment"] for r in json.loads(out)] == ["production"]
    assert "default env: production" in cli("app", "show", "telenor-sms")[1]


def test_default_env_must_exist_and_is_cleared_when_its_environment_goes(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, _, err = cli("app", "edit", "telenor-sms", "--default-env", "staging")
    assert code == 2
    assert "no environment 'staging'" in err
    cli("app", "edit", "telenor-sms", "--default-env", "production")
    assert cli("env", "remove", "telenor-sms", "production", "--yes")[0] == 0
    data = json.loads(cli("app", "show", "telenor-sms", "--json")[1])
    assert data.get("default_environment") is None


def test_a_provider_typo_is_said_and_an_app_without_environments_says_to_add_one(
    cli: CliRunner,
) -> None:
    code, _, err = cli("app", "add", "Other", "--provider", "telenr")
    assert code == 0
    assert "no provider 'telenr' is configured or shipped" in err
    assert "telenor" in err  # the known ones are listed
    code, _, err = cli("app", "add", "Known", "--provider", "telenor")
    assert code == 0
    assert "no provider" not in err
    code, out, err = cli("token", "other")
    assert code == 2
    assert out == ""
    assert "Other has no environment yet" in err
    assert "credenza env add other ENV" in err
    assert "several" not in err


def test_private_key_jwt_over_a_stored_client_secret_says_to_store_a_key(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, _, _ = cli("env", "edit", "telenor-sms", "production", "--auth-method", "private_key_jwt")
    assert code == 0
    code, out, err = cli("token", "telenor-sms")
    assert code == 2
    assert out == ""
    assert "private_key_jwt needs a PEM private key, and this is not one" in err
    assert "credenza secret set APP ENV --private-key" in err
    assert "openssl" not in err


def test_a_plain_http_endpoint_is_said_when_it_is_saved(cli: CliRunner) -> None:
    cli("app", "add", "Telenor SMS")
    code, _, err = cli(
        "env", "add", "telenor-sms", "staging", "--client-id", "abc",
        "--token-url", "http://example.com/token",
    )  # fmt: skip
    assert code == 0
    assert "the token URL http://example.com/token is plain http" in err
    code, _, err = cli(
        "env", "edit", "telenor-sms", "staging", "--token-url", "http://127.0.0.1:8400/token"
    )
    assert code == 0
    assert "plain http" not in err  # loopback is fine (the sandbox)


def test_scopes_given_space_separated_are_several_scopes(cli: CliRunner) -> None:
    cli("app", "add", "Pipe")
    code, _, err = cli(
        "env", "add", "pipe", "production", "--client-id", "abc",
        "--token-url", "https://id.example.com/token", "--scope", "deals:read openid",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("env", "list", "pipe", "--json")
    assert json.loads(out)[0]["scopes"] == ["deals:read", "openid"]
    code, out, _ = cli("env", "edit", "pipe", "production", "--add-scope", "a b")
    assert code == 0
    code, out, _ = cli("env", "list", "pipe", "--json")
    assert json.loads(out)[0]["scopes"] == ["deals:read", "openid", "a", "b"]
