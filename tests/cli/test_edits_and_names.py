"""The CLI's edits say what they do: one callback URL, a placeholder said, a new issuer
rediscovered, verify of several applications, names completed at Tab, --json with every key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer, SandboxState
from tests.conftest import CliRunner, add_telenor_via_cli


def test_a_second_callback_url_is_refused_and_changes_nothing(
    cli: CliRunner, config_path: Path
) -> None:
    cli("app", "add", "Pipedrive CRM", "--callback-url", "https://crm.example.no/cb")
    before = config_path.read_bytes()
    code, _, err = cli(
        "app",
        "edit",
        "pipedrive-crm",
        "--callback-url",
        "https://a.example.no/cb",
        "--callback-url",
        "https://b.example.no/cb",
    )
    assert code == 2
    assert "--callback-url may be given once" in err
    assert len(err.strip().splitlines()) == 1  # one line, not a usage block
    assert config_path.read_bytes() == before


def test_a_placeholder_callback_url_is_said_at_add_and_edit(cli: CliRunner) -> None:
    code, _, err = cli("app", "add", "Pipedrive CRM", "--callback-url", "https://example.com/cb")
    assert code == 0
    assert "the callback URL is a placeholder" in err
    code, _, err = cli("app", "edit", "pipedrive-crm", "--callback-url", "https://crm.acme.no/cb")
    assert code == 0
    assert "placeholder" not in err
    # A loopback redirect where credenza itself signs in is the real one (RFC 8252 §7.3).
    code, _, err = cli(
        "app",
        "edit",
        "pipedrive-crm",
        "--grant-type",
        "authorization_code",
        "--callback-url",
        "http://127.0.0.1:53682/callback",
    )
    assert code == 0
    assert "placeholder" not in err


def test_env_edit_with_a_new_issuer_rediscovers_its_endpoints(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    cli("app", "add", "Telenor SMS")
    assert (
        cli(
            "env",
            "add",
            "telenor-sms",
            "production",
            "--client-id",
            "c",
            "--issuer",
            sandbox.issuer,
        )[0]
        == 0
    )
    with SandboxServer(SandboxState()) as moved:
        code, _, err = cli("env", "edit", "telenor-sms", "production", "--issuer", moved.issuer)
        assert code == 0, err
        code, out, _ = cli("env", "list", "telenor-sms", "--json")
    [environment] = json.loads(out)
    assert environment["token_url"] == f"{moved.issuer}/oauth/token"


def test_verify_takes_several_applications(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    client = sandbox.state.add_client({"client_id": "crm-prod", "scope": "deals:read"})
    cli("app", "add", "Pipedrive CRM")
    cli(
        "env",
        "add",
        "pipedrive-crm",
        "production",
        "--client-id",
        "crm-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    cli("secret", "set", "pipedrive-crm", "production", stdin=client.client_secret)
    cli("app", "add", "Not Checked")
    cli(
        "env",
        "add",
        "not-checked",
        "production",
        "--client-id",
        "x",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
    )
    code, out, err = cli("verify", "telenor-sms", "pipedrive-crm", "--json")
    assert code == 0, err
    checked = {(r["application"], r["environment"], r["status"]) for r in json.loads(out)}
    assert checked == {("telenor-sms", "production", "ok"), ("pipedrive-crm", "production", "ok")}
    # A name that is not there checks nothing.
    code, out, err = cli("verify", "telenor-sms", "nope")
    assert code == 2
    assert out == ""


def test_completion_offers_application_and_environment_names(
    cli: CliRunner, config_path: Path
) -> None:
    cli("app", "add", "Telenor SMS")
    cli(
        "env",
        "add",
        "telenor-sms",
        "staging",
        "--client-id",
        "c",
        "--token-url",
        "https://id.example.no/token",
    )
    code, out, _ = cli("__complete", "apps")
    assert (code, out) == (0, "telenor-sms\n")
    code, out, _ = cli("__complete", "envs")
    assert (code, out) == (0, "staging\n")
    code, out, _ = cli("completion", "bash")
    assert code == 0
    assert "credenza __complete apps" in out
    # The bash script completes `credenza token tel<Tab>` from the config.
    script = out + (
        "\ncredenza() { "
        f'{sys.executable} -m credenza --config {config_path} "$@"; }}\n'
        "COMP_WORDS=(credenza token tel); COMP_CWORD=2; COMP_LINE='credenza token tel'; "
        "COMP_POINT=${#COMP_LINE}; _shtab_credenza; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert "telenor-sms" in done.stdout.split()


def test_completion_of_a_config_that_does_not_load_prints_nothing(
    cli: CliRunner, config_path: Path
) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text("applications = [\n")
    assert cli("__complete", "apps") == (0, "", "")


@pytest.mark.parametrize("command", [("app", "list"), ("app", "show", "telenor-sms")])
def test_json_gives_every_key_even_an_empty_one(cli: CliRunner, command: tuple[str, ...]) -> None:
    cli("app", "add", "Telenor SMS")
    code, out, _ = cli(*command, "--json")
    assert code == 0
    data = json.loads(out)
    record = data[0] if isinstance(data, list) else data
    for key, empty in (
        ("description", None),
        ("owners", []),
        ("callback_url", None),
        ("organisation", None),
        ("contracts", []),
        ("environments", {}),
    ):
        assert record[key] == empty
