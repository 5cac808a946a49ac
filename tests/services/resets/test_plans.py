"""Reset plans in each provider's own words, the questions they raise (Chorus: are you an
owner?), one-time secrets kept before they are verified, and client_id identity rules."""

from __future__ import annotations

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.errors import SecretNotVerifiedError
from credenza.sandbox import SandboxServer
from credenza.secrets import entry_name
from credenza.services.resets import ResetPlan
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app, add_telenor_via_cli

OWNERS = ["kari@example.no", "ola@example.no"]


def plan_text(plan: ResetPlan) -> str:
    return "\n".join([plan.title, *(item.words for item in plan.items)])


def chorus_app(workspace: Workspace, sandbox: SandboxServer, env: str = "production") -> str:
    app_id, _ = add_sandbox_app(workspace, sandbox, name="Chorus Lines", env=env)
    workspace.applications.edit(app_id, ApplicationChange(provider="chorus", owners=OWNERS))
    return app_id


def test_chorus_plan_asks_whether_you_are_an_owner_and_names_the_owners(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id = chorus_app(workspace, sandbox)
    assert workspace.resets.reset_policy(app_id, "production").asks_owner
    unknown = plan_text(workspace.resets.reset_plan(app_id, "production"))
    assert "if you are not an application owner" in unknown
    assert "if you are an owner: reset it in Anypoint > My applications" in unknown
    not_owner = plan_text(workspace.resets.reset_plan(app_id, "production", owner=False))
    assert "ask an owner (kari@example.no, ola@example.no)" in not_owner
    assert "if you are an owner" not in not_owner
    owner = plan_text(workspace.resets.reset_plan(app_id, "production", owner=True))
    assert "you are an owner: reset it in Anypoint > My applications" in owner
    assert "ask an owner" not in owner


def test_chorus_before_registration_only_support_can_reset(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id = chorus_app(workspace, sandbox, env="sandbox")
    policy = workspace.resets.reset_policy(app_id, "sandbox")
    assert not policy.registered
    assert not policy.asks_owner
    plan = plan_text(workspace.resets.reset_plan(app_id, "sandbox"))
    assert "only Chorus Support can reset the secret" in plan
    assert "owner" not in plan


def test_pipedrive_plan_says_the_old_secret_dies_and_user_tokens_stay(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, name="Deals Sync")
    workspace.applications.edit(app_id, ApplicationChange(provider="pipedrive"))
    plan = workspace.resets.reset_plan(app_id, "production")
    assert plan.title == "Resetting the client secret of Deals Sync / production (Pipedrive):"
    text = plan_text(plan)
    assert "deactivates the current client secret the moment" in text
    assert "user tokens (access and refresh tokens) stay valid" in text
    assert "every configuration that uses the old client_secret must be updated" in text
    assert "OAuth & access scopes" in text


def test_a_first_reset_with_no_secret_stored_never_says_the_old_one_was_kept(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    registered = sandbox.state.add_client({"client_id": "fresh", "scope": "sms:send"})
    app = workspace.applications.add("Fresh", ApplicationChange(provider="telenor"))
    workspace.environments.add(
        app.id,
        "production",
        EnvironmentChange(client_id="fresh", token_url=f"{sandbox.issuer}/oauth/token"),
    )
    plan = plan_text(workspace.resets.reset_plan(app.id, "production"))
    assert "no secret is stored yet" in plan
    assert "keeps the old one" not in plan
    import asyncio

    with pytest.raises(SecretNotVerifiedError) as failed:
        asyncio.run(workspace.resets.reset(app.id, "production", "wrong-" + "x" * 20))
    assert "old one was kept" not in str(failed.value)
    assert "nothing was stored" in str(failed.value)
    result = asyncio.run(workspace.resets.reset(app.id, "production", registered.client_secret))
    assert result.verified


def test_a_one_time_secret_is_kept_as_pending_when_it_fails_and_recovered_later(
    cli: CliRunner, sandbox: SandboxServer, workspace: Workspace
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "edit", "telenor-sms", "--provider", "newvoicemedia")
    code, _, err = cli("secret", "reset", "telenor-sms", "production", "--yes", stdin="y" * 40)
    assert code == 2  # production takes the typed name at a terminal, never --yes
    cli(
        "env",
        "add",
        "telenor-sms",
        "sandbox",
        "--client-id",
        "tsms-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    one_time = "N" * 40  # what the one-time link showed; the sandbox does not know it yet
    code, _, err = cli("secret", "reset", "telenor-sms", "sandbox", "--yes", stdin=one_time)
    assert code == 1
    assert "one-time link" in err
    assert "kept in the keyring as pending" in err
    assert (
        workspace.secrets.get_raw(entry_name("telenor-sms", "sandbox", "pending_secret"))
        == one_time
    )
    assert "reset_unfinished" in cli("status", "--json")[1]
    # The provider does not take it yet: recovering checks first, and keeps it pending.
    code, _, err = cli("secret", "recover", "telenor-sms", "sandbox")
    assert code == 1
    assert "does not work yet" in err
    assert "stays pending" in err
    assert "reset_unfinished" in cli("status", "--json")[1]
    # Now it does (the portal's change reached the provider): recovered, and the reset is done.
    registered = sandbox.state.clients["tsms-prod"]
    registered.client_secret = one_time
    registered.token_endpoint_auth_method = "client_secret_post"  # as the profile sends it
    code, _, err = cli("secret", "recover", "telenor-sms", "sandbox")
    assert code == 0, err
    assert "checked with a token call" in err
    workspace.reload()
    assert workspace.credentials.reveal("telenor-sms", "sandbox").reveal() == one_time
    assert workspace.resets.pending("telenor-sms", "sandbox") is None
    assert "reset_unfinished" not in cli("status", "--json")[1]


def test_chorus_reset_from_the_cli_as_a_non_owner(cli: CliRunner, sandbox: SandboxServer) -> None:
    client = sandbox.state.add_client({"client_id": "cl-sbx", "scope": "sms:send"})
    cli("app", "add", "Chorus Lines", "--provider", "chorus", "--owner", OWNERS[0])
    cli(
        "env",
        "add",
        "chorus-lines",
        "production",
        "--client-id",
        "cl-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    cli(
        "env",
        "add",
        "chorus-lines",
        "sandbox",
        "--client-id",
        "cl-sbx",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    code, _, err = cli(
        "secret",
        "reset",
        "chorus-lines",
        "sandbox",
        "--yes",
        "--no-owner",
        stdin=client.client_secret,
    )
    assert code == 0, err
    assert f"ask an owner ({OWNERS[0]})" in err


def test_changing_a_pipedrive_client_id_warns_that_it_means_a_new_app(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "edit", "telenor-sms", "--provider", "pipedrive")
    code, _, err = cli("env", "edit", "telenor-sms", "production", "--client-id", "another")
    assert code == 0
    assert "a new client_id means a new app" in err
    assert "the stored secret belongs to the old client_id" in err
    # Telenor has no such rule: no identity warning.
    cli("app", "edit", "telenor-sms", "--provider", "telenor")
    code, _, err = cli("env", "edit", "telenor-sms", "production", "--client-id", "third")
    assert "new app" not in err


def test_adding_a_production_client_id_another_application_uses_warns(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "add", "Copy")
    code, _, err = cli(
        "env",
        "add",
        "copy",
        "production",
        "--client-id",
        "tsms-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    assert code == 0
    assert "already used in production by telenor-sms" in err
