"""`credenza token inspect` (JWT header and claims, introspection; never the token) and
`--verbose` (the HTTP exchange with every secret masked, and a curl command that works once the
placeholder is set)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner, add_telenor_via_cli


def test_token_inspect_shows_claims_and_introspection_but_never_the_token(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli(
        "env",
        "edit",
        "telenor-sms",
        "production",
        "--introspection-url",
        f"{sandbox.issuer}/oauth/token/introspection",
    )
    code, out, err = cli("token", "inspect", "telenor-sms", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["jwt"]["claims"]["client_id"] == "tsms-prod"
    assert data["jwt"]["header"]["alg"]
    assert data["introspection"]["active"] is True
    assert isinstance(data["expires_in"], int)
    assert data["scopes"] == ["sms:send"]
    token = cli("token", "telenor-sms")[1].strip()
    assert token not in out
    code, out, _ = cli("token", "inspect", "telenor-sms")
    assert code == 0
    assert "JWT claims (not verified):" in out
    assert "active: True" in out
    assert token not in out


def test_verbose_masks_every_secret_and_says_when_the_cache_answered(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    secret = sandbox.state.clients["tsms-prod"].client_secret
    code, out, err = cli("token", "telenor-sms", "--verbose", "--no-cache")
    assert code == 0, err
    token = out.strip()
    assert f"> POST {sandbox.issuer}/oauth/token" in err
    assert "> Authorization: Basic ****" in err
    assert "< HTTP 200" in err
    assert '"access_token": "****"' in err
    assert secret not in err
    assert token not in err
    assert """-u tsms-prod:"$(printf %s "$CLIENT_SECRET" | od""" in err  # form-encoded by the shell
    code, _, err = cli("token", "telenor-sms", "--verbose")
    assert "from the cache" in err


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl here")
def test_the_copied_curl_command_works_once_the_placeholder_is_set(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, _, err = cli("token", "telenor-sms", "--verbose", "--no-cache")
    command = next(line for line in err.splitlines() if line.startswith("curl "))
    done = subprocess.run(
        ["bash", "--norc", "-c", command + " -s"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CLIENT_SECRET": sandbox.state.clients["tsms-prod"].client_secret},
        timeout=30,
    )
    assert json.loads(done.stdout)["token_type"].lower() == "bearer"


def test_verbose_shows_a_failed_exchange_with_the_wrong_secret_masked(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    wrong = "wrong-secret-0123456789abcdef"
    add_telenor_via_cli(cli, sandbox, secret=wrong)
    code, _, err = cli("token", "telenor-sms", "--verbose")
    assert code == 1
    assert "< HTTP 401" in err
    assert wrong not in err
    assert "Basic encoding" in err  # the wrong-secret hint names it
