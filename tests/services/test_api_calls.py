"""`credenza api` and `--api-url`: the API's base URL per environment, bound like every
credentialed endpoint, and calls on it with the environment's token over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.responses import Response

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


def test_an_api_on_another_origin_gets_the_token_only_once_confirmed(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    cli("env", "edit", APP, "production", "--api-url", "https://api.example.com/v1")
    secret = sandbox.state.clients["tsms-prod"].client_secret
    code, _, err = cli("secret", "set", APP, "production", stdin=secret)
    assert code == 0, err
    assert "nothing is sent to https://api.example.com until" in err
    code, out, err = cli("api", APP, "/me")
    assert code == 2
    assert "confirm-endpoint" in err
    assert out == ""
    assert sandbox.state.requests == []  # not even a token was fetched
    code, _, err = cli(
        "secret",
        "set",
        APP,
        "production",
        "--allow-origin",
        "https://api.example.com",
        stdin=secret,
    )
    assert code == 0, err
    assert "https://api.example.com" in err
    assert "nothing is sent" not in err


# -- calls ------------------------------------------------------------------------------------


def _api_requests(sandbox: SandboxServer) -> list[dict[str, object]]:
    return [r for r in sandbox.state.requests if str(r["path"]).startswith("/api/")]


def _token_requests(sandbox: SandboxServer) -> list[dict[str, object]]:
    return [r for r in sandbox.state.requests if r["path"] == "/oauth/token"]


def test_a_get_carries_the_bearer_token_and_prints_the_body(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, "/me")
    assert code == 0, err
    me = json.loads(out)
    assert (me["client_id"], me["token_type"], me["scope"]) == ("tsms-prod", "Bearer", ["sms:send"])
    [call] = _api_requests(sandbox)
    scheme, _, token = str(call["authorization"]).partition(" ")
    assert scheme == "Bearer"
    assert sandbox.state.lookup(token) is not None
    assert token not in out + err
    # The token is cached as `credenza token` caches it: a second call fetches none.
    assert cli("api", APP, "me")[0] == 0
    assert len(_token_requests(sandbox)) == 1
    assert cli("token", APP)[1].strip() == token


def test_an_absolute_url_on_the_api_origin_is_called(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, f"{sandbox.issuer}/api/me")
    assert code == 0, err
    assert json.loads(out)["client_id"] == "tsms-prod"


def test_an_absolute_url_on_another_origin_is_refused_and_nothing_is_sent(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    from tests.hostile import hostile

    _with_api(cli, sandbox)
    with hostile() as (elsewhere, server):
        for url in (f"{server.issuer}/api/me", f"{sandbox.issuer.replace('http:', 'https:')}/me"):
            code, out, err = cli("api", APP, url)
            assert code == 2, err
            assert "not on the API's origin" in err
            assert out == ""
    assert elsewhere.seen == []
    assert sandbox.state.requests == []  # not even a token was fetched


def test_a_404_exits_1_with_the_body_on_stdout(cli: CliRunner, sandbox: SandboxServer) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, "/nothing/here")
    assert code == 1
    assert json.loads(out)["error"] == "not_found"
    assert "HTTP 404" in err


def test_include_prints_the_status_line_and_headers_first(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, "/me", "-i")
    assert code == 0, err
    head, _, body = out.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "HTTP 200 OK"
    assert any(line.lower() == "content-type: application/json" for line in lines[1:])
    assert json.loads(body)["client_id"] == "tsms-prod"


def test_fields_are_the_query_of_a_get_and_a_json_body_otherwise(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, "/echo", "-X", "GET", "-f", "q=a b", "-f", "n=1")
    assert code == 0, err
    assert json.loads(out)["query"] == {"q": "a b", "n": "1"}
    code, out, err = cli("api", APP, "/echo", "-f", "to=4790000000", "-H", "X-Trace: 7")
    assert code == 0, err
    echoed = json.loads(out)
    assert (echoed["method"], echoed["json"]) == ("POST", {"to": "4790000000"})
    code, out, err = cli("api", APP, "/echo", "-X", "PUT", "-d", "plain text")
    assert code == 0, err
    assert (json.loads(out)["method"], json.loads(out)["text"]) == ("PUT", "plain text")


def test_the_raw_body_to_a_pipe_is_byte_exact(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path
) -> None:
    _with_api(cli, sandbox)
    payload = tmp_path / "body.json"
    payload.write_bytes(b'{"text": "caf\\u00e9 \\u001b]52;c;x\\u0007"}')
    code, out, err = cli("api", APP, "/echo", "--input", str(payload))
    assert code == 0, err
    assert json.loads(out)["json"] == {"text": "café \x1b]52;c;x\x07"}


def test_headers_credenza_sets_itself_are_refused(cli: CliRunner, sandbox: SandboxServer) -> None:
    _with_api(cli, sandbox)
    for header in ("Authorization: Bearer x", "DPoP: x", "Host: evil.example", "bad header"):
        code, out, err = cli("api", APP, "/me", "-H", header)
        assert code == 2, (header, err)
        assert out == ""
    assert _api_requests(sandbox) == []


def test_a_refused_token_is_dropped_and_one_fresh_token_retried(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    first = cli("token", APP)[1].strip()
    sandbox.state.revoke(first)  # the API now says invalid_token for the cached one
    code, _out, err = cli("api", APP, "/me")
    assert code == 0, err
    assert len(_api_requests(sandbox)) == 2
    assert len(_token_requests(sandbox)) == 2
    second = str(_api_requests(sandbox)[-1]["authorization"]).partition(" ")[2]
    assert second != first
    assert cli("token", APP)[1].strip() == second  # the fresh one is the cached one now


def test_a_token_refused_again_is_retried_exactly_once(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _with_api(cli, sandbox)
    sandbox.state.api_rejects_tokens = True
    code, out, _err = cli("api", APP, "/me")
    assert code == 1
    assert json.loads(out)["error"] == "invalid_token"
    assert len(_api_requests(sandbox)) == 2
    assert len(_token_requests(sandbox)) == 2


def test_a_moved_api_url_gets_nothing_until_confirmed(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    from tests.hostile import hostile

    _with_api(cli, sandbox)
    with hostile("127.0.0.2") as (elsewhere, server):
        elsewhere.on("/api/me", lambda seen: _json_response({"moved": True}))
        assert cli("env", "edit", APP, "production", "--api-url", f"{server.issuer}/api")[0] == 0
        code, out, err = cli("api", APP, "/me")
        assert code == 2
        assert "confirm-endpoint" in err
        assert out == ""
        assert elsewhere.seen == []
        assert cli("secret", "confirm-endpoint", APP, "production")[0] == 0
        code, out, err = cli("api", APP, "/me")
        assert code == 0, err
        assert json.loads(out) == {"moved": True}
    assert len(elsewhere.seen) == 1


def test_verbose_masks_the_token(cli: CliRunner, sandbox: SandboxServer) -> None:
    _with_api(cli, sandbox)
    code, out, err = cli("api", APP, "/me", "--verbose")
    assert code == 0, err
    token = str(_api_requests(sandbox)[0]["authorization"]).partition(" ")[2]
    assert "> GET " in err
    assert "Authorization: Bearer ****" in err
    assert token not in out + err
    assert sandbox.state.clients["tsms-prod"].client_secret not in out + err


def test_a_terminal_gets_the_body_cleaned_and_pretty() -> None:
    from credenza.cli.api import shown_body
    from credenza.oauth.untrusted import Sent

    token = "tok-0123456789abcdef"
    body = json.dumps({"a\x1b[2J": ["x\x1b]52;c;cHduZWQ=\x07y", token], "n": 1}).encode()
    shown = shown_body(body, Sent(token))
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert token not in shown
    assert json.loads(shown) == {"a": ["xy", "[redacted]"], "n": 1}
    assert shown.startswith("{\n  ")
    text = shown_body("line one\x1b[31m\nline \x9b2J two".encode(), Sent())
    assert text == "line one\nline two\n"
    assert "not shown" in shown_body(b"\xff\xfe\x00binary", Sent(), "image/png")


def _json_response(data: object) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(data)


def test_the_demo_telenor_application_calls_the_sandbox_api(tmp_path: Path) -> None:
    import asyncio

    from credenza.sandbox.demo import build_demo
    from credenza.services.api_calls import ApiCall

    demo = build_demo(tmp_path, live_tokens=False)
    try:
        response = asyncio.run(
            demo.workspace.api.call("telenor-sms-gateway", None, ApiCall("/api/me"))
        )
    finally:
        demo.server.stop()
    assert response.status == 200
    assert json.loads(response.body)["client_id"] == "telenor-sms-gateway-production"
