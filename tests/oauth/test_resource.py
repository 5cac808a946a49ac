"""Protected-resource discovery (RFC 9728) and resource indicators (RFC 8707): `env add
--api-url` alone finds the API's authorization server, records the API's resource, and every
token request (refresh too) asks for a token for that resource."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.responses import JSONResponse, Response

from credenza.config.changes import EnvironmentChange
from credenza.sandbox import SandboxServer
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_sandbox_app
from tests.hostile import hostile

APP = "telenor-sms"


def _client(sandbox: SandboxServer, **metadata: object) -> str:
    client = sandbox.state.add_client({"client_id": "tsms-prod", "scope": "sms:send", **metadata})
    return client.client_secret


def test_env_add_with_only_the_api_url_finds_the_authorization_server(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    secret = _client(sandbox)
    cli("app", "add", "Telenor SMS")
    api = f"{sandbox.issuer}/api"
    code, _, err = cli(
        "env", "add", APP, "production", "--client-id", "tsms-prod", "--api-url", api
    )
    assert code == 0, err
    assert "/.well-known/oauth-protected-resource/api" in err
    listed = json.loads(cli("env", "list", APP, "--json")[1])[0]
    assert listed["token_url"] == f"{sandbox.issuer}/oauth/token"
    assert listed["api_url"] == api
    text = config_path.read_text()
    assert f'issuer = "{sandbox.issuer}"' in text
    assert f'resource = "{api}"' in text
    assert cli("secret", "set", APP, "production", stdin=secret)[0] == 0
    code, out, err = cli("api", APP, "/me")
    assert code == 0, err
    assert json.loads(out)["aud"] == api
    [token_call] = [r for r in sandbox.state.requests if r["path"] == "/oauth/token"]
    assert token_call["form"]["resource"] == api


def test_the_metadata_a_401_names_is_followed(cli: CliRunner, sandbox: SandboxServer) -> None:
    _client(sandbox)
    cli("app", "add", "Telenor SMS")
    with hostile() as (api, server):
        where = f"{server.issuer}/meta/v1"
        api.on(
            "/v1",
            lambda seen: Response(
                "{}",
                status_code=401,
                headers={"WWW-Authenticate": f'Bearer resource_metadata="{where}"'},
            ),
        )
        api.on(
            "/meta/v1",
            lambda seen: JSONResponse(
                {"resource": f"{server.issuer}/v1", "authorization_servers": [sandbox.issuer]}
            ),
        )
        code, _, err = cli(
            "env",
            "add",
            APP,
            "production",
            "--client-id",
            "tsms-prod",
            "--api-url",
            f"{server.issuer}/v1",
        )
        assert code == 0, err
        # The probe carried no credential: none existed yet.
        assert all("authorization" not in seen.headers for seen in api.seen)
    listed = json.loads(cli("env", "list", APP, "--json")[1])[0]
    assert listed["token_url"] == f"{sandbox.issuer}/oauth/token"


def test_metadata_about_another_resource_is_refused_and_changes_nothing(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    cli("app", "add", "Telenor SMS")
    before = config_path.read_text()
    with hostile() as (api, server):
        api.on(
            "/.well-known/oauth-protected-resource/v1",
            lambda seen: JSONResponse(
                {"resource": "https://bank.example/v1", "authorization_servers": [sandbox.issuer]}
            ),
        )
        code, _out, err = cli(
            "env", "add", APP, "production", "--client-id", "x", "--api-url", f"{server.issuer}/v1"
        )
    assert code == 1
    assert "no protected-resource metadata" in err
    assert "its resource is not" in err
    assert config_path.read_text() == before
    assert [r for r in sandbox.state.requests if r["path"] == "/oauth/token"] == []


async def test_the_resource_is_sent_on_a_refresh_too(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    api = f"{sandbox.issuer}/api"
    app_id, _ = add_sandbox_app(
        workspace, sandbox, grant_types=["client_credentials", "refresh_token"]
    )
    workspace.environments.edit(app_id, "production", EnvironmentChange(resource=api))
    session, _ = await workspace.tokens.token(app_id, "production")
    assert session.token.refresh_token is not None
    await workspace.tokens.refresh(session)
    forms = [r["form"] for r in sandbox.state.requests if r["path"] == "/oauth/token"]
    assert [form["grant_type"] for form in forms] == ["client_credentials", "refresh_token"]
    assert [form["resource"] for form in forms] == [api, api]
