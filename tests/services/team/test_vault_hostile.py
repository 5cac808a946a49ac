"""A team store that misbehaves gets what every credentialed call gets: no redirect followed, a
capped body, and nothing it echoes (the store token, a secret, an escape) reaches the terminal."""

from __future__ import annotations

import secrets

import pytest

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner, add_telenor_via_cli
from tests.hostile import ESCAPES, Seen, control_characters, hostile, leaks, raw_answer

RECORD = "/v1/secret/data/credenza/acme/telenor-sms/production"


@pytest.fixture
def store_token(monkeypatch: pytest.MonkeyPatch) -> str:
    token = "hvs." + secrets.token_urlsafe(30)
    monkeypatch.setenv("VAULT_TOKEN", token)
    return token


def test_a_store_that_echoes_the_request_leaks_neither_token_nor_secret(
    cli: CliRunner, sandbox: SandboxServer, store_token: str
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    secret = "canary-" + secrets.token_urlsafe(30)
    with hostile() as (script, server):
        from starlette.responses import JSONResponse

        def echo(seen: Seen) -> JSONResponse:
            if seen.method == "GET":
                return JSONResponse({"errors": []}, status_code=404)  # no record yet
            said = f"{ESCAPES} token={seen.headers.get('x-vault-token')} body={seen.text}"
            return JSONResponse({"errors": [said]}, status_code=400)

        script.on(RECORD, echo)
        script.on(
            "/v1/auth/token/lookup-self",
            lambda seen: JSONResponse({"data": {"display_name": "token-x"}}),
        )
        assert cli("team", "use", "vault", server.issuer, "--path", "credenza/acme")[0] == 0
        code, out, err = cli("secret", "set", "telenor-sms", "production", stdin=secret)
    assert code == 3
    assert "answered HTTP 400" in err
    assert leaks(out + err, secret) == []
    assert leaks(out + err, store_token) == []
    assert control_characters(out + err) == []
    assert any(seen.body for seen in script.seen)  # it did get the write, and echoed it


def test_a_store_that_redirects_is_not_followed(
    cli: CliRunner, sandbox: SandboxServer, store_token: str
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    with hostile() as (elsewhere, other), hostile() as (script, server):
        script.on(
            RECORD,
            raw_answer("", 307, {"location": f"{other.issuer}{RECORD}"}),
        )
        assert cli("team", "use", "vault", server.issuer, "--path", "credenza/acme")[0] == 0
        code, _, err = cli("token", "telenor-sms")
    assert code == 1
    assert "redirect" in err
    assert elsewhere.seen == []  # the token never went there
    assert leaks(err, store_token) == []


def test_a_store_answer_beyond_the_body_cap_is_cut_off(
    cli: CliRunner, sandbox: SandboxServer, store_token: str
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    with hostile() as (script, server):
        script.on(RECORD, raw_answer(b"{" + b" " * (3 * 1024 * 1024) + b"}"))
        assert cli("team", "use", "vault", server.issuer, "--path", "credenza/acme")[0] == 0
        code, out, err = cli("token", "telenor-sms")
    assert code == 3
    assert out == ""
    assert "the answer was cut off" in err
