"""Loopback is a literal (SECURITY.md promise 32, RFC 8252 §7.3 and §8.3): only 127.0.0.0/8, ::1
and `localhost` count; credenza connects and listens on the literal address itself, never on
what a resolver answers; a `localhost` callback has both address families or does not start;
with no callback URL a sign-in listens on a free port. Through the CLI over real HTTP."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from credenza.errors import SignInError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.grants.loopback import LoopbackListener
from credenza.oauth.plan import ClientCredentials
from credenza.oauth.sync_client import SyncOAuthClient
from credenza.oauth.transport import HttpSettings
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import Secret
from tests.conftest import FAST, CliRunner
from tests.grants_helpers import add_user_app, code_exchanges
from tests.servers import recording_app, serve_tls


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names credenza asked the resolver for. It answers 127.0.0.1 for any name under
    .localhost (as DNS may, or anything else) and fails for `localhost` itself."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name.lower() == "localhost":
            raise socket.gaierror(socket.EAI_NONAME, "the resolver is never asked for localhost")
        if name.lower().endswith(".localhost"):
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def add_service(cli: CliRunner, sandbox: SandboxServer, token_url: str) -> None:
    """A client_credentials application whose token URL is ``token_url``."""
    client = sandbox.state.add_client({"client_id": "svc", "scope": "sms:send"})
    assert cli("app", "add", "Svc")[0] == 0
    code, _, err = cli(
        "env", "add", "svc", "production", "--client-id", "svc", "--token-url", token_url
    )
    assert code == 0, err
    assert cli("secret", "set", "svc", "production", stdin=client.client_secret)[0] == 0


# -- 5: the resolver is never trusted with a loopback name --------------------------------------


def test_a_plain_http_token_url_under_localhost_is_refused_and_gets_nothing(
    cli: CliRunner, sandbox: SandboxServer, resolver: list[str]
) -> None:
    # The sandbox is reachable by that name (the resolver says 127.0.0.1): still refused, as
    # for any host that is not loopback, since the next resolver may say anything.
    add_service(cli, sandbox, f"http://keycloak.localhost:{sandbox.port}/oauth/token")
    code, out, err = cli("token", "svc")
    assert code == 2
    assert out == ""
    assert "over plain http" in err
    assert "Traceback" not in err
    assert sandbox.state.requests == []
    assert "keycloak.localhost" not in resolver


def test_a_localhost_token_url_connects_to_127_0_0_1_without_the_resolver(
    cli: CliRunner, sandbox: SandboxServer, resolver: list[str]
) -> None:
    add_service(cli, sandbox, f"http://localhost:{sandbox.port}/oauth/token")
    code, out, err = cli("token", "svc")
    assert code == 0, err
    assert out.strip()
    assert [r["path"] for r in sandbox.state.requests] == ["/oauth/token"]
    assert "localhost" not in resolver


@pytest.mark.parametrize("driver", ["async", "stdlib", "httpx"])
def test_https_to_localhost_keeps_the_name_for_the_certificate(
    driver: str, tmp_path: Path, resolver: list[str]
) -> None:
    # The certificate names only `localhost`: the literal connection must still present it as
    # the SNI name and check the certificate against it, with Host: localhost:PORT.
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    bodies: list[bytes] = []
    settings = HttpSettings(**{**FAST.__dict__, "ca_bundle": str(ca_file)})
    with serve_tls(recording_app(bodies), ca.issue_cert("localhost"), tmp_path) as server:
        credentials = ClientCredentials(
            token_url=f"https://localhost:{server.port}/oauth/token",
            client_id="svc",
            secret=Secret("s3cret-value"),
        )
        if driver == "async":

            async def fetch() -> str:
                client = OAuthClient(settings)
                try:
                    return (
                        await client.grant(client_credentials.plan, credentials)
                    ).access_token.reveal()
                finally:
                    await client.aclose()

            token = asyncio.run(fetch())
        else:
            sync = SyncOAuthClient(settings, engine="stdlib" if driver == "stdlib" else "httpx")
            token = sync.grant(client_credentials.plan, credentials).access_token.reveal()
    assert token == "stolen"
    assert len(bodies) == 1
    assert "localhost" not in resolver


# -- 5 and 6: what a sign-in listens on ---------------------------------------------------------


@pytest.fixture
def user_sandbox() -> Iterator[SandboxServer]:
    state = SandboxState(token_ttl=300, auto_approve=True)
    with SandboxServer(state) as running:
        yield running


@pytest.mark.parametrize("where", ["--redirect-uri", "callback URL"])
def test_a_redirect_under_localhost_is_refused_and_never_resolved(
    where: str,
    cli: CliRunner,
    user_sandbox: SandboxServer,
    browser: list[str],
    resolver: list[str],
) -> None:
    redirect = "http://cb.localhost:8765/callback"
    if where == "--redirect-uri":
        add_user_app(cli, user_sandbox, redirect)
        code, out, err = cli("login", "pipedrive-crm", "--redirect-uri", redirect, "--timeout", "5")
    else:
        add_user_app(cli, user_sandbox, redirect, callback=redirect)
        code, out, err = cli("login", "pipedrive-crm", "--timeout", "5")
    assert code == 2
    assert out == ""
    assert "under .localhost" in err
    assert "http://127.0.0.1:PORT" in err
    assert err.count("\n") <= 2
    assert "cb.localhost" not in resolver
    assert browser == []
    assert code_exchanges(user_sandbox) == 0


@pytest.fixture
def squatted_ipv6() -> Iterator[socket.socket]:
    """Another local user's listener on [::1] at a port free on 127.0.0.1."""
    squatter = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        squatter.bind(("::1", 0))
    except OSError:
        squatter.close()
        pytest.skip("no IPv6 loopback on this machine")
    squatter.listen(8)
    squatter.setblocking(False)
    try:
        yield squatter
    finally:
        squatter.close()


def test_a_localhost_callback_with_a_squatted_ipv6_port_fails_naming_the_port(
    cli: CliRunner,
    user_sandbox: SandboxServer,
    browser: list[str],
    squatted_ipv6: socket.socket,
) -> None:
    port = squatted_ipv6.getsockname()[1]
    redirect = f"http://localhost:{port}/callback"
    add_user_app(cli, user_sandbox, redirect)
    code, out, err = cli("login", "pipedrive-crm", "--redirect-uri", redirect, "--timeout", "5")
    assert code == 1
    assert out == ""
    assert f"[::1]:{port}" in err
    assert f"port {port}" in err
    assert "Traceback" not in err
    assert browser == []  # the sign-in never started
    with pytest.raises(BlockingIOError):
        squatted_ipv6.accept()  # the squatter received nothing
    assert code_exchanges(user_sandbox) == 0


@pytest.mark.parametrize(
    ("failure", "runs"),
    [(errno.EADDRINUSE, False), (errno.EADDRNOTAVAIL, True), (errno.EAFNOSUPPORT, True)],
)
async def test_localhost_runs_on_127_0_0_1_alone_only_where_there_is_no_ipv6(
    failure: int, runs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = asyncio.start_server

    async def start_server(handler: Any, host: str, port: int, **kwargs: Any) -> asyncio.Server:
        if host == "::1":
            raise OSError(failure, "refused on ::1")
        return await real(handler, host, port, **kwargs)

    monkeypatch.setattr(asyncio, "start_server", start_server)
    listener = LoopbackListener("http://localhost:0/callback")
    if runs:
        async with listener:
            port = httpx.URL(listener.redirect_uri).port
            assert port
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
    else:
        with pytest.raises(SignInError, match="::1"):
            async with listener:
                pass


# -- 11: no callback URL at all -----------------------------------------------------------------


def test_a_sign_in_without_a_callback_url_listens_on_a_free_port(
    cli: CliRunner, user_sandbox: SandboxServer, browser: list[str]
) -> None:
    # Registered without a port: RFC 8252 §7.3, the server accepts whichever port is free.
    add_user_app(cli, user_sandbox, "http://127.0.0.1/callback")
    code, out, err = cli("login", "pipedrive-crm", "--timeout", "20")
    assert code == 0, err
    assert out == ""
    assert "Signed in to Pipedrive CRM / production" in err
    redirect = httpx.URL(httpx.URL(browser[0]).params["redirect_uri"])
    assert redirect.host == "127.0.0.1"
    assert redirect.path == "/callback"
    assert redirect.port not in (None, 0, 80)
    assert code_exchanges(user_sandbox) == 1
    code, token, err = cli("token", "pipedrive-crm")
    assert code == 0, err
    assert token.strip()
