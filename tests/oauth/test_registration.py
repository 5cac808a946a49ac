"""`credenza app register` (RFC 7591) and `app registration show|delete` (RFC 7592) against the
sandbox over real HTTP: the issued secret and registration access token reach the keyring only."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner
from tests.hostile import leaks

INITIAL = "iat-canary-0123456789abcdef-initial-token"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300)) as running:
        yield running


@pytest.fixture
def guarded() -> Iterator[SandboxServer]:
    """A sandbox whose registration endpoint wants an initial access token."""
    with SandboxServer(SandboxState(token_ttl=300, initial_access_token=INITIAL)) as running:
        yield running


def issued(server: SandboxServer) -> tuple[str, str, str]:
    """The one registered client's id, secret and registration access token (the sandbox's)."""
    ((client_id, token),) = server.state.registration_tokens.items()
    return client_id, server.state.clients[client_id].client_secret, token


def registrations(server: SandboxServer) -> list[dict[str, object]]:
    return [r for r in server.state.requests if r["path"].startswith("/oauth/register")]


def register(cli: CliRunner, server: SandboxServer, *extra: str) -> tuple[int, str, str]:
    assert cli("app", "add", "Telenor SMS")[0] == 0
    return cli(
        "app",
        "register",
        "telenor-sms",
        "sandbox",
        "--issuer",
        server.issuer,
        "--scope",
        "sms:send",
        *extra,
    )


def test_register_then_token_with_the_issued_credentials(
    cli: CliRunner,
    server: SandboxServer,
    memory_keyring: MemoryKeyring,
    config_path: Path,
    tmp_path: Path,
) -> None:
    code, out, err = register(cli, server)
    assert code == 0, err
    client_id, secret, registration_token = issued(server)
    assert f"Registered Telenor SMS / sandbox as client_id {client_id}" in err
    client = server.state.clients[client_id]
    assert client.application == "Telenor SMS"
    assert client.grant_types == ["client_credentials"]
    assert client.scope == ["sms:send"]

    config = tomllib.loads(config_path.read_text())
    environment = config["applications"][0]["environments"]["sandbox"]
    assert environment["client_id"] == client_id
    assert environment["token_url"] == f"{server.issuer}/oauth/token"
    assert environment["registration_client_uri"] == (f"{server.issuer}/oauth/register/{client_id}")

    code, token, token_err = cli("token", "telenor-sms", "--env", "sandbox")
    assert code == 0, token_err
    assert server.state.lookup(token.strip()) is not None

    # The secret where `secret set` puts it, bound to the token endpoint's origin.
    stored = json.loads(
        memory_keyring.entries[
            ("credenza", _entry(config_path, "telenor-sms/sandbox/client_secret"))
        ]
    )
    assert stored["secret"] == secret
    assert stored["origin"] == server.issuer
    registration_entry = json.loads(
        memory_keyring.entries[
            ("credenza", _entry(config_path, "telenor-sms/sandbox/registration_token"))
        ]
    )
    assert registration_entry["secret"] == registration_token
    assert registration_entry["origin"] == server.issuer  # bound where it was issued

    for value in (secret, registration_token):
        assert not leaks(out + err + token + token_err, value)
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert not leaks(path.read_bytes().decode("utf-8", "replace"), value), path


def test_register_into_an_existing_environment_keeps_its_issuer(
    cli: CliRunner, server: SandboxServer
) -> None:
    assert cli("app", "add", "Telenor SMS")[0] == 0
    code, _, err = cli(
        "env", "add", "telenor-sms", "sandbox", "--client-id", "placeholder",
        "--issuer", server.issuer,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli("app", "register", "telenor-sms", "sandbox")
    assert code == 0, err
    client_id, _, _ = issued(server)
    code, out, err = cli("app", "show", "telenor-sms", "--json")
    assert client_id in out
    assert cli("token", "telenor-sms")[0] == 0


def test_register_without_an_environment_or_issuer_is_refused(
    cli: CliRunner, server: SandboxServer
) -> None:
    assert cli("app", "add", "Telenor SMS")[0] == 0
    code, _, err = cli("app", "register", "telenor-sms", "sandbox")
    assert code == 2
    assert "--issuer URL" in err
    code, _, err = cli("app", "register", "telenor-sms", "no such/env", "--issuer", server.issuer)
    assert code == 2
    assert "is not a usable environment name" in err
    assert registrations(server) == []
    assert server.state.clients == {}


def test_an_initial_access_token_is_required_where_the_server_wants_one(
    cli: CliRunner, guarded: SandboxServer, monkeypatch: pytest.MonkeyPatch, config_path: Path
) -> None:
    code, out, err = register(cli, guarded)
    assert code == 1
    assert "HTTP 401 invalid_token" in err
    assert "--initial-access-token-env VAR" in err
    assert guarded.state.registration_tokens == {}
    # Nothing changed: no environment was added.
    assert "environments" not in tomllib.loads(config_path.read_text())["applications"][0]

    monkeypatch.setenv("CANARY_IAT", INITIAL)
    code, out, err = cli(
        "app", "register", "telenor-sms", "sandbox", "--issuer", guarded.issuer,
        "--initial-access-token-env", "CANARY_IAT",
    )  # fmt: skip
    assert code == 0, err
    assert registrations(guarded)[-1]["authorization"] == f"Bearer {INITIAL}"
    assert not leaks(out + err, INITIAL)
    assert cli("token", "telenor-sms")[0] == 0


def test_an_unset_initial_access_token_variable_is_bad_input(
    cli: CliRunner, guarded: SandboxServer
) -> None:
    code, _, err = register(cli, guarded, "--initial-access-token-env", "NOT_SET_ANYWHERE")
    assert code == 2
    assert "NOT_SET_ANYWHERE is not set" in err
    assert registrations(guarded) == []


def test_registration_show_masks_the_secret_and_the_token(
    cli: CliRunner, server: SandboxServer
) -> None:
    assert register(cli, server)[0] == 0
    client_id, secret, registration_token = issued(server)
    for json_flag in ((), ("--json",)):
        code, out, err = cli("app", "registration", "show", "telenor-sms", "sandbox", *json_flag)
        assert code == 0, err
        assert client_id in out
        assert "****" in out
        assert not leaks(out + err, secret)
        assert not leaks(out + err, registration_token)
    shown = json.loads(out)
    assert shown["client_secret"] == "****"
    assert shown["registration_access_token"] == "****"
    assert shown["client_name"] == "Telenor SMS"
    reads = [r for r in registrations(server) if r["method"] == "GET"]
    assert reads[-1]["authorization"] == f"Bearer {registration_token}"


def test_registration_delete_removes_the_client_there_and_here(
    cli: CliRunner, server: SandboxServer, memory_keyring: MemoryKeyring, config_path: Path
) -> None:
    assert register(cli, server)[0] == 0
    client_id, _, _ = issued(server)
    code, token, _ = cli("token", "telenor-sms")
    assert code == 0
    code, _, err = cli("app", "registration", "delete", "telenor-sms", "sandbox")
    assert code == 2
    assert "--yes" in err
    assert client_id in server.state.clients

    code, _, err = cli("app", "registration", "delete", "telenor-sms", "sandbox", "--yes")
    assert code == 0, err
    assert f"Deleted client {client_id}" in err
    assert client_id not in server.state.clients
    assert server.state.lookup(token.strip()).revoked  # type: ignore[union-attr]
    assert not any("/telenor-sms/" in f"/{name}" for _, name in memory_keyring.entries)
    environment = tomllib.loads(config_path.read_text())["applications"][0]["environments"]
    assert "registration_client_uri" not in environment["sandbox"]
    code, _, err = cli("token", "telenor-sms")
    assert code != 0
    code, _, err = cli("app", "registration", "show", "telenor-sms", "sandbox")
    assert code == 2
    assert "no registration to manage" in err


def test_a_registration_uri_edited_to_another_origin_gets_nothing(
    cli: CliRunner, server: SandboxServer, config_path: Path
) -> None:
    assert register(cli, server)[0] == 0
    client_id, _, _ = issued(server)
    text = config_path.read_text()
    moved = text.replace(f"{server.issuer}/oauth/register", "http://127.0.0.2:9/oauth/register")
    config_path.write_text(moved)
    before = len(registrations(server))
    code, _, err = cli("app", "registration", "delete", "telenor-sms", "sandbox", "--yes")
    assert code == 2
    assert "nothing was sent" in err
    assert len(registrations(server)) == before
    assert client_id in server.state.clients


def test_sandbox_metadata_advertises_registration(server: SandboxServer) -> None:
    import httpx

    metadata = httpx.get(f"{server.issuer}/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == f"{server.issuer}/oauth/register"
    assert "password" in metadata["grant_types_supported"]


@pytest.mark.parametrize(
    ("registration_endpoint", "said"),
    [
        (None, "advertises no registration_endpoint"),
        ("http://127.0.0.2:{port}/register", "not on the issuer's origin"),
    ],
)
def test_a_registration_endpoint_missing_or_elsewhere_gets_nothing(
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    registration_endpoint: str | None,
    said: str,
) -> None:
    from starlette.responses import JSONResponse

    from tests.hostile import Seen, hostile

    with hostile() as (script, server):
        issuer = f"http://127.0.0.1:{server.port}"

        def metadata(_: Seen) -> JSONResponse:
            body = {"issuer": issuer, "token_endpoint": f"{issuer}/token"}
            if registration_endpoint:
                body["registration_endpoint"] = registration_endpoint.format(port=server.port)
            return JSONResponse(body)

        script.on("/.well-known/oauth-authorization-server", metadata)
        monkeypatch.setenv("CANARY_IAT", INITIAL)
        assert cli("app", "add", "Telenor SMS")[0] == 0
        code, out, err = cli(
            "app", "register", "telenor-sms", "sandbox", "--issuer", issuer,
            "--initial-access-token-env", "CANARY_IAT",
        )  # fmt: skip
    assert code == 2
    assert said in err
    assert [seen.path for seen in script.seen] == ["/.well-known/oauth-authorization-server"]
    assert not leaks(out + err, INITIAL)


def test_register_a_sign_in_application_then_login_and_token(
    cli: CliRunner, browser: list[str]
) -> None:
    """authorization_code without a callback URL: registered for a loopback redirect on any port
    (RFC 8252 §7.3), which `credenza login` then listens on."""
    state = SandboxState(token_ttl=300, auto_approve=True)
    with SandboxServer(state) as server:
        grants = ["--grant-type", "authorization_code", "--grant-type", "refresh_token"]
        assert cli("app", "add", "Pipedrive CRM", *grants)[0] == 0
        code, _, err = cli(
            "app", "register", "pipedrive-crm", "production", "--issuer", server.issuer
        )
        assert code == 0, err
        ((client_id, _),) = state.registration_tokens.items()
        assert state.clients[client_id].redirect_uris == ["http://127.0.0.1/callback"]
        code, _, err = cli("login", "pipedrive-crm")
        assert code == 0, err
        assert "Signed in to Pipedrive CRM / production" in err
        code, token, err = cli("token", "pipedrive-crm")
        assert code == 0, err
        assert state.lookup(token.strip()).subject == state.user  # type: ignore[union-attr]


def test_sandbox_serve_can_require_an_initial_access_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from tests.sandbox.test_sandbox import process

    monkeypatch.setenv("SANDBOX_IAT", INITIAL)
    with process("sandbox", "serve", "--initial-access-token-env", "SANDBOX_IAT") as (_, printed):
        url = f"{printed['issuer']}/oauth/register"
        body = {"client_name": "Probe", "grant_types": ["client_credentials"]}
        refused = httpx.post(url, json=body, trust_env=False)
        assert refused.status_code == 401
        created = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {INITIAL}"}, trust_env=False
        )
        assert created.status_code == 201
        assert created.json()["registration_access_token"]


def test_removing_a_registered_application_leaves_no_keyring_entry(
    cli: CliRunner, server: SandboxServer, memory_keyring: MemoryKeyring, config_path: Path
) -> None:
    assert register(cli, server)[0] == 0
    assert cli("token", "telenor-sms")[0] == 0
    names = {name for _, name in memory_keyring.entries}
    assert _entry(config_path, "telenor-sms/sandbox/registration_token") in names
    code, _, err = cli("app", "remove", "telenor-sms", "--yes")
    assert code == 0, err
    assert not any("/telenor-sms/" in f"/{name}" for _, name in memory_keyring.entries)


def _entry(config_path: Path, name: str) -> str:
    """A keyring entry's full name: within the config's workspace."""
    from credenza.secrets.names import in_workspace

    return in_workspace(tomllib.loads(config_path.read_text())["workspace"], name)
