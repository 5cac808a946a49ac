"""Signing in with the authorization code grant: PKCE, the loopback listener, state and iss."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from credenza.errors import SignInError, TokenEndpointError, ValidationError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants.authorization_code import (
    Callback,
    authorization_request,
    choose_redirect_uri,
    code_from,
    sign_in,
)
from credenza.oauth.grants.loopback import LoopbackListener
from credenza.oauth.plan import ClientCredentials
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.grants_helpers import browse_and_decide


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300)) as running:
        yield running


def register(server: SandboxServer, redirect: str, method: str = "client_secret_basic") -> str:
    client = server.state.add_client(
        {
            "client_id": f"pd-{method}",
            "scope": "deals:read users:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": method,
        }
    )
    return client.client_secret


def credentials(server: SandboxServer, secret: str, method: str) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{server.issuer}/oauth/token",
        client_id=f"pd-{method}",
        secret=Secret(secret),
        auth_method=method,
        scopes=("deals:read",),
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_sign_in_through_consent_page_and_loopback_gives_user_tokens(
    server: SandboxServer, method: str
) -> None:
    async with LoopbackListener("http://127.0.0.1:0/callback") as probe:
        redirect = probe.redirect_uri  # a free port, then registered as Pipedrive's one callback
    secret = register(server, redirect, method)
    client = OAuthClient(FAST)
    pages: list[httpx.Response] = []
    shown: list[str] = []

    def show(url: str) -> None:
        shown.append(url)
        task = asyncio.get_running_loop().create_task(browse_and_decide(url))
        task.add_done_callback(lambda done: pages.append(done.result()))

    try:
        token = await sign_in(
            client,
            credentials(server, secret, method),
            f"{server.issuer}/oauth/authorize",
            redirect_uri=redirect,
            show=show,
            expected_issuer=server.issuer,
            iss_required=True,
            timeout=10,
        )
    finally:
        await client.aclose()
    assert shown[0].startswith(f"{server.issuer}/oauth/authorize?")
    assert "code_challenge_method=S256" in shown[0]
    assert token.refresh_token is not None
    assert token.scopes == ("deals:read",)
    issued = server.state.lookup(token.access_token.reveal())
    assert issued is not None
    assert issued.subject == server.state.user
    await asyncio.sleep(0)
    assert pages[0].status_code == 200
    assert "close this tab" in pages[0].text
    exchange = [r for r in server.state.requests if r["form"].get("grant_type")]
    assert exchange[-1]["form"]["code_verifier"]
    assert exchange[-1]["form"]["redirect_uri"] == redirect


async def test_denied_consent_is_a_sign_in_error(server: SandboxServer) -> None:
    async with LoopbackListener("http://127.0.0.1:0/cb") as probe:
        redirect = probe.redirect_uri
    secret = register(server, redirect)
    client = OAuthClient(FAST)

    def show(url: str) -> None:
        asyncio.get_running_loop().create_task(browse_and_decide(url, "deny"))

    with pytest.raises(SignInError, match="denied"):
        await sign_in(
            client,
            credentials(server, secret, "client_secret_basic"),
            f"{server.issuer}/oauth/authorize",
            redirect_uri=redirect,
            show=show,
            timeout=10,
        )
    await client.aclose()


async def test_the_listener_ignores_strays_and_other_states() -> None:
    async with LoopbackListener("http://127.0.0.1:0/callback") as listener:
        waiting = asyncio.create_task(listener.wait("right-state"))
        async with httpx.AsyncClient() as browser:
            base = listener.redirect_uri
            assert (await browser.get(base.replace("/callback", "/favicon.ico"))).status_code == 404
            stray = await browser.get(base, params={"state": "other", "code": "forged"})
            assert stray.status_code == 400
            assert not waiting.done()
            good = await browser.get(base, params={"state": "right-state", "code": "c1"})
            assert good.status_code == 200
        callback = await waiting
    assert callback.get("code") == "c1"


async def test_sign_in_times_out_with_a_clear_message(server: SandboxServer) -> None:
    client = OAuthClient(FAST)
    with pytest.raises(SignInError, match=r"within 0\.2 s"):
        await sign_in(
            client,
            credentials(server, "x", "client_secret_basic"),
            f"{server.issuer}/oauth/authorize",
            redirect_uri="http://127.0.0.1:0/callback",
            show=lambda url: None,
            timeout=0.2,
        )
    await client.aclose()


def test_state_and_iss_are_checked() -> None:
    request = authorization_request("https://as.example/authorize", "c", "http://127.0.0.1:1/cb")
    good = {"state": request.state, "code": "abc", "iss": "https://as.example"}
    assert code_from(Callback(good), request, "https://as.example") == "abc"
    with pytest.raises(SignInError, match="state"):
        code_from(Callback({**good, "state": "forged"}), request, "https://as.example")
    with pytest.raises(SignInError, match="issuer"):
        code_from(Callback({**good, "iss": "https://evil.example"}), request, "https://as.example")
    without_iss = {"state": request.state, "code": "abc"}
    assert code_from(Callback(without_iss), request, "https://as.example") == "abc"
    with pytest.raises(SignInError, match="no iss"):
        code_from(Callback(without_iss), request, "https://as.example", iss_required=True)


def test_redirect_uri_is_the_loopback_callback_or_the_override_or_a_free_port() -> None:
    callback = "http://127.0.0.1:8765/pipedrive"
    assert choose_redirect_uri(callback, None) == callback
    assert choose_redirect_uri("https://app.example/cb", None) == "http://127.0.0.1:0/callback"
    assert choose_redirect_uri(None, "http://localhost:9000/x") == "http://localhost:9000/x"
    with pytest.raises(ValidationError, match="loopback"):
        choose_redirect_uri(None, "https://app.example/cb")


async def test_a_code_redeemed_with_another_verifier_is_refused(server: SandboxServer) -> None:
    async with LoopbackListener("http://127.0.0.1:0/callback") as probe:
        redirect = probe.redirect_uri
    secret = register(server, redirect)
    server.state.auto_approve = True
    request = authorization_request(
        f"{server.issuer}/oauth/authorize", "pd-client_secret_basic", redirect, ("deals:read",)
    )
    answer = httpx.get(request.url)
    code = httpx.URL(answer.headers["location"]).params["code"]
    other = authorization_request(f"{server.issuer}/oauth/authorize", "x", redirect)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": other.pkce.verifier.reveal(),
    }
    client = OAuthClient(FAST)
    with pytest.raises(TokenEndpointError) as caught:
        await client.perform(
            client.plan_request_token(credentials(server, secret, "client_secret_basic"), form)
        )
    await client.aclose()
    assert caught.value.error == "invalid_grant"
