"""The sandbox as an authorization server for people: consent page, PKCE, redirect URIs, RFC 9207
iss, the device verification page, and discovery that advertises both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from credenza.oauth.grants.pkce import Pkce
from credenza.sandbox import SandboxServer, SandboxState

REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300, device_interval=0)) as running:
        running.state.add_client(
            {
                "client_id": "pipedrive-app",
                "client_secret": "pd-secret-0123456789",
                "scope": "deals:read users:read",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [REDIRECT],
                "application": "Pipedrive CRM",
            }
        )
        yield running


def authorize_url(server: SandboxServer, pkce: Pkce, **overrides: str) -> str:
    params = {
        "response_type": "code",
        "client_id": "pipedrive-app",
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "scope": "deals:read",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return str(httpx.URL(f"{server.issuer}/oauth/authorize", params=params))


def consent(server: SandboxServer, url: str, decision: str) -> dict[str, list[str]]:
    page = httpx.get(url)
    assert page.status_code == 200
    assert "<script" not in page.text.lower()
    assert "Pipedrive CRM" in page.text
    assert "deals:read" in page.text
    request_id = re.search(r'name="request" value="([^"]+)"', page.text)
    assert request_id is not None
    answer = httpx.post(
        f"{server.issuer}/oauth/authorize",
        data={"request": request_id.group(1), "decision": decision},
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query)


def exchange(server: SandboxServer, code: str, verifier: str, **form: str) -> httpx.Response:
    return httpx.post(
        f"{server.issuer}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **form,
        },
        auth=("pipedrive-app", "pd-secret-0123456789"),
    )


def test_discovery_advertises_authorization_and_device_endpoints(server: SandboxServer) -> None:
    metadata = httpx.get(f"{server.issuer}/.well-known/oauth-authorization-server").json()
    assert metadata["authorization_endpoint"] == f"{server.issuer}/oauth/authorize"
    assert metadata["device_authorization_endpoint"] == (
        f"{server.issuer}/oauth/device_authorization"
    )
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]


def test_approved_consent_gives_a_code_with_state_and_iss_that_pkce_redeems_once(
    server: SandboxServer,
) -> None:
    pkce = Pkce()
    back = consent(server, authorize_url(server, pkce), "approve")
    assert back["state"] == ["st-1"]
    assert back["iss"] == [server.issuer]
    token = exchange(server, back["code"][0], pkce.verifier.reveal())
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "deals:read"
    assert body["refresh_token"]
    issued = server.state.lookup(body["access_token"])
    assert issued is not None
    assert issued.subject == server.state.user
    again = exchange(server, back["code"][0], pkce.verifier.reveal())
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_denied_consent_returns_access_denied(server: SandboxServer) -> None:
    back = consent(server, authorize_url(server, Pkce()), "deny")
    assert back["error"] == ["access_denied"]
    assert "code" not in back
    assert back["state"] == ["st-1"]


def test_a_wrong_code_verifier_is_refused(server: SandboxServer) -> None:
    back = consent(server, authorize_url(server, Pkce()), "approve")
    answer = exchange(server, back["code"][0], Pkce().verifier.reveal())
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge": "", "code_challenge_method": ""},
    ],
)
def test_pkce_is_required_and_only_s256(server: SandboxServer, overrides: dict[str, str]) -> None:
    answer = httpx.get(authorize_url(server, Pkce(), **overrides))
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["error"] == ["invalid_request"]


def test_an_unregistered_redirect_uri_gets_a_page_and_no_redirect(server: SandboxServer) -> None:
    for uri in (
        "http://127.0.0.1:8766/elsewhere",
        "http://127.0.0.2:8766/callback",
        "http://cb.localhost:8766/callback",
        "https://evil.example/callback",
    ):
        answer = httpx.get(authorize_url(server, Pkce(), redirect_uri=uri))
        assert answer.status_code == 400
        assert "location" not in answer.headers


def test_a_registered_loopback_redirect_is_accepted_on_any_port(server: SandboxServer) -> None:
    # RFC 8252 §7.3: a native app listens on whatever port is free when it signs in.
    server.state.auto_approve = True
    other_port = "http://127.0.0.1:40123/callback"
    answer = httpx.get(authorize_url(server, Pkce(), redirect_uri=other_port))
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(other_port + "?")


def test_auto_approve_redirects_at_once(server: SandboxServer) -> None:
    server.state.auto_approve = True
    answer = httpx.get(authorize_url(server, Pkce()))
    assert answer.status_code == 302
    assert "code" in parse_qs(urlsplit(answer.headers["location"]).query)


def test_device_verification_page_approves_a_user_code(server: SandboxServer) -> None:
    server.state.add_client(
        {
            "client_id": "tv",
            "token_endpoint_auth_method": "none",
            "scope": "deals:read",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        }
    )
    started = httpx.post(f"{server.issuer}/oauth/device_authorization", data={"client_id": "tv"})
    assert started.status_code == 200, started.text
    device = started.json()
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "tv"}
    poll["device_code"] = device["device_code"]
    pending = httpx.post(f"{server.issuer}/oauth/token", data=poll)
    assert pending.json()["error"] == "authorization_pending"
    page = httpx.get(device["verification_uri_complete"])
    assert page.status_code == 200
    assert device["user_code"] in page.text
    assert "<script" not in page.text.lower()
    wrong = httpx.post(device["verification_uri"], data={"user_code": "BBBB-BBBB"})
    assert wrong.status_code == 400
    done = httpx.post(
        device["verification_uri"],
        data={"user_code": device["user_code"].lower().replace("-", ""), "decision": "approve"},
    )
    assert done.status_code == 200
    assert "Approved" in done.text
    token = httpx.post(f"{server.issuer}/oauth/token", data=poll)
    assert token.status_code == 200, token.text
    assert token.json()["refresh_token"]
