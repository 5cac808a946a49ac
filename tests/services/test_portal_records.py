"""What a provider's portal knows about an application, recorded in the provider's terms: the
people in the portal, the terms accepted, Anypoint's client providers, the implicit grant
recorded but never run, and Chorus's one application per organisation name."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliRunner


def test_portal_people_are_recorded_by_role_apart_from_credentials(cli: CliRunner) -> None:
    cli("app", "add", "Telenor SMS", "--provider", "telenor")
    code, _, err = cli(
        "app",
        "member",
        "set",
        "telenor-sms",
        "kari@example.no",
        "--role",
        "administrator",
        "--identity",
        "Min Bedrift",
    )
    assert code == 0, err
    cli("app", "member", "set", "telenor-sms", "ola@example.no", "--identity", "ConnectID")
    code, out, _ = cli("app", "show", "telenor-sms")
    assert (
        "kari@example.no (administrator, Min Bedrift); ola@example.no (developer, ConnectID)" in out
    )
    # Set again: a new role replaces the old one, never a second entry.
    cli("app", "member", "set", "telenor-sms", "ola@example.no", "--role", "owner")
    members = json.loads(cli("app", "show", "telenor-sms", "--json")[1])["members"]
    assert [(m["who"], m["role"]) for m in members] == [
        ("kari@example.no", "administrator"),
        ("ola@example.no", "owner"),
    ]
    assert cli("app", "member", "remove", "telenor-sms", "ola@example.no", "--yes")[0] == 0
    code, _, err = cli("app", "member", "remove", "telenor-sms", "ola@example.no", "--yes")
    assert code == 2
    assert "is not a portal member" in err


def _portal_with_catalogue(cli: CliRunner) -> None:
    cli("provider", "add", "anypoint")
    cli(
        "provider",
        "api",
        "add",
        "anypoint",
        "orders-v2",
        "--name",
        "Orders",
        "--instance",
        "v2",
        "--terms",
        "https://anypoint.example.com/orders/terms",
        "--client-provider",
        "Okta",
        "--tier",
        "Gold:2",
    )
    for name in ("Okta App", "Builtin App"):
        cli("app", "add", name, "--provider", "anypoint")
        cli(
            "env",
            "add",
            name.lower().replace(" ", "-"),
            "production",
            "--client-id",
            "c",
            "--token-url",
            "https://id.example.com/token",
        )
    cli("app", "edit", "okta-app", "--client-provider", "Okta")


def test_an_instance_of_another_client_provider_is_refused_and_not_offered(
    cli: CliRunner, config_path: Path
) -> None:
    _portal_with_catalogue(cli)
    before = config_path.read_bytes()
    code, _, err = cli(
        "contract",
        "request",
        "builtin-app",
        "production",
        "--api",
        "Orders",
        "--instance",
        "v2",
        "--accept-terms",
    )
    assert code == 2
    assert "client provider 'Okta'" in err
    assert config_path.read_bytes() == before
    offered = json.loads(cli("contract", "catalogue", "builtin-app", "--json")[1])
    assert offered == []
    offered = json.loads(cli("contract", "catalogue", "okta-app", "--json")[1])
    assert [e["id"] for e in offered] == ["orders-v2"]


def test_the_terms_accepted_are_kept_with_the_contract(cli: CliRunner) -> None:
    _portal_with_catalogue(cli)
    code, _, err = cli(
        "contract",
        "request",
        "okta-app",
        "production",
        "--api",
        "Orders",
        "--instance",
        "v2",
        "--tier",
        "Gold",
        "--accept-terms",
    )
    assert code == 0, err
    [contract] = json.loads(cli("contract", "list", "okta-app", "--json")[1])
    assert contract["terms"] == "https://anypoint.example.com/orders/terms"
    cli("app", "add", "Other", "--provider", "anypoint")
    cli(
        "env",
        "add",
        "other",
        "production",
        "--client-id",
        "o",
        "--token-url",
        "https://id.example.com/token",
    )
    cli(
        "contract",
        "request",
        "other",
        "production",
        "--api",
        "Billing",
        "--instance",
        "v1",
        "--accept-terms",
        "--terms",
        "Billing API terms 2026-03, clause 4: no resale",
    )
    [contract] = json.loads(cli("contract", "list", "other", "--json")[1])
    assert contract["terms"] == "Billing API terms 2026-03, clause 4: no resale"


def test_the_implicit_grant_is_recorded_never_run_and_says_why(cli: CliRunner) -> None:
    code, _, err = cli("app", "add", "Legacy SPA", "--grant-type", "implicit")
    assert code == 0
    assert "the implicit grant is recorded, not used" in err
    assert "RFC 9700" in err
    cli(
        "env",
        "add",
        "legacy-spa",
        "production",
        "--client-id",
        "spa",
        "--token-url",
        "https://id.example.com/token",
    )
    code, _, err = cli("token", "legacy-spa")
    assert code == 2
    assert "the implicit grant is never used" in err
    assert "authorization_code" in err


def test_chorus_line_test_says_one_application_per_organisation_name(cli: CliRunner) -> None:
    cli(
        "app",
        "add",
        "Lines",
        "--provider",
        "chorus",
        "--api",
        "Line Test API",
        "--org",
        "Example Broadband Ltd",
    )
    _, out, _ = cli("app", "show", "lines")
    assert "Line Test API: answers only for lines of the organisation name registered" in out
    cli("app", "add", "Other", "--provider", "chorus", "--api", "Another API")
    assert "organisation name registered" not in cli("app", "show", "other")[1]


def test_portal_people_and_terms_are_one_line_of_plain_text(
    cli: CliRunner, config_path: Path
) -> None:
    _portal_with_catalogue(cli)
    before = config_path.read_bytes()
    code, _, err = cli("app", "member", "set", "okta-app", "eve\x1b]52;c;AAAA\x07")
    assert code == 2
    assert "control character" in err
    code, _, err = cli("app", "member", "set", "okta-app", "ola@example.no", "--identity", "x\ny")
    assert code == 2
    code, _, err = cli(
        "contract", "request", "okta-app", "production", "--api", "Orders", "--instance", "v2",
        "--accept-terms", "--terms", "line one\nline two",
    )  # fmt: skip
    assert code == 2
    code, _, err = cli(
        "contract", "request", "okta-app", "production", "--api", "Orders", "--instance", "v2",
        "--terms", "https://example.com/terms",
    )  # fmt: skip
    assert code == 2
    assert "--accept-terms" in err
    assert config_path.read_bytes() == before
