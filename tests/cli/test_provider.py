"""`credenza provider`: records on top of profiles, a user's own sandbox (admin token, catalogue,
reset, request access, approve) from their own workspace, and portal catalogues whose tier ranks
decide the effective contract."""

from __future__ import annotations

import json
from pathlib import Path

from credenza.sandbox import SandboxServer
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_telenor_via_cli


def test_a_users_own_sandbox_resets_secrets_and_decides_contracts(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    client = sandbox.state.add_client({"client_id": "orders-sbx", "scope": "orders:read"})
    old_secret = client.client_secret
    code, _, err = cli("provider", "add", "mine", "--sandbox", sandbox.issuer)
    assert code == 0, err
    assert "credenza provider admin-token mine" in err
    shown = json.loads(cli("provider", "show", "mine", "--json")[1])
    assert shown["kind"] == "sandbox"
    assert shown["environments"]["sandbox"]["token_url"] == f"{sandbox.issuer}/oauth/token"
    assert shown["admin_token_stored"] is False
    assert cli("provider", "admin-token", "mine", stdin=sandbox.admin_token + "\n")[0] == 0
    assert json.loads(cli("provider", "show", "mine", "--json")[1])["admin_token_stored"]
    cli("app", "add", "Orders", "--provider", "mine")
    # The provider knows the sandbox's endpoints: no --token-url needed.
    code, _, err = cli("env", "add", "orders", "sandbox", "--client-id", "orders-sbx")
    assert code == 0, err
    cli("secret", "set", "orders", "sandbox", stdin=client.client_secret)
    code, _, err = cli("secret", "reset", "orders", "sandbox", "--yes")
    assert code == 0, err
    assert sandbox.state.clients["orders-sbx"].client_secret != old_secret
    assert cli("token", "orders", "--env", "sandbox")[0] == 0
    code, _, err = cli(
        "provider",
        "api",
        "add",
        "mine",
        "orders-v1",
        "--name",
        "Orders",
        "--instance",
        "v1",
        "--env",
        "sandbox",
        "--tier",
        "Bronze:1:auto",
        "--tier",
        "Gold:3",
    )
    assert code == 0, err
    listed = json.loads(cli("contract", "catalogue", "orders", "--json")[1])
    assert [(e["id"], [t["rank"] for t in e["tiers"]]) for e in listed] == [("orders-v1", [1, 3])]
    code, _, err = cli(
        "contract",
        "request",
        "orders",
        "sandbox",
        "--api",
        "Orders",
        "--instance",
        "orders-v1",
        "--tier",
        "Gold",
        "--accept-terms",
    )
    assert code == 0, err
    assert "pending" in err
    contract = json.loads(cli("contract", "list", "orders", "--json")[1])[0]
    assert cli("contract", "approve", "orders", contract["id"])[0] == 0
    contract = json.loads(cli("contract", "list", "orders", "--json")[1])[0]
    assert (contract["status"], contract["sla_rank"], contract["effective"]) == (
        "approved",
        3,
        True,
    )


def test_a_sandbox_provider_at_a_dead_url_is_not_added(cli: CliRunner) -> None:
    import socket

    # Bound and never listening: connections are refused, and no other test can take the port
    # (a stopped server's port could be reused by another worker's server meanwhile).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        code, _, err = cli("provider", "add", "gone", "--sandbox", url)
    assert code == 1
    assert "cannot connect" in err
    assert cli("provider", "show", "gone")[0] == 2


def test_a_portal_catalogue_with_tier_ranks_decides_the_effective_contract(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    cli("provider", "add", "acme", "--profile", "anypoint")
    for args in (
        (
            "orders-v2",
            "--name",
            "Orders",
            "--instance",
            "v2",
            "--tier",
            "Silver:1",
            "--tier",
            "Gold:2",
        ),
        (
            "fibre-all",
            "--name",
            "Fibre APIs",
            "--instance",
            "v1",
            "--group",
            "--member",
            "Orders",
            "--member",
            "Lines",
            "--tier",
            "Platinum:5",
        ),
    ):
        code, _, err = cli("provider", "api", "add", "acme", *args)
        assert code == 0, err
    code, _, err = cli(
        "provider", "api", "add", "acme", "bad", "--name", "G", "--instance", "1", "--group"
    )
    assert code == 2
    assert "member" in err
    add_telenor_via_cli(cli, sandbox)
    cli("app", "edit", "telenor-sms", "--provider", "acme")
    for api, instance, tier in (
        ("Orders", "orders-v2", "Gold"),
        ("Fibre APIs", "fibre-all", "Platinum"),
    ):
        code, _, err = cli(
            "contract",
            "request",
            "telenor-sms",
            "production",
            "--api",
            api,
            "--instance",
            instance,
            "--tier",
            tier,
            "--accept-terms",
        )
        assert code == 0, err
    code, _, err = cli(
        "contract",
        "request",
        "telenor-sms",
        "production",
        "--api",
        "Orders",
        "--instance",
        "orders-v2",
        "--tier",
        "Diamond",
    )
    assert code == 2
    assert "Silver, Gold" in err
    contracts = json.loads(cli("contract", "list", "telenor-sms", "--json")[1])
    for contract in contracts:
        cli("contract", "record", "telenor-sms", contract["id"], "approved")
    contracts = json.loads(cli("contract", "list", "telenor-sms", "--json")[1])
    by_api = {c["api"]: c for c in contracts}
    assert by_api["Fibre APIs"]["apis"] == ["Orders", "Lines"]
    # Orders is reachable through its own Gold contract and the group's Platinum one: the least
    # restrictive (highest rank) applies.
    assert by_api["Fibre APIs"]["effective"]
    assert not by_api["Orders"]["effective"]


def test_basic_encoding_and_rotation_are_edited_and_cleared(cli: CliRunner) -> None:
    cli("provider", "add", "tel", "--profile", "telenor", "--rotation-days", "90")
    shown = json.loads(cli("provider", "show", "tel", "--json")[1])
    assert (shown["basic_auth_encoding"], shown["rotation_days"]) == ("raw", 90)
    cli("provider", "edit", "tel", "--basic-encoding", "rfc6749", "--rotation-days", "")
    shown = json.loads(cli("provider", "show", "tel", "--json")[1])
    assert (shown["basic_auth_encoding"], shown["rotation_days"]) == ("rfc6749", None)
    code, _, err = cli("provider", "edit", "tel", "--secret-length", "forty")
    assert code == 2
    assert "whole number" in err
    code, _, err = cli("provider", "add", "x", "--profile", "nosuch")
    assert code == 2
    assert "pipedrive" in err  # the known profiles are listed


def test_provider_endpoints_per_environment_are_the_default_of_its_applications(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    code, _, err = cli(
        "provider",
        "add",
        "acme",
        "--env",
        "test",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
        "--revocation-url",
        f"{sandbox.issuer}/oauth/token/revocation",
    )
    assert code == 0, err
    client = sandbox.state.add_client({"client_id": "acme-test"})
    cli("app", "add", "Acme", "--provider", "acme")
    assert cli("env", "add", "acme", "test", "--client-id", "acme-test")[0] == 0
    code, _, err = cli("env", "add", "acme", "production", "--client-id", "acme-prod")
    assert code == 2
    assert "--token-url" in err
    cli("secret", "set", "acme", "test", stdin=client.client_secret)
    assert cli("token", "acme", "--env", "test")[0] == 0
    cli("provider", "edit", "acme", "--remove-env", "test")
    assert "test" not in json.loads(cli("provider", "show", "acme", "--json")[1])["environments"]


def test_an_error_code_table_file_explains_the_providers_codes(
    cli: CliRunner, tmp_path: Path, workspace: Workspace
) -> None:
    table = tmp_path / "codes.toml"
    table.write_text(
        '[[errors]]\nendpoint = "token"\nstatus = 401\ncode = "42"\n'
        'explanation = "the client is suspended"\nkind = "unknown_client"\n'
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[[errors]]\nendpoint = "token"\n')
    code, _, err = cli("provider", "add", "acme", "--errors", str(bad))
    assert code == 2
    assert "incomplete" in err
    assert cli("provider", "add", "acme", "--errors", str(table))[0] == 0
    workspace.reload()
    explained = workspace.providers.profile("acme").explain("token", 401, "42")
    assert explained is not None
    assert explained.explanation == "the client is suspended"
    assert json.loads(cli("provider", "show", "acme", "--json")[1])["error_codes"] == 1


def test_provider_remove_prompts_refuses_off_a_terminal_and_while_used(
    cli: CliRunner, sandbox: SandboxServer, workspace: Workspace
) -> None:
    cli("provider", "add", "mine", "--sandbox", sandbox.issuer)
    cli("provider", "admin-token", "mine", stdin=sandbox.admin_token)
    cli("app", "add", "Orders", "--provider", "mine")
    code, _, err = cli("provider", "remove", "mine", "--yes")
    assert code == 2
    assert "orders use(s) the provider" in err
    cli("app", "edit", "orders", "--provider", "")
    code, _, err = cli("provider", "remove", "mine")
    assert code == 2
    assert "--yes" in err
    assert cli("provider", "remove", "mine", "--yes")[0] == 0
    assert not workspace.providers.has_admin_token("mine")
    assert cli("provider", "show", "mine")[0] == 2


def test_provider_list_shows_records_and_shipped_profiles(cli: CliRunner) -> None:
    cli("provider", "add", "mine", "--profile", "pipedrive", "--name", "Our Pipedrive")
    listed = {p["key"]: p for p in json.loads(cli("provider", "list", "--json")[1])}
    assert listed["mine"]["name"] == "Our Pipedrive"
    assert listed["mine"]["client_id_fixed"] is True
    assert listed["telenor"]["record"] is None
    assert "Our Pipedrive" in cli("provider", "list")[1]
