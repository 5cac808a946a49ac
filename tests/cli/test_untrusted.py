"""Untrusted input through the command line: what a hostile server sends never leaks, runs or floods.

The CLI's stdout and stderr (and `--json`) are scanned for the secret, the token and the Basic
value in every encoding, and for ESC, BEL and other control characters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.responses import Response

from tests.conftest import CliRunner
from tests.hostile import (
    ESCAPES,
    Seen,
    control_characters,
    deep_json,
    echo_in,
    gzip_of_zeros,
    hostile,
    json_answer,
    leaks,
    raw_answer,
    token,
)

SECRET = "cAnArY-1d2c3b4a5f6e7d8c9b0a+/=&% é✓:a1b2c3d4"
CLIENT_ID = "hostile-client"
REPO = Path(__file__).resolve().parents[2]


def add_hostile_app(cli: CliRunner, issuer: str, *options: str) -> None:
    assert cli("app", "add", "Hostile")[0] == 0
    code, _, err = cli(
        "env",
        "add",
        "hostile",
        "production",
        "--client-id",
        CLIENT_ID,
        "--token-url",
        f"{issuer}/token",
        "--revocation-url",
        f"{issuer}/revoke",
        *options,
    )
    assert code == 0, err
    assert cli("secret", "set", "hostile", "production", stdin=SECRET)[0] == 0


def assert_clean(output: str, *tokens: str) -> None:
    assert leaks(output, SECRET, CLIENT_ID) == []
    for value in tokens:
        assert leaks(output, value) == []
    assert control_characters(output) == []


@pytest.mark.parametrize("where", ["error", "description", "code", "title", "text"])
@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_token_and_verify_never_print_an_echoed_secret(
    cli: CliRunner, where: str, auth_method: str
) -> None:
    with hostile() as (script, server):
        script.on("/token", echo_in(where))
        add_hostile_app(cli, server.issuer, "--auth-method", auth_method)
        code, out, err = cli("token", "hostile")
        assert code == 1
        assert_clean(out + err)
        code, out, err = cli("verify", "hostile", "--json")
        assert code == 1
        assert_clean(out + err)
        json.loads(out)
    authorization = script.seen[0].headers.get("authorization")
    if authorization:
        assert_clean(out + err, authorization)


def test_revoke_never_prints_the_token_it_sent(cli: CliRunner) -> None:
    issued = "tOkEn-canary-5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d"
    with hostile() as (script, server):
        script.on("/token", token(issued, expires_in=300))
        script.on("/revoke", echo_in("description", status=400))
        add_hostile_app(cli, server.issuer)
        assert cli("token", "hostile")[1].strip() == issued
        code, out, err = cli("revoke", "hostile")
    assert code == 1
    assert_clean(out + err, issued)


@pytest.mark.parametrize("where", ["error", "description", "code", "title", "text"])
def test_escape_sequences_from_a_server_never_reach_the_terminal(
    cli: CliRunner, where: str
) -> None:
    def escaping(seen: Seen) -> Response:
        from starlette.responses import JSONResponse, Response

        if where == "title":
            return Response(f"<title>x{ESCAPES}</title>", 502, media_type="text/html")
        if where == "text":
            return Response(f"x{ESCAPES}", 502, media_type="text/plain")
        field = {"error": "error", "description": "error_description", "code": "code"}[where]
        return JSONResponse({"error": "invalid_request", field: f"x{ESCAPES}y"}, 400)

    with hostile() as (script, server):
        script.on("/token", escaping)
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile")
        assert code == 1
        assert control_characters(out + err) == []
        code, out, err = cli("verify", "--all", "--json")
        assert control_characters(out + err) == []


def test_eval_of_format_env_runs_nothing_a_server_put_in_the_token(
    cli: CliRunner, tmp_path: Path
) -> None:
    canary = tmp_path / "ran"
    nasty = f"$(touch {canary})`touch {canary}`;touch {canary};'\"$HOME"
    with hostile() as (script, server):
        script.on("/token", token(nasty, expires_in=300))
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile", "--format", "env")
    assert code == 0, err
    result = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf %s "$CREDENZA_ACCESS_TOKEN"', "bash", out],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not canary.exists()
    assert result.stdout == nasty


def test_a_backquoted_token_type_is_quoted_for_the_shell(cli: CliRunner, tmp_path: Path) -> None:
    # Backquotes are legal in an RFC 9110 token, so `x` is a valid (if odd) type.
    with hostile() as (script, server):
        script.on("/token", token("t0k3n", token_type="`x`", expires_in=300))
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile", "--format", "env")
    assert code == 0, err
    result = subprocess.run(
        [
            "bash",
            "-c",
            'x() { echo RAN; }; eval "$1"; printf %s "$CREDENZA_TOKEN_TYPE"',
            "bash",
            out,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "`x`"


@pytest.mark.parametrize(
    "token_type", ["$(touch {canary})", "Bearer;touch {canary}", "`touch {canary}`"]
)
def test_a_token_type_that_would_run_in_a_shell_is_refused(
    cli: CliRunner, tmp_path: Path, token_type: str
) -> None:
    canary = tmp_path / "ran"
    with hostile() as (script, server):
        script.on("/token", token(token_type=token_type.format(canary=canary)))
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile", "--format", "env")
    assert code == 1
    assert out == ""
    assert "token_type" in err
    subprocess.run(["bash", "-c", 'eval "$1"', "bash", out], check=True)
    assert not canary.exists()


def test_deep_json_is_a_provider_error_with_exit_1(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on("/token", raw_answer(deep_json(), 400, {"content-type": "application/json"}))
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile")
        assert code == 1
        assert "nested deeper than" in err
        assert "internal error" not in err
        code, out, err = cli("verify", "--all", "--json")
    assert code == 1
    (result,) = json.loads(out)
    assert result["status"] == "provider"


def test_a_gzip_bomb_stays_under_200_mb_of_memory() -> None:
    """1 MB of gzip inflating to 1 GB of zeros, fetched by a fresh process: its peak RSS."""
    bomb = gzip_of_zeros(10**9)
    assert len(bomb) < 1024 * 1024  # under the cap on raw bytes: only decoding can stop it
    child = """
import asyncio, resource, sys
from credenza.oauth.grants import client_credentials
from credenza.oauth.plan import ClientCredentials
from credenza.oauth.client import OAuthClient
from credenza.errors import CredenzaError
from credenza.secrets import Secret

async def main():
    client = OAuthClient()
    try:
        await client.grant(client_credentials.plan, ClientCredentials(sys.argv[1], "id", Secret("s" * 40)))
    except CredenzaError as exc:
        print(exc)
    finally:
        await client.aclose()

asyncio.run(main())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""
    with hostile() as (script, server):
        script.on("/token", raw_answer(bomb, 200, {"content-encoding": "gzip"}))
        result = subprocess.run(
            [sys.executable, "-c", child, f"{server.issuer}/token"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            check=True,
        )
    message, peak_kib = result.stdout.strip().splitlines()
    assert "more than 1024 KiB" in message
    assert int(peak_kib) < 200 * 1024


def test_retry_after_100000_is_reported_as_busy_not_dripping(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on("/token", json_answer({"error": "slow_down"}, 429, {"retry-after": "100000"}))
        add_hostile_app(cli, server.issuer)
        code, _, err = cli("token", "hostile")
    assert code == 1
    assert len(script.seen) == 1
    assert "dripping" not in err
    assert "asked to wait 28 h" in err


def test_a_nan_deadline_in_the_config_is_exit_2_not_an_internal_error(
    cli: CliRunner, config_path: Path
) -> None:
    assert cli("app", "add", "Anything")[0] == 0
    text = config_path.read_text()
    config_path.write_text(text.replace("[settings]", "[settings]\ndeadline = nan", 1))
    if "[settings]" not in text:
        config_path.write_text("[settings]\ndeadline = nan\n" + text)
    code, _, err = cli("app", "list")
    assert code == 2
    assert "deadline" in err
    assert "internal error" not in err


def test_revoke_answered_by_an_html_page_is_unconfirmed_exit_1(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on("/token", token("opaque-abcdef-123456", expires_in=300))
        script.on(
            "/revoke",
            raw_answer("<html><title>Welcome</title></html>", 200, {"content-type": "text/html"}),
        )
        add_hostile_app(cli, server.issuer)
        assert cli("token", "hostile")[0] == 0
        code, _out, err = cli("revoke", "hostile")
        assert code == 1
        assert "could not confirm the token was revoked" in err
        # The cached copy was dropped anyway: the next call fetches a new token.
        before = len([s for s in script.seen if s.path == "/token"])
        assert cli("token", "hostile")[0] == 0
    assert len([s for s in script.seen if s.path == "/token"]) == before + 1


def test_an_unknown_token_type_is_named_in_a_warning(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on("/token", token("t0k3n-abcdef", token_type="mac", expires_in=300))
        add_hostile_app(cli, server.issuer)
        code, out, err = cli("token", "hostile", "--format", "header")
    assert code == 0, err
    assert out.strip() == "Authorization: mac t0k3n-abcdef"
    assert "type 'mac'" in err


def test_a_narrower_grant_names_the_missing_scopes_and_omitted_means_as_requested(
    cli: CliRunner,
) -> None:
    with hostile() as (script, server):
        script.on("/token", token("t0k3n-abcdef", scope="read", expires_in=300))
        add_hostile_app(cli, server.issuer, "--scope", "read", "--scope", "write")
        code, _, err = cli("token", "hostile")
        assert code == 0, err
        assert "did not grant: write" in err
        script.on("/token", token("t0k3n-ghijkl", expires_in=300))
        code, out, err = cli("verify", "hostile", "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    assert "as requested (read write)" in result["message"]
    assert result["warnings"] == []
