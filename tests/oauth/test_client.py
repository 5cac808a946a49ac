"""The OAuth client over real HTTP on 127.0.0.1: the sandbox and hand-made misbehaving servers."""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from credenza.errors import (
    DiscoveryError,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
    TokenEndpointError,
    TransportError,
)
from credenza.oauth.answers import error_kind, retry_after_seconds
from credenza.oauth.auth.basic import basic_authorization
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials, refresh
from credenza.oauth.plan import ClientCredentials
from credenza.providers.profiles import resolve_profile
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.servers import (
    closed_port,
    drip_app,
    huge_app,
    recording_app,
    redirect_app,
    scripted_app,
    serve,
    serve_tls,
    silent_listener,
)

CANARY = "cAnArY-0b8f1e2d3c4a5b6978e1d2c3b4a5f6e7"


@pytest.fixture
async def client() -> AsyncIterator[OAuthClient]:
    oauth = OAuthClient(FAST)
    yield oauth
    await oauth.aclose()


def creds(sandbox: SandboxServer, client_id: str, secret: str, **options: Any) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token",
        client_id=client_id,
        secret=Secret(secret),
        **options,
    )


def register(sandbox: SandboxServer, **metadata: object) -> tuple[str, str]:
    client = sandbox.state.add_client({"scope": "read write", **metadata})
    return client.client_id, client.client_secret


async def test_client_credentials_with_basic_auth(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)
    token = await client.grant(
        client_credentials.plan, creds(sandbox, client_id, secret, scopes=("read",))
    )
    assert token.scopes == ("read",)
    assert token.expires_at is not None  # the sandbox sends expires_in as a string
    request = sandbox.state.requests[-1]
    assert request["authorization"].startswith("Basic ")
    assert "client_secret" not in request["form"]


async def test_client_credentials_with_post_auth(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox, token_endpoint_auth_method="client_secret_post")
    await client.grant(
        client_credentials.plan, creds(sandbox, client_id, secret, auth_method="client_secret_post")
    )
    request = sandbox.state.requests[-1]
    assert request["authorization"] is None
    assert request["form"]["client_secret"] == secret


async def test_audience_resource_and_extra_parameters_are_sent_exactly(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)
    await client.grant(
        client_credentials.plan,
        creds(
            sandbox,
            client_id,
            secret,
            scopes=("read", "write"),
            audience="https://api.example",
            resource="https://api.example/v2",
            extra_params={"tenant": "t1"},
        ),
    )
    form = sandbox.state.requests[-1]["form"]
    assert form == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "audience": "https://api.example",
        "resource": "https://api.example/v2",
        "tenant": "t1",
    }


async def test_wrong_secret_is_one_clear_line(sandbox: SandboxServer, client: OAuthClient) -> None:
    client_id, _ = register(sandbox)
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(client_credentials.plan, creds(sandbox, client_id, CANARY))
    message = str(caught.value)
    assert "401 invalid_client" in message
    assert "check the client secret" in message
    assert "\n" not in message
    assert CANARY not in message
    assert error_kind(caught.value) == "wrong_secret"


async def test_wrong_auth_method_is_refused_and_explained(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)  # registered for client_secret_basic
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(
            client_credentials.plan,
            creds(sandbox, client_id, secret, auth_method="client_secret_post"),
        )
    assert "registered for client_secret_basic" in str(caught.value)
    assert "auth method" in str(caught.value)


async def test_scope_not_granted(sandbox: SandboxServer, client: OAuthClient) -> None:
    client_id, secret = register(sandbox)
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(
            client_credentials.plan, creds(sandbox, client_id, secret, scopes=("admin",))
        )
    assert caught.value.error == "invalid_scope"
    assert caught.value.provider_code == "8"
    assert error_kind(caught.value) == "scope"


async def test_refresh_keeps_the_rotated_refresh_token(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox, grant_types=["client_credentials", "refresh_token"])
    credentials = creds(sandbox, client_id, secret)
    first = await client.grant(client_credentials.plan, credentials)
    assert first.refresh_token is not None
    second = await client.grant(refresh.plan, credentials, first.refresh_token)
    assert second.refresh_token is not None
    assert second.refresh_token != first.refresh_token
    with pytest.raises(TokenEndpointError, match="invalid_grant"):
        await client.grant(refresh.plan, credentials, first.refresh_token)  # used once


async def test_revoke_then_introspect_reports_inactive(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)
    credentials = creds(sandbox, client_id, secret)
    token = await client.grant(client_credentials.plan, credentials)
    introspection = f"{sandbox.issuer}/oauth/token/introspection"
    assert (await client.introspect(credentials, introspection, token.access_token))[
        "active"
    ] is True
    await client.revoke(credentials, f"{sandbox.issuer}/oauth/token/revocation", token.access_token)
    assert (await client.introspect(credentials, introspection, token.access_token))[
        "active"
    ] is False
    request = sandbox.state.requests[-2]
    assert request["form"]["token_type_hint"] == "access_token"
    assert request["authorization"].startswith("Basic ")


async def test_revoking_an_unknown_token_succeeds(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)
    await client.revoke(
        creds(sandbox, client_id, secret),
        f"{sandbox.issuer}/oauth/token/revocation",
        Secret("nope"),
    )


async def test_logout_by_get_with_bearer(sandbox: SandboxServer, client: OAuthClient) -> None:
    client_id, secret = register(sandbox)
    token = await client.grant(client_credentials.plan, creds(sandbox, client_id, secret))
    await client.logout(f"{sandbox.issuer}/oauth/logout", token.access_token)
    request = sandbox.state.requests[-1]
    assert request["method"] == "GET"
    assert request["authorization"] == f"Bearer {token.access_token.reveal()}"
    with pytest.raises(TokenEndpointError, match="invalid_token"):
        await client.logout(f"{sandbox.issuer}/oauth/logout", token.access_token)


async def test_discovery_lists_every_endpoint(sandbox: SandboxServer, client: OAuthClient) -> None:
    metadata = await client.discover(sandbox.issuer)
    assert metadata.token_endpoint == f"{sandbox.issuer}/oauth/token"
    assert metadata.revocation_endpoint == f"{sandbox.issuer}/oauth/token/revocation"
    assert metadata.introspection_endpoint == f"{sandbox.issuer}/oauth/token/introspection"
    assert metadata.logout_endpoint == f"{sandbox.issuer}/oauth/logout"


async def test_discovery_falls_back_to_openid_configuration(client: OAuthClient) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    holder: dict[str, str] = {}

    async def oidc(request: object) -> JSONResponse:
        return JSONResponse(
            {"issuer": holder["issuer"], "token_endpoint": holder["issuer"] + "/connect/token"}
        )

    app = Starlette(routes=[Route("/tenant/.well-known/openid-configuration", oidc)])
    with serve(app) as server:
        holder["issuer"] = f"{server.issuer}/tenant"
        metadata = await client.discover(holder["issuer"])
    assert metadata.token_endpoint.endswith("/tenant/connect/token")
    assert metadata.source.endswith("/.well-known/openid-configuration")


async def test_discovery_refuses_metadata_for_another_issuer(client: OAuthClient) -> None:
    body = json.dumps(
        {"issuer": "https://evil.example", "token_endpoint": "https://evil.example/t"}
    )
    with (
        serve(
            scripted_app([(200, {"content-type": "application/json"}, body.encode())], [])
        ) as server,
        pytest.raises(DiscoveryError, match="not"),
    ):
        await client.discover(server.issuer)


async def test_discovery_with_nothing_there_is_a_clear_error(client: OAuthClient) -> None:
    with (
        serve(scripted_app([(404, {}, b"not found")], [])) as server,
        pytest.raises(DiscoveryError, match="no authorization-server metadata"),
    ):
        await client.discover(server.issuer)


# -- encoding (RFC 6749 §2.3.1) ------------------------------------------------------------------


def _random_value(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + ":+%&= é✓/"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40)))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_fifty_awkward_ids_and_secrets_reach_the_server_byte_identical(
    sandbox: SandboxServer, client: OAuthClient, method: str
) -> None:
    rng = random.Random(method)
    for _ in range(50):
        client_id, secret = _random_value(rng), _random_value(rng)
        sandbox.state.add_client(
            {"client_id": client_id, "client_secret": secret, "token_endpoint_auth_method": method}
        )
        await client.grant(
            client_credentials.plan, creds(sandbox, client_id, secret, auth_method=method)
        )
        assert sandbox.state.requests[-1]["query"] == ""  # nothing in the query string


def test_basic_header_form_encodes_before_base64_unless_raw() -> None:
    rfc = basic_authorization("id:1", Secret("a+b c"), "rfc6749")
    assert base64.b64decode(rfc[6:]).decode() == "id%3A1:a%2Bb+c"
    raw = basic_authorization("id", Secret("a+b"), "raw")
    assert base64.b64decode(raw[6:]).decode() == "id:a+b"


# -- transport guards ----------------------------------------------------------------------------


async def test_plain_http_to_a_non_loopback_host_is_refused_before_sending(
    client: OAuthClient,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "x"})

    guarded = OAuthClient(FAST, transport=httpx.MockTransport(handler))
    credentials = ClientCredentials(
        token_url="http://id.example.com/token", client_id="a", secret=Secret(CANARY)
    )
    with pytest.raises(InsecureEndpointError, match="plain http"):
        await guarded.grant(client_credentials.plan, credentials)
    assert sent == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_redirects_are_refused_and_the_target_gets_nothing(
    client: OAuthClient, status: int, method: str
) -> None:
    received: list[bytes] = []
    with (
        serve(recording_app(received)) as target,
        serve(redirect_app(f"{target.issuer}/token", status)) as origin,
    ):
        credentials = ClientCredentials(
            token_url=f"{origin.issuer}/token",
            client_id="a",
            secret=Secret(CANARY),
            auth_method=method,
        )
        with pytest.raises(RedirectRefusedError, match="never follows redirects"):
            await client.grant(client_credentials.plan, credentials)
        with pytest.raises(RedirectRefusedError):
            await client.revoke(credentials, f"{origin.issuer}/revoke", Secret("tok"))
    assert received == []


async def test_connection_refused_is_clear_and_retried_within_budget(client: OAuthClient) -> None:
    credentials = ClientCredentials(token_url=closed_port(), client_id="a", secret=Secret(CANARY))
    with pytest.raises(TransportError, match="connection refused"):
        await client.grant(client_credentials.plan, credentials)


async def test_a_server_that_never_answers_hits_the_read_timeout() -> None:
    client = OAuthClient(replace(FAST, read_timeout=0.3, deadline=5.0))
    with silent_listener() as url:
        credentials = ClientCredentials(token_url=url, client_id="a", secret=Secret(CANARY))
        with pytest.raises(TransportError, match="sent nothing"):
            await client.grant(client_credentials.plan, credentials)
    await client.aclose()


async def test_a_dripping_server_is_cut_off_at_the_overall_deadline() -> None:
    client = OAuthClient(replace(FAST, read_timeout=2.0, deadline=0.8))
    with serve(drip_app(0.1)) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/token", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(TransportError, match="deadline"):
            await client.grant(client_credentials.plan, credentials)
    await client.aclose()


async def test_a_huge_body_is_cut_off_at_the_cap(client: OAuthClient) -> None:
    with serve(huge_app(50)) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/token", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(TransportError, match="more than 1024 KiB"):
            await client.grant(client_credentials.plan, credentials)


async def test_an_untrusted_tls_certificate_fails_and_no_body_is_recorded(
    client: OAuthClient, tmp_path: Path
) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    received: list[bytes] = []
    with serve_tls(recording_app(received), cert, tmp_path) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/token", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(TransportError, match="not trusted") as caught:
            await client.grant(client_credentials.plan, credentials)
        assert "ca_bundle" in str(caught.value)
        # With the CA configured explicitly, the same server is trusted.
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        trusted = OAuthClient(replace(FAST, ca_bundle=str(ca_file)))
        token = await trusted.grant(client_credentials.plan, credentials)
        await trusted.aclose()
    assert token.access_token.reveal() == "stolen"
    assert len(received) == 1  # only the trusted call arrived


# -- error bodies and retries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("html", TokenEndpointError, "HTML page titled '502 Bad Gateway'"),
        ("malformed_json", InvalidResponseError, "not JSON"),
        ("drop", TransportError, "dropped the connection"),
        ("error", TokenEndpointError, "HTTP 500 server_error"),
    ],
)
async def test_sandbox_fault_modes_become_clear_errors(
    sandbox: SandboxServer, client: OAuthClient, mode: str, error: type, words: str
) -> None:
    client_id, secret = register(sandbox)
    sandbox.state.add_fault({"mode": mode, "client_id": client_id})
    with pytest.raises(error) as caught:
        await client.grant(client_credentials.plan, creds(sandbox, client_id, secret))
    assert words in str(caught.value)
    assert secret not in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_503_503_200_takes_exactly_three_requests(
    sandbox: SandboxServer, client: OAuthClient
) -> None:
    client_id, secret = register(sandbox)
    sandbox.state.add_fault({"mode": "unavailable", "times": 2, "retry_after": 1})
    before = len(sandbox.state.requests)
    await client.grant(client_credentials.plan, creds(sandbox, client_id, secret))
    assert len(sandbox.state.requests) - before == 3


@pytest.mark.parametrize("status", [400, 401])
async def test_client_errors_are_never_retried(client: OAuthClient, status: int) -> None:
    seen: list[bytes] = []
    body = json.dumps({"error": "invalid_request"}).encode()
    with serve(
        scripted_app([(status, {"content-type": "application/json"}, body)], seen)
    ) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/t", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(TokenEndpointError):
            await client.grant(client_credentials.plan, credentials)
    assert len(seen) == 1


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    client = OAuthClient(replace(FAST, retry_after_cap=30.0))
    error = TokenEndpointError("busy", status=429, retry_after=2.0)
    assert client._backoff(error) == 2.0
    assert client._backoff(TokenEndpointError("busy", status=429, retry_after=600.0)) == 30.0
    assert client._backoff(TokenEndpointError("no", status=400)) is False


def test_retry_after_parses_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:05 GMT", now) == 5.0
    assert retry_after_seconds("soon") is None


async def test_telenor_numbered_codes_are_explained_per_status(client: OAuthClient) -> None:
    telenor = resolve_profile("telenor")
    body = json.dumps({"error": "invalid_scope", "error_code": 8}).encode()
    with serve(scripted_app([(403, {"content-type": "application/json"}, body)], [])) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/t", client_id="a", secret=Secret(CANARY), profile=telenor
        )
        with pytest.raises(TokenEndpointError) as caught:
            await client.grant(client_credentials.plan, credentials)
    assert "Telenor code 8: illegal or unauthorised scope" in str(caught.value)
    assert error_kind(caught.value) == "scope"
    # Code 2 means different things at different statuses.
    at_400, at_500 = telenor.explain("token", 400, "2"), telenor.explain("token", 500, "2")
    assert at_400 is not None
    assert at_400.explanation.startswith("missing or invalid grant_type")
    assert at_500 is not None
    assert at_500.explanation.startswith("internal server error")


async def test_non_json_2xx_bodies_are_invalid_responses(client: OAuthClient) -> None:
    with serve(
        scripted_app([(200, {"content-type": "text/html"}, b"<html>login</html>")], [])
    ) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/t", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(InvalidResponseError, match="text/html"):
            await client.grant(client_credentials.plan, credentials)


@pytest.mark.parametrize("case", ["expired", "wrong host"])
async def test_expired_and_wrong_host_certificates_fail_with_no_body_sent(
    tmp_path: Path, case: str
) -> None:
    import datetime as dt

    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    if case == "expired":
        now = dt.datetime.now(dt.UTC)
        cert = authority.issue_cert(
            "127.0.0.1",
            not_before=now - dt.timedelta(days=10),
            not_after=now - dt.timedelta(days=1),
        )
    else:
        cert = authority.issue_cert("api.example.org")
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    # The CA is trusted: only the certificate itself is wrong.
    client = OAuthClient(replace(FAST, ca_bundle=str(ca_file)))
    received: list[bytes] = []
    with serve_tls(recording_app(received), cert, tmp_path) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/token", client_id="a", secret=Secret(CANARY)
        )
        with pytest.raises(TransportError, match="not trusted"):
            await client.grant(client_credentials.plan, credentials)
    await client.aclose()
    assert received == []
