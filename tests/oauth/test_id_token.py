"""OpenID Connect sign-in: the id_token is checked (signature, iss, aud, azp, times, nonce) before
anything is kept, tells who signed in, and stays in the keyring. Against the sandbox over real
HTTP, on frozen clocks; the spoiled id_tokens come from the sandbox's misbehaving mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.store import ConfigStore
from credenza.errors import IdTokenError
from credenza.sandbox import SandboxServer, SandboxState
from credenza.sandbox.id_tokens import IdTokenFault
from credenza.secrets import SecretStore, names
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.workspace import Workspace
from tests.conftest import FAST, CliRunner
from tests.grants_helpers import FrozenClock
from tests.servers import free_callback

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
APP = "people-portal"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[SandboxServer]:
    # The user's access-token sub is not an email: an "as ada@example.org" can only have come
    # from the id_token.
    state = SandboxState(
        token_ttl=300,
        clock=clock.seconds,
        auto_approve=True,
        device_interval=0,
        user="ada-lovelace",
        user_email="ada@example.org",
        user_name="Ada Lovelace",
    )
    with SandboxServer(state) as running:
        yield running


@pytest.fixture
def credenza_clock(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """credenza's own clock, frozen: every workspace the CLI opens reads it."""
    frozen = FrozenClock(clock.now)
    opened = Workspace.open.__func__  # type: ignore[attr-defined]

    def open_frozen(cls: type[Workspace], *args: Any, **kwargs: Any) -> Workspace:
        kwargs.setdefault("clock", frozen)
        return opened(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Workspace, "open", classmethod(open_frozen))
    return frozen


def add_portal(cli: CliRunner, server: SandboxServer, scopes: str = "openid deals:read") -> None:
    callback = free_callback()
    client = server.state.add_client(
        {
            "client_id": "portal-user",
            "scope": "openid deals:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [callback],
        }
    )
    cli(
        "app",
        "add",
        "People Portal",
        "--callback-url",
        callback,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
    )
    argv = ["env", "add", APP, "production", "--client-id", "portal-user"]
    argv += ["--issuer", server.issuer]
    for scope in scopes.split():
        argv += ["--scope", scope]
    code, _, err = cli(*argv)
    assert code == 0, err
    assert cli("secret", "set", APP, "production", stdin=client.client_secret)[0] == 0


def issued_id_tokens(server: SandboxServer) -> list[str]:
    """Every id_token the sandbox sent, read back from its own record of the answers."""
    return list(server.state.issued_id_tokens)


def stored_user_token(keyring: MemoryKeyring) -> dict[str, Any] | None:
    """The sign-in kept in the keyring, in whichever workspace (the test's only one)."""
    store = SecretStore(keyring, timeout=2.0)
    wanted = "/" + names.user_token(APP, "production")
    found = [name for _, name in keyring.entries if name.endswith(wanted)]
    assert len(found) <= 1
    payload = store.get_raw(found[0]) if found else None
    return None if payload is None else json.loads(payload)


def refused_in_one_line(
    code: int, out: str, err: str, said: str, memory_keyring: MemoryKeyring
) -> None:
    """Exit 1, one error line saying ``said``, no traceback, and no sign-in kept."""
    assert code == 1, err
    assert out == ""
    assert said in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("credenza: error:")]) == 1
    assert stored_user_token(memory_keyring) is None


def test_sign_in_with_openid_says_who_from_the_checked_id_token_and_keeps_it_in_the_keyring(
    cli: CliRunner,
    server: SandboxServer,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
    config_path: Path,
) -> None:
    add_portal(cli, server)
    code, out, err = cli("login", APP)
    assert code == 0, err
    assert "Signed in to People Portal / production as ada@example.org" in err
    # The authorization request carried a nonce, and the id_token carries it back.
    nonce = httpx.URL(browser[0]).params["nonce"]
    assert len(nonce) >= 32
    (id_token,) = issued_id_tokens(server)
    stored = stored_user_token(memory_keyring)
    assert stored is not None
    assert stored["token"]["id_token"] == id_token
    # Who signed in shows on inspect, as claims; the id_token itself never.
    code, shown, err = cli("token", "inspect", APP, "--no-introspect")
    assert code == 0, err
    assert "signed in as: ada@example.org" in shown
    assert "email: ada@example.org" in shown
    assert "name: Ada Lovelace" in shown
    code, as_json, _ = cli("token", "inspect", APP, "--json", "--no-introspect")
    assert json.loads(as_json)["id_token"]["claims"]["nonce"] == nonce
    assert json.loads(as_json)["account"] == "ada@example.org"
    code, verbose, verbose_err = cli("token", APP, "--verbose", "--no-cache")
    assert code == 0
    for text in (out, err, shown, as_json, verbose, verbose_err, config_path.read_text()):
        assert id_token not in text
        assert id_token.split(".")[2] not in text  # nor its signature alone


def test_sign_in_without_openid_sends_no_nonce_and_works_as_before(
    cli: CliRunner,
    server: SandboxServer,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
) -> None:
    add_portal(cli, server, scopes="deals:read")
    code, _, err = cli("login", APP)
    assert code == 0, err
    assert "nonce" not in httpx.URL(browser[0]).params
    assert issued_id_tokens(server) == []
    # Who it is still comes from the JWT access token's sub, as before.
    assert "as ada-lovelace" in err
    stored = stored_user_token(memory_keyring)
    assert stored is not None
    assert "id_token" not in stored["token"]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("bad_signature", "signature does not verify against the issuer's published keys"),
        ("wrong_aud", "the id_token is for another client"),
        ("many_aud", "several audiences"),
        ("wrong_iss", "the id_token was issued by"),
        ("wrong_nonce", "nonce is not the one this sign-in sent"),
        ("expired", "the id_token expired at"),
        ("foreign_key", "which the issuer does not publish"),
        ("hmac", "signed with HS256; credenza accepts only public-key signatures"),
        ("alg_none", "signed with none; credenza accepts only public-key signatures"),
        ("no_sub", "the id_token has no sub claim"),
        ("no_exp", "the id_token has no exp claim"),
        ("no_nonce", "nonce is not the one this sign-in sent"),
        # Alg confusion: the JWK Set publishes a symmetric key, and the token is HS256 with it.
        ("oct_key", "signed with HS256; credenza accepts only public-key signatures"),
    ],
)
def test_a_spoiled_id_token_fails_the_sign_in_with_one_line_and_nothing_is_stored(
    cli: CliRunner,
    server: SandboxServer,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
    fault: IdTokenFault,
    said: str,
) -> None:
    add_portal(cli, server)
    server.state.id_token_fault = fault
    code, out, err = cli("login", APP)
    refused_in_one_line(code, out, err, said, memory_keyring)
    assert "Signed in" not in err
    (id_token,) = issued_id_tokens(server)
    assert id_token not in err
    # Nothing stored: `token` asks for a sign-in and sends nothing.
    code, _, err = cli("token", APP)
    assert code == 1
    assert f"credenza login {APP}" in err


def test_an_id_token_expired_by_credenzas_clock_is_refused(
    cli: CliRunner,
    server: SandboxServer,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
) -> None:
    add_portal(cli, server)
    # The sandbox's id_tokens live 300 s; this machine's clock is 10 minutes ahead of its clock.
    credenza_clock.advance(600)
    code, _, err = cli("login", APP)
    assert code == 1, err
    assert "the id_token expired at 2025-03-01 12:05:00 UTC" in err
    assert "this machine's clock says 2025-03-01 12:10:00 UTC" in err
    assert stored_user_token(memory_keyring) is None
    # Ten minutes behind: issued in the future.
    credenza_clock.now = server_time(server) - timedelta(seconds=600)
    code, _, err = cli("login", APP)
    assert code == 1, err
    assert "the id_token was issued in the future" in err
    assert stored_user_token(memory_keyring) is None
    # Within the leeway (a minute), clocks that differ a little are forgiven.
    credenza_clock.now = server_time(server) + timedelta(seconds=330)
    assert cli("login", APP)[0] == 0


def server_time(server: SandboxServer) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(server.state.clock(), UTC)


def jwks_fetches(server: SandboxServer) -> int:
    return sum(1 for r in server.state.requests if r["path"] == "/oauth/jwks")


async def test_keys_are_fetched_once_and_again_at_most_once_a_minute_for_an_unknown_kid(
    server: SandboxServer, clock: FrozenClock
) -> None:
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.id_token import KeySets, verify
    from credenza.secrets import Secret

    portal = server.state.add_client({"client_id": "c", "scope": "openid"})
    client, key_sets = OAuthClient(FAST), KeySets()

    async def check(now: Any = None) -> None:
        token = server.state.id_token(portal, server.issuer, "ada", None, None)
        await verify(
            client,
            Secret(token),
            issuer=server.issuer,
            client_id="c",
            now=now or clock(),
            key_sets=key_sets,
        )

    await check()
    await check()
    assert jwks_fetches(server) == 1  # cached
    server.state.id_token_fault = "foreign_key"
    with pytest.raises(IdTokenError, match="which the issuer does not publish"):
        await check()
    assert jwks_fetches(server) == 2  # one refetch for the unknown kid, not a loop
    with pytest.raises(IdTokenError, match="which the issuer does not publish"):
        await check()
    assert jwks_fetches(server) == 2  # tokens naming unknown keys cannot hammer the provider
    with pytest.raises(IdTokenError, match="which the issuer does not publish"):
        await check(clock() + timedelta(seconds=61))
    assert jwks_fetches(server) == 3  # a minute on, once more
    await client.aclose()


async def test_a_key_rotation_without_kid_is_followed_by_a_refetch_at_most_once_a_minute(
    server: SandboxServer, clock: FrozenClock
) -> None:
    """A provider with one key at a time and no ``kid`` in its tokens: after it rotates, the
    signature fails against the cached key, and the set is fetched again (not forever refused)."""
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.id_token import KeySets, verify
    from credenza.secrets import Secret

    portal = server.state.add_client({"client_id": "c", "scope": "openid"})
    server.state.id_token_fault = "no_kid"
    client, key_sets = OAuthClient(FAST), KeySets()

    async def check(now: Any = None) -> dict[str, Any]:
        token = server.state.id_token(portal, server.issuer, "ada", None, None)
        return await verify(
            client,
            Secret(token),
            issuer=server.issuer,
            client_id="c",
            now=now or clock(),
            key_sets=key_sets,
        )

    assert (await check())["aud"] == "c"
    assert jwks_fetches(server) == 1
    server.state.rotate_id_token_key()
    assert (await check())["aud"] == "c"
    assert jwks_fetches(server) == 2
    # Rotated again within the minute: refused, without a fetch (a forger's tokens with bad
    # signatures must not make credenza fetch the keys on every one).
    server.state.rotate_id_token_key()
    with pytest.raises(IdTokenError, match="signature does not verify"):
        await check()
    assert jwks_fetches(server) == 2
    assert (await check(clock() + timedelta(seconds=61)))["aud"] == "c"
    assert jwks_fetches(server) == 3
    await client.aclose()


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("bad_signature", "signature does not verify"),
        ("other_sub", "the refreshed id_token names another user than the one who signed in"),
        ("alg_none", "signed with none; credenza accepts only public-key signatures"),
        ("wrong_aud", "the id_token is for another client"),
    ],
)
def test_a_refresh_checks_its_id_token_and_a_spoiled_one_signs_the_user_out(
    cli: CliRunner,
    server: SandboxServer,
    clock: FrozenClock,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
    fault: IdTokenFault,
    said: str,
) -> None:
    add_portal(cli, server)
    assert cli("login", APP)[0] == 0
    before = stored_user_token(memory_keyring)
    # Five minutes on: the access token is expired and `token` refreshes it.
    clock.advance(301)
    credenza_clock.advance(301)
    code, _, err = cli("token", APP)
    assert code == 0, err
    after = stored_user_token(memory_keyring)
    assert after is not None
    assert before is not None
    assert after["token"]["id_token"] == issued_id_tokens(server)[-1]
    assert after["token"]["id_token"] != before["token"]["id_token"]
    # A refresh whose id_token was tampered with: refused, and the sign-in (whose refresh token
    # the provider answered with is already stored) is dropped whole.
    clock.advance(301)
    credenza_clock.advance(301)
    server.state.id_token_fault = fault
    code, out, err = cli("token", APP)
    refused_in_one_line(code, out, err, said, memory_keyring)
    server.state.id_token_fault = None
    code, _, err = cli("token", APP)
    assert code == 1
    assert f"credenza login {APP}" in err


def test_a_refresh_whose_keys_cannot_be_had_keeps_the_rotated_refresh_token(
    cli: CliRunner,
    server: SandboxServer,
    clock: FrozenClock,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
) -> None:
    """The sandbox rotates refresh tokens: the stored one is spent the moment the refresh is
    answered, so the answer must be kept even when its id_token cannot be checked."""
    add_portal(cli, server)
    assert cli("login", APP)[0] == 0
    before = stored_user_token(memory_keyring)
    assert before is not None
    # The provider rotated its signing key, and its key server is down when credenza looks.
    server.state.rotate_id_token_key()
    server.state.jwks_down = True
    clock.advance(301)
    credenza_clock.advance(301)
    code, out, err = cli("token", APP)
    assert code == 0, err
    assert out.strip()
    assert "Traceback" not in err
    kept = stored_user_token(memory_keyring)
    assert kept is not None
    assert kept["token"]["refresh_token"] != before["token"]["refresh_token"]
    # The new id_token was not believed: the sign-in's checked one stays.
    assert kept["token"]["id_token"] == before["token"]["id_token"]
    # The keys are back: the next refresh works without a sign-in, with the rotated token.
    server.state.jwks_down = False
    clock.advance(301)
    credenza_clock.advance(301)
    code, _, err = cli("token", APP)
    assert code == 0, err
    latest = stored_user_token(memory_keyring)
    assert latest is not None
    assert latest["token"]["id_token"] == issued_id_tokens(server)[-1]


async def test_the_device_flow_checks_the_id_token_too(
    server: SandboxServer,
    clock: FrozenClock,
    config_path: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    server.state.add_client(
        {
            "client_id": "tv-app",
            "token_endpoint_auth_method": "none",
            "scope": "openid deals:read",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
        }
    )
    workspace = Workspace(
        store=ConfigStore(config_path),
        secrets=SecretStore(memory_keyring, timeout=2.0),
        http_settings=FAST,
        clock=clock,
    )
    app = workspace.applications.add(
        "TV App", ApplicationChange(grant_types=[DEVICE_GRANT, "refresh_token"])
    )
    workspace.environments.add(
        app.id,
        "production",
        EnvironmentChange(
            client_id="tv-app",
            issuer=server.issuer,
            token_url=f"{server.issuer}/oauth/token",
            device_authorization_url=f"{server.issuer}/oauth/device_authorization",
            auth_method="none",
            scopes=["openid", "deals:read"],
        ),
    )

    async def approve(seconds: float) -> None:
        async with httpx.AsyncClient() as person:
            user_code = next(iter(server.state.devices.values())).user_code
            await person.post(
                f"{server.issuer}/device", data={"user_code": user_code, "decision": "approve"}
            )

    pending = await workspace.sign_in.start_device(app.id, "production", None)
    session = await workspace.sign_in.finish_device(pending, sleep=approve)
    assert session.account == "ada@example.org"
    assert session.identity_claims is not None
    assert session.identity_claims["auth_time"] == int(clock.seconds())

    server.state.id_token_fault = "wrong_aud"
    pending = await workspace.sign_in.start_device(app.id, "production", None)
    with pytest.raises(IdTokenError, match="for another client"):
        await workspace.sign_in.finish_device(pending, sleep=approve)
    # The workspace (a dashboard, one process) fetched the provider's keys once for both.
    assert jwks_fetches(server) == 1
    # The first sign-in is what the keyring still holds.
    held = workspace.tokens.user_session(workspace.environments.resolve(app.id, "production"))
    assert held is not None
    assert held.token.id_token == session.token.id_token
    await workspace.aclose()


def test_an_environment_without_an_issuer_cannot_check_an_id_token_and_says_how_to_fix_it(
    cli: CliRunner,
    server: SandboxServer,
    credenza_clock: FrozenClock,
    browser: list[str],
    memory_keyring: MemoryKeyring,
) -> None:
    add_portal(cli, server)
    # The endpoints stay; only the issuer to check iss against (and find the keys at) goes.
    assert cli("env", "edit", APP, "production", "--issuer", "")[0] == 0
    code, _, err = cli("login", APP)
    assert code == 1, err
    assert "the environment has no issuer to check it against" in err
    assert "credenza env edit APP ENV --issuer URL" in err
    assert stored_user_token(memory_keyring) is None


async def test_keys_published_over_plain_http_elsewhere_than_loopback_are_never_fetched(
    server: SandboxServer, clock: FrozenClock
) -> None:
    """A provider whose metadata names an http:// jwks_uri off loopback: keys that came over a
    wire anyone can rewrite prove nothing, so the id_token is not believed."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from credenza.oauth.client import OAuthClient
    from credenza.oauth.id_token import KeySets, verify
    from credenza.secrets import Secret
    from tests.servers import serve

    async def metadata(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": base,
                "token_endpoint": f"{base}/token",
                "jwks_uri": "http://keys.example.com/jwks",
            }
        )

    client_ = server.state.add_client({"client_id": "c", "scope": "openid"})
    id_token = server.state.id_token(client_, server.issuer, "ada", None, None)
    app = Starlette(routes=[Route("/.well-known/oauth-authorization-server", metadata)])
    client = OAuthClient(FAST)
    with serve(app) as elsewhere, pytest.raises(IdTokenError) as refused:
        await verify(
            client,
            Secret(id_token),
            issuer=elsewhere.issuer,
            client_id="c",
            now=clock(),
            key_sets=KeySets(),
        )
    await client.aclose()
    assert "the id_token cannot be checked" in str(refused.value)
    assert "http://keys.example.com/jwks over plain http" in str(refused.value)
    assert refused.value.exit_code == 1
