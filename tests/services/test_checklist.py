"""Each provider's production checklist in its own words: what credenza checks, what a person
confirms, a provider record's own list, and scopes asked for but not granted yet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner


def _labels(cli: CliRunner, app: str) -> dict[str, dict[str, object]]:
    code, out, err = cli("app", "show", app, "--json")
    assert code == 0, err
    return {item["item"]: item for item in json.loads(out)["checklist"]}


@pytest.mark.parametrize("provider", ["pipedrive", "telenor", "newvoicemedia"])
def test_only_chorus_asks_for_two_owners(cli: CliRunner, provider: str) -> None:
    cli("app", "add", "Mine", "--provider", provider, "--owner", "a@example.no")
    assert "two application owners" not in _labels(cli, "mine")
    cli("app", "add", "Lines", "--provider", "chorus", "--owner", "a@example.no")
    assert _labels(cli, "lines")["two application owners"]["ok"] is False


def test_a_step_the_person_does_is_confirmed_by_number_or_words_and_undone(
    cli: CliRunner, config_path: Path
) -> None:
    cli("app", "add", "Lines", "--provider", "chorus")
    code, out, _ = cli("app", "show", "lines")
    assert "confirm a step you did: credenza app check lines NUMBER" in out
    numbered = [line for line in out.splitlines() if "Production Checklist Chorus" in line]
    number = numbered[0].split(".")[0].strip()
    code, _, err = cli("app", "check", "lines", number)
    assert code == 0, err
    steps = _labels(cli, "lines")
    assert steps["the Production Checklist Chorus emailed is completed and returned"]["ok"]
    code, _, err = cli("app", "check", "lines", "Chorus's email saying you have access has arrived")
    assert code == 0, err
    assert _labels(cli, "lines")["Chorus's email saying you have access has arrived"]["ok"]
    code, _, _ = cli("app", "check", "lines", number, "--undo")
    assert code == 0
    steps = _labels(cli, "lines")
    assert not steps["the Production Checklist Chorus emailed is completed and returned"]["ok"]


def test_a_check_credenza_makes_itself_cannot_be_ticked(cli: CliRunner, config_path: Path) -> None:
    cli("app", "add", "Lines", "--provider", "chorus")
    before = config_path.read_bytes()
    code, _, err = cli("app", "check", "lines", "two application owners")
    assert code == 2
    assert "credenza checks 'two application owners' itself" in err
    code, _, err = cli("app", "check", "lines", "a step nobody has")
    assert code == 2
    assert "Production Checklist Chorus emailed" in err  # the steps that can be confirmed
    assert config_path.read_bytes() == before


def test_a_provider_record_carries_its_own_checklist(cli: CliRunner, config_path: Path) -> None:
    cli("app", "add", "Mine", "--provider", "acme")
    text = config_path.read_text()
    config_path.write_text(
        text
        + '\n[providers.acme]\nname = "Acme"\n\n[providers.acme.checklist]\n'
        + 'checks = ["owners"]\nmanual = ["the security review passed"]\n'
    )
    assert list(_labels(cli, "mine")) == ["two application owners", "the security review passed"]


def test_a_requested_scope_waits_is_never_sent_and_is_sent_once_granted(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    client = sandbox.state.add_client(
        {
            "client_id": "nvm-prod",
            "scope": "agents:read calls:read",
            "token_endpoint_auth_method": "client_secret_post",
        }
    )
    cli("app", "add", "NVM", "--provider", "newvoicemedia")
    cli(
        "env",
        "add",
        "nvm",
        "production",
        "--client-id",
        "nvm-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
        "--scope",
        "agents:read",
    )
    cli("secret", "set", "nvm", "production", stdin=client.client_secret)
    code, _, err = cli("env", "edit", "nvm", "production", "--request-scope", "calls:read")
    assert code == 0, err
    # Asked of the account manager, not granted: the token call does not ask for it.
    code, out, err = cli("token", "nvm", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["scope"] == "agents:read"
    code, out, _ = cli("status", "--json")
    waiting = [i for i in json.loads(out)["items"] if i["kind"] == "scope_requested"]
    assert [(i["subject"], i["level"]) for i in waiting] == [("calls:read", "waiting")]
    assert _labels(cli, "nvm")["the scopes asked for are granted"]["ok"] is False
    code, _, err = cli("env", "edit", "nvm", "production", "--grant-scope", "calls:read")
    assert code == 0, err
    code, out, err = cli("token", "nvm", "--format", "json")
    assert code == 0, err
    assert set(json.loads(out)["scope"].split()) == {"agents:read", "calls:read"}
    assert _labels(cli, "nvm")["the scopes asked for are granted"]["ok"] is True
    code, _, err = cli("env", "edit", "nvm", "production", "--grant-scope", "never:asked")
    assert code == 2
    assert "'never:asked' was not requested" in err
