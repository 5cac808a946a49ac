"""`credenza api` and `--api-url`: the API's base URL per environment, bound like every
credentialed endpoint, and calls on it with the environment's token over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


def _with_api(cli: CliRunner, sandbox: SandboxServer, api_url: str | None = None) -> str:
    add_telenor_via_cli(cli, sandbox, secret=None)
    url = api_url or f"{sandbox.issuer}/api"
    code, _, err = cli("env", "edit", APP, "production", "--api-url", url)
    assert code == 0, err
    client = sandbox.state.clients["tsms-prod"]
    assert cli("secret", "set", APP, "production", stdin=client.client_secret)[0] == 0
    return url


def test_api_url_is_recorded_listed_and_exported(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    url = _with_api(cli, sandbox)
    listed = json.loads(cli("env", "list", APP, "--json")[1])[0]
    assert (listed["api_url"], listed["dpop"]) == (url, False)
    assert url in cli("env", "list", APP)[1]
    exported = json.loads(cli("export")[1])
    assert exported["applications"][0]["environments"]["production"]["api_url"] == url
    assert f'api_url = "{url}"' in config_path.read_text()


def test_a_bad_api_url_is_refused_and_changes_nothing(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    add_telenor_via_cli(cli, sandbox)
    before = config_path.read_text()
    for bad in ("ftp://api.example.com", "https://api.example.com/v1?key=1", "not a url"):
        code, _, err = cli("env", "edit", APP, "production", "--api-url", bad)
        assert code == 2, (bad, err)
        assert "api url" in err
        assert "Traceback" not in err
    assert config_path.read_text() == before


def test_a_plain_http_api_url_off_loopback_is_warned_about(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    code, _, err = cli("env", "edit", APP, "production", "--api-url", "http://api.example.com/v1")
    assert code == 0, err
    assert "plain http" in err


def test_the_secret_is_bound_to_the_api_origin_it_was_set_for(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    cli("env", "edit", APP, "production", "--api-url", "https://api.example.com/v1")
    secret = sandbox.state.clients["tsms-prod"].client_secret
    code, _, err = cli("secret", "set", APP, "production", stdin=secret)
    assert code == 0, err
    assert "https://api.example.com" in err
