"""`credenza login`, `token` and `logout` for user tokens, as a user runs them, against the
sandbox over real HTTP. The browser is a plain HTTP client (no real browser runs here)."""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import tomli_w

from credenza.config.store import ConfigStore
from credenza.errors import SignInRequiredError
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import Secret, SecretStore
from credenza.workspace import Workspace
from tests.conftest import FAST, CliRunner
from tests.grants_helpers import FrozenClock
from tests.servers import free_callback

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[SandboxServer]:
    state = SandboxState(token_ttl=300, clock=clock.seconds, auto_approve=True, device_interval=0)
    with SandboxServer(state) as running:
        yield running


def add_pipedrive(cli: CliRunner, server: SandboxServer, callback: str) -> str:
    """Pipedrive's way: one loopback callback, authorization_code + refresh_token only."""
    client = server.state.add_client(
        {
            "client_id": "pd-user",
            "scope": "deals:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [callback],
            "application": "Pipedrive CRM",
        }
    )
    assert (
        cli(
            "app",
            "add",
            "Pipedrive CRM",
            "--callback-url",
            callback,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        )[0]
        == 0
    )
    code, _, err = cli(
        "env",
        "add",
        "pipedrive-crm",
        "production",
        "--client-id",
        "pd-user",
        "--issuer",
        server.issuer,
    )
    assert code == 0, err
    assert cli("secret", "set", "pipedrive-crm", "production", stdin=client.client_secret)[0] == 0
    return client.client_secret


def always_refresh(config_path: Path) -> None:
    """A skew longer than the token's life: every `credenza token` refreshes (an hour of use)."""
    data = tomllib.loads(config_path.read_text())
    data.setdefault("settings", {})["token_skew_seconds"] = 3600
    config_path.write_text(tomli_w.dumps(data))


def test_login_then_token_for_an_hour_past_expiry_without_another_login(
    cli: CliRunner,
    server: SandboxServer,
    clock: FrozenClock,
    browser: list[str],
    config_path: Path,
) -> None:
    callback = free_callback("/pipedrive/callback")
    add_pipedrive(cli, server, callback)
    code, out, err = cli("login", "pipedrive-crm")
    assert code == 0, err
    assert out == ""
    assert "Open this URL to sign in:" in err
    assert browser[0] in err
    assert "Signed in to Pipedrive CRM / production as ada@example.org" in err
    assert httpx.URL(browser[0]).params["redirect_uri"] == callback

    code, first, _ = cli("token", "pipedrive-crm")
    assert code == 0
    assert first.strip()
    always_refresh(config_path)
    seen = {first.strip()}
    for _ in range(13):  # five-minute tokens, refreshed through more than an hour
        clock.advance(300)
        code, out, err = cli("token", "pipedrive-crm")
        assert code == 0, err
        seen.add(out.strip())
    assert len(seen) == 14
    # Only access tokens left the process; the refresh tokens never did.
    refresh_tokens = [t for t in server.state.tokens if t.startswith("rt-")]
    assert len(refresh_tokens) == 14
    polls = [r for r in server.state.requests if r["form"].get("grant_type") == "refresh_token"]
    assert len(polls) == 13
    assert all(rt not in out + err for rt in refresh_tokens)
    # Never client_credentials: the application does not declare it.
    grants = {r["form"].get("grant_type") for r in server.state.requests if r["form"]}
    assert grants == {"authorization_code", "refresh_token"}


def test_a_rotation_whose_answer_was_never_stored_asks_to_sign_in_again(
    cli: CliRunner, server: SandboxServer, browser: list[str], config_path: Path
) -> None:
    secret = add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    always_refresh(config_path)
    # What a kill between the server's answer and the keyring write leaves: the server rotated
    # (the stored refresh token is used up) and credenza never stored the new one.
    stored = next(t for t, issued in server.state.tokens.items() if issued.kind == "refresh")
    used = httpx.post(
        f"{server.issuer}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": stored},
        auth=("pd-user", secret),
    )
    assert used.status_code == 200
    code, out, err = cli("token", "pipedrive-crm")
    assert code == 1
    assert out == ""
    assert "sign in again: credenza login pipedrive-crm" in err
    assert "Traceback" not in err
    # A later `credenza status` (a cron job, another terminal) knows, until a sign-in works.
    code, out, _ = cli("status", "--json")
    assert code == 1
    failed = [i for i in json.loads(out)["items"] if i["kind"] == "refresh_failed"]
    assert [(i["application"], i["environment"]) for i in failed] == [
        ("pipedrive-crm", "production")
    ]
    assert "no longer accepts the refresh token" in failed[0]["detail"]
    # Signing in again is all it takes.
    assert cli("login", "pipedrive-crm")[0] == 0
    assert "refresh_failed" not in cli("status", "--json")[1]
    assert cli("token", "pipedrive-crm")[0] == 0


def test_token_before_login_says_how_to_sign_in_and_sends_nothing(
    cli: CliRunner, server: SandboxServer
) -> None:
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    before = len(server.state.requests)
    code, _, err = cli("token", "pipedrive-crm")
    assert code == 1
    assert "credenza login pipedrive-crm" in err
    assert len(server.state.requests) == before


def test_logout_revokes_both_tokens_and_forgets_them(
    cli: CliRunner, server: SandboxServer, browser: list[str]
) -> None:
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    access = cli("token", "pipedrive-crm")[1].strip()
    code, _, err = cli("logout", "pipedrive-crm")
    assert code == 0, err
    assert "revoked" in err
    assert all(issued.revoked for issued in server.state.tokens.values())
    revoked = server.state.lookup(access)
    assert revoked is not None
    assert revoked.revoked
    assert cli("token", "pipedrive-crm")[0] == 1


def test_device_login_over_ssh_prints_the_code_and_polls(
    cli: CliRunner, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.add_client(
        {
            "client_id": "tv-app",
            "token_endpoint_auth_method": "none",
            "scope": "deals:read",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
        }
    )
    cli("app", "add", "TV App", "--grant-type", DEVICE_GRANT, "--grant-type", "refresh_token")
    code, _, err = cli(
        "env",
        "add",
        "tv-app",
        "production",
        "--client-id",
        "tv-app",
        "--issuer",
        server.issuer,
        "--auth-method",
        "none",
    )
    assert code == 0, err

    # The person approves on another device while credenza polls.
    def approve_soon() -> None:
        import time

        for _ in range(200):
            pending = [g for g in server.state.devices.values() if g.status == "pending"]
            if pending:
                httpx.post(
                    f"{server.issuer}/device",
                    data={"user_code": pending[0].user_code, "decision": "approve"},
                )
                return
            time.sleep(0.02)

    threading.Thread(target=approve_soon, daemon=True).start()
    code, _, err = cli("login", "tv-app", "--device")
    assert code == 0, err
    assert "enter the code:" in err
    assert f"{server.issuer}/device" in err
    assert "Signed in to TV App / production" in err
    code, token, _ = cli("token", "tv-app")
    assert code == 0
    assert server.state.lookup(token.strip()) is not None


def test_a_device_endpoint_on_another_origin_gets_no_credentials(
    cli: CliRunner, server: SandboxServer
) -> None:
    from tests.servers import recording_app, serve

    client = server.state.add_client(
        {"client_id": "tv-secret", "grant_types": [DEVICE_GRANT, "refresh_token"]}
    )
    cli("app", "add", "TV App", "--grant-type", DEVICE_GRANT)
    bodies: list[bytes] = []
    with serve(recording_app(bodies)) as elsewhere:
        code, _, err = cli(
            "env",
            "add",
            "tv-app",
            "production",
            "--client-id",
            "tv-secret",
            "--token-url",
            f"{server.issuer}/oauth/token",
        )
        assert code == 0, err
        assert cli("secret", "set", "tv-app", "production", stdin=client.client_secret)[0] == 0
        # Moved after the secret was stored: not confirmed, so nothing goes there.
        cli(
            "env",
            "edit",
            "tv-app",
            "production",
            "--device-authorization-url",
            f"{elsewhere.issuer}/device_authorization",
        )
        code, _, err = cli("login", "tv-app", "--device")
    assert code == 2, err
    assert "device authorization endpoint" in err
    assert "nothing was sent there" in err
    assert bodies == []


def test_token_scope_for_a_signed_in_person_is_checked_not_dropped(
    cli: CliRunner, server: SandboxServer, browser: list[str]
) -> None:
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    code, out, err = cli("token", "pipedrive-crm", "--scope", "deals:read")
    assert code == 0, err
    assert out.strip()
    requests = len(server.state.requests)
    code, out, err = cli("token", "pipedrive-crm", "--scope", "deals:write")
    assert code != 0
    assert out == ""  # never a token that lacks what was asked for
    assert "does not carry deals:write (it has: deals:read)" in err
    assert "credenza login pipedrive-crm --env production --scope deals:write" in err
    assert len(server.state.requests) == requests  # nothing sent: a refresh cannot add a scope


def refresh_in_flight_beside(
    config_path: Path,
    secret_store: SecretStore,
    server: SandboxServer,
    meanwhile: Callable[[Workspace], Awaitable[None]],
) -> Exception | None:
    """A sign-in's refresh held up at the provider while ``meanwhile`` runs in another
    workspace on the same config and keyring; what the refresh raised, if anything."""

    def process() -> Workspace:
        return Workspace(store=ConfigStore(config_path), secrets=secret_store, http_settings=FAST)

    async def scenario() -> Exception | None:
        refreshing, other = process(), process()
        server.state.add_fault({"mode": "latency", "latency_ms": 400, "client_id": "pd-user"})
        before = len(server.state.requests)
        call = asyncio.create_task(refreshing.tokens.token("pipedrive-crm"))
        while len(server.state.requests) == before:  # the refresh is in flight from here
            await asyncio.sleep(0.005)
        await meanwhile(other)
        try:
            await call
        except Exception as exc:
            return exc
        finally:
            await refreshing.aclose()
            await other.aclose()
        return None

    return asyncio.run(scenario())


def test_a_secret_set_during_a_sign_in_refresh_waits_for_it_and_the_sign_in_survives(
    cli: CliRunner,
    server: SandboxServer,
    browser: list[str],
    config_path: Path,
    secret_store: SecretStore,
) -> None:
    """`secret set` holds the credential's lock: it comes after the refresh in flight. The
    sign-in stays (Pipedrive: "resetting your client_secret will not invalidate any user
    tokens") and its next refresh sends the new secret."""
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    always_refresh(config_path)
    new = "a-new-secret-0123456789abcdef"

    async def secret_set(other: Workspace) -> None:  # another process: it waits in its thread
        await asyncio.to_thread(other.credentials.set, "pipedrive-crm", "production", new)

    assert refresh_in_flight_beside(config_path, secret_store, server, secret_set) is None
    server.state.clients["pd-user"].client_secret = new  # the reset at the provider
    code, out, err = cli("token", "pipedrive-crm")  # refreshed with the new secret
    assert code == 0, err
    assert out.strip()
    assert "nobody is signed in" not in err


def test_a_secret_set_keeps_the_sign_in_and_a_refresh_sends_the_new_secret(
    cli: CliRunner, server: SandboxServer, browser: list[str], config_path: Path
) -> None:
    """A secret change is not a new credential: `secret set` (even of the same secret) keeps
    the person signed in; the client's own cached tokens go."""
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    same = server.state.clients["pd-user"].client_secret
    assert cli("secret", "set", "pipedrive-crm", "production", stdin=same)[0] == 0
    code, out, err = cli("token", "pipedrive-crm")
    assert code == 0, err
    new = "another-secret-0123456789abcdef"
    server.state.clients["pd-user"].client_secret = new
    assert cli("secret", "set", "pipedrive-crm", "production", stdin=new)[0] == 0
    always_refresh(config_path)
    code, out, err = cli("token", "pipedrive-crm")  # a refresh, with the new secret
    assert code == 0, err
    assert out.strip()


def test_a_secret_changed_without_the_lock_during_a_refresh_keeps_nothing_of_the_old_one(
    cli: CliRunner,
    server: SandboxServer,
    browser: list[str],
    config_path: Path,
    secret_store: SecretStore,
) -> None:
    """A writer that takes no lock (an older credenza): the refresh answer is stored at once;
    the client secret replaced meanwhile, the answer goes too and the person is asked to sign
    in again."""
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    always_refresh(config_path)

    async def unlocked(other: Workspace) -> None:
        entries = other.context.secrets  # the keyring as the workspace sees it
        bound = entries.get_client_secret("pipedrive-crm", "production").origin
        new = Secret("a-new-secret-0123456789abcdef")
        entries.set_client_secret("pipedrive-crm", "production", new, origin=bound)

    refused = refresh_in_flight_beside(config_path, secret_store, server, unlocked)
    assert isinstance(refused, SignInRequiredError)
    assert "changed during the refresh" in refused.message
    code, out, err = cli("token", "pipedrive-crm")
    assert code == 1
    assert out == ""
    assert "credenza login pipedrive-crm" in err


def test_revoking_a_persons_token_says_it_signs_them_out(
    cli: CliRunner, server: SandboxServer, browser: list[str]
) -> None:
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    code, _, err = cli("revoke", "pipedrive-crm")
    assert code == 0, err
    assert "signed out" in err
    assert "credenza login pipedrive-crm --env production signs in again" in err
    code, _, err = cli("token", "pipedrive-crm")
    assert code == 1
    assert "credenza login pipedrive-crm" in err


def test_an_api_refusing_a_persons_token_refreshes_it_and_the_sign_in_stays(
    cli: CliRunner, server: SandboxServer, browser: list[str]
) -> None:
    """A 401 invalid_token from the API for a signed-in person's token: the refresh token gets
    a fresh one; the person stays signed in (dropping the sign-in would sign them out)."""
    add_pipedrive(cli, server, free_callback("/pipedrive/callback"))
    assert cli("login", "pipedrive-crm")[0] == 0
    assert cli("env", "edit", "pipedrive-crm", "production", "--api-url", server.issuer)[0] == 0
    first = cli("token", "pipedrive-crm")[1].strip()
    server.state.revoke(first)  # the API now says invalid_token for it
    code, _out, err = cli("api", "pipedrive-crm", "/api/me")
    assert code == 0, err
    code, out, err = cli("token", "pipedrive-crm")
    assert code == 0, err  # still signed in
    assert out.strip() != first
