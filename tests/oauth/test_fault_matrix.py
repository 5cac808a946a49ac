"""Every failure the CLI meets: one clear line on stderr, a non-zero exit, no traceback, no secret;
on both engines of the blocking client (the standard library's http.client and httpx)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credenza.config.changes import EnvironmentChange
from credenza.config.store import parse_config
from credenza.errors import ConfigError
from credenza.oauth.sync_client import SyncOAuthClient
from credenza.workspace import Workspace
from tests.conftest import CliRunner
from tests.servers import (
    closed_port,
    drip_app,
    huge_app,
    redirect_app,
    scripted_app,
    serve,
    serve_tls,
    silent_listener,
)

CANARY = "cAnArY-1f2e3d4c5b6a79881f2e3d4c5b6a7988ab"
JSON = {"content-type": "application/json"}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


@contextmanager
def scripted(status: int, headers: dict[str, str], content: bytes) -> Iterator[str]:
    with serve(scripted_app([(status, headers, content)], [])) as server:
        yield f"{server.issuer}/token"


@contextmanager
def dripping() -> Iterator[str]:
    with serve(drip_app(0.2)) as server:
        yield f"{server.issuer}/token"


@contextmanager
def huge() -> Iterator[str]:
    with serve(huge_app(10)) as server:
        yield f"{server.issuer}/token"


@contextmanager
def redirecting() -> Iterator[str]:
    with serve(redirect_app("https://elsewhere.example/token", 307)) as server:
        yield f"{server.issuer}/token"


@contextmanager
def refused() -> Iterator[str]:
    yield closed_port()


@contextmanager
def untrusted_tls(tmp_path: Path) -> Iterator[str]:
    trustme = pytest.importorskip("trustme")
    cert = trustme.CA().issue_cert("127.0.0.1")
    app = scripted_app([(200, JSON, body({"access_token": "x"}))], [])
    with serve_tls(app, cert, tmp_path) as server:
        yield f"{server.issuer}/token"


SCENARIOS = {
    "connection refused": (refused, "connection refused"),
    "read timeout": (silent_listener, "sent nothing"),
    "500": (lambda: scripted(500, JSON, body({"error": "server_error"})), "HTTP 500"),
    "503 with Retry-After": (
        lambda: scripted(
            503, {**JSON, "retry-after": "1"}, body({"error": "temporarily_unavailable"})
        ),
        "HTTP 503",
    ),
    "HTML error page": (
        lambda: scripted(
            502, {"content-type": "text/html"}, b"<html><title>Bad Gateway</title></html>"
        ),
        "HTML page",
    ),
    "malformed JSON": (lambda: scripted(200, JSON, b'{"access_token": '), "not JSON"),
    "JSON without access_token": (
        lambda: scripted(200, JSON, body({"token_type": "Bearer"})),
        "without an access_token",
    ),
    "negative expires_in": (
        lambda: scripted(200, JSON, body({"access_token": "t", "expires_in": -1})),
        "expire in the past",
    ),
    "non-numeric expires_in": (
        lambda: scripted(200, JSON, body({"access_token": "t", "expires_in": "soon"})),
        "not a number",
    ),
    "10 MB body": (huge, "cut off"),
    "redirect to another host": (redirecting, "never follows redirects"),
    "a server that drips bytes": (dripping, "deadline"),
}


@pytest.fixture(params=["stdlib", "httpx"])
def cli(
    tmp_path: Path,
    run_cli: Callable[[Path], CliRunner],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> CliRunner:
    monkeypatch.setattr(SyncOAuthClient, "default_engine", request.param)
    config = tmp_path / "credenza.toml"
    config.write_text(
        "version = 1\n[settings]\nread_timeout = 0.5\ndeadline = 1.5\nretry_attempts = 1\n"
    )
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "none.sock"))
    return run_cli(config)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_failure_is_one_clear_line(cli: CliRunner, scenario: str, tmp_path: Path) -> None:
    make, words = SCENARIOS[scenario]
    with make() as token_url:
        assert cli("app", "add", "Shaky")[0] == 0
        assert (
            cli("env", "add", "shaky", "production", "--client-id", "id", "--token-url", token_url)[
                0
            ]
            == 0
        )
        assert cli("secret", "set", "shaky", "production", stdin=CANARY)[0] == 0
        code, out, err = cli("token", "shaky")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("credenza: error: ")
    assert words in err
    assert "Traceback" not in err
    assert CANARY not in err


def test_untrusted_tls_is_one_clear_line(cli: CliRunner, tmp_path: Path) -> None:
    with untrusted_tls(tmp_path) as token_url:
        cli("app", "add", "Tls")
        cli(
            "env",
            "add",
            "tls",
            "production",
            "--client-id",
            "id",
            "--token-url",
            token_url.replace("127.0.0.1", "localhost"),
        )
        cli("secret", "set", "tls", "production", stdin=CANARY)
        code, _, err = cli("token", "tls")
    assert code == 1
    assert "not trusted" in err or "TLS" in err
    assert err.count("\n") == 1


def test_plain_http_to_a_remote_host_is_refused_before_sending(cli: CliRunner) -> None:
    cli("app", "add", "Remote")
    cli(
        "env",
        "add",
        "remote",
        "production",
        "--client-id",
        "id",
        "--token-url",
        "http://id.example.com/token",
    )
    cli("secret", "set", "remote", "production", stdin=CANARY)
    code, _, err = cli("token", "remote")
    assert code == 2
    assert "over plain http" in err


def test_a_wider_scope_than_asked_is_warned_about(cli: CliRunner) -> None:
    granted = body({"access_token": "t", "expires_in": 60, "scope": "read admin"})
    with scripted(200, JSON, granted) as token_url:
        cli("app", "add", "Wide")
        cli(
            "env",
            "add",
            "wide",
            "production",
            "--client-id",
            "id",
            "--token-url",
            token_url,
            "--scope",
            "read",
        )
        cli("secret", "set", "wide", "production", stdin=CANARY)
        code, out, err = cli("token", "wide", "--no-cache")
    assert code == 0
    assert out.strip() == "t"
    assert "granted more than was asked: admin" in err


async def test_unsupported_token_type_is_reported_and_the_local_copy_dropped(
    workspace: Workspace,
) -> None:
    from credenza.errors import TokenEndpointError

    with (
        scripted(200, JSON, body({"access_token": "t", "expires_in": 60})) as token_url,
        scripted(400, JSON, body({"error": "unsupported_token_type"})) as revocation_url,
    ):
        app_id = workspace.applications.add("Revoke").id
        workspace.environments.add(
            app_id,
            "production",
            EnvironmentChange(client_id="id", token_url=token_url, revocation_url=revocation_url),
        )
        # Two servers, two origins: the revocation one is confirmed explicitly (promise 24).
        revocation_origin = revocation_url.removesuffix("/token")
        workspace.credentials.set(app_id, "production", CANARY, allow_origins=[revocation_origin])
        session, _ = await workspace.tokens.token(app_id, "production")
        with pytest.raises(TokenEndpointError, match="unsupported_token_type"):
            await workspace.tokens.revoke(session)
    assert workspace.tokens.held() == []
    assert workspace.tokens.cached(app_id, "production", session.fingerprint) is None
    await workspace.aclose()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_either_load_or_raise_a_config_error(data: bytes) -> None:
    with suppress(ConfigError):
        parse_config(data, "fuzz.toml")


toml_values = st.recursive(
    st.integers() | st.text(max_size=10) | st.booleans() | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.fixed_dictionaries(
        {},
        optional={
            "version": toml_values,
            "settings": toml_values,
            "providers": toml_values,
            "applications": st.lists(
                st.dictionaries(
                    st.sampled_from(["id", "name", "environments", "owners", "url", "contracts"]),
                    toml_values,
                    max_size=5,
                ),
                max_size=3,
            ),
        },
    )
)
def test_any_toml_shaped_document_loads_or_raises_a_config_error(
    document: dict[str, object],
) -> None:
    import tomli_w

    try:
        text = tomli_w.dumps(document).encode()
    except (TypeError, ValueError):
        return
    with suppress(ConfigError):
        parse_config(text, "fuzz.toml")


def test_a_10_mb_config_loads(tmp_path: Path) -> None:
    lines = ["version = 1"]
    for number in range(6400):
        lines += [
            "[[applications]]",
            f'id = "app-{number}"',
            f'name = "App {number}"',
            f'description = "{"d" * 1600}"',
        ]
    path = tmp_path / "big.toml"
    path.write_text("\n".join(lines))
    assert path.stat().st_size > 10 * 1024 * 1024
    config, _ = parse_config(path.read_bytes(), str(path))
    assert len(config.applications) == 6400


def test_nothing_can_turn_tls_verification_off() -> None:
    import dataclasses

    from credenza.config.model import Settings
    from credenza.oauth.transport import HttpSettings

    fields = {f.name for f in dataclasses.fields(HttpSettings)} | set(Settings.__struct_fields__)
    assert not [name for name in fields if "verify" in name or "insecure" in name]
    source = (Path(__file__).parents[2] / "src" / "credenza").rglob("*.py")
    assert not [p.name for p in source if "verify=False" in p.read_text()]
