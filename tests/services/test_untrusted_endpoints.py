"""Every credentialed endpoint is bound: a secret or token goes only where the user confirmed it.

Revocation, introspection and logout endpoints moved to another origin (by discovery or an edit)
get 0 requests until `credenza secret confirm-endpoint`; profile defaults never follow a token
URL that points elsewhere; a secret set for an issuer-only environment is bound at first use.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.sandbox import SandboxServer
from credenza.sandbox.server import LoopbackServer
from credenza.workspace import Workspace
from tests.conftest import CliRunner
from tests.hostile import Hostile, hostile, json_answer, metadata, raw_answer, token

SECRET = "cAnArY-7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a"


def test_a_revocation_endpoint_moved_to_127_0_0_2_by_discovery_gets_nothing(cli: CliRunner) -> None:
    with (
        hostile() as (script, server),
        hostile("127.0.0.2") as (elsewhere, other),
    ):
        script.on("/token", token("opaque-token-abcdef", expires_in=300))
        script.on("/revoke", raw_answer("", 200))
        elsewhere.on("/revoke", raw_answer("", 200))
        assert cli("app", "add", "Moved")[0] == 0
        assert (
            cli(
                "env",
                "add",
                "moved",
                "production",
                "--client-id",
                "id",
                "--token-url",
                f"{server.issuer}/token",
                "--revocation-url",
                f"{server.issuer}/revoke",
                "--issuer",
                server.issuer,
            )[0]
            == 2  # nothing to discover yet: the issuer has no metadata
        )
        script.on(
            "/.well-known/oauth-authorization-server",
            metadata(
                server.issuer,
                token_endpoint=f"{server.issuer}/token",
                revocation_endpoint=f"{server.issuer}/revoke",
            ),
        )
        code, _, err = cli(
            "env", "add", "moved", "production", "--client-id", "id", "--issuer", server.issuer
        )
        assert code == 0, err
        assert cli("secret", "set", "moved", "production", stdin=SECRET)[0] == 0
        assert cli("token", "moved")[0] == 0
        # The provider's metadata now sends revocation to another host.
        script.on(
            "/.well-known/oauth-authorization-server",
            metadata(
                server.issuer,
                token_endpoint=f"{server.issuer}/token",
                revocation_endpoint=f"{other.issuer}/revoke",
            ),
        )
        code, _, err = cli("env", "discover", "moved", "production")
        assert code == 0, err
        assert "127.0.0.2" in err
        assert "confirm-endpoint" in err
        code, _, err = cli("revoke", "moved")
        assert code == 2
        assert "confirm-endpoint" in err
        assert elsewhere.seen == []
        # Once confirmed, it is used.
        assert cli("secret", "confirm-endpoint", "moved", "production")[0] == 0
        code, _, err = cli("revoke", "moved")
        assert code == 0, err
    assert len(elsewhere.seen) == 1


async def test_introspection_on_another_origin_gets_nothing(workspace: Workspace) -> None:
    from credenza.errors import EndpointChangedError

    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        script.on("/token", token("opaque-token-abcdef", expires_in=300))
        app_id = workspace.applications.add("Inspect").id
        workspace.environments.add(
            app_id,
            "production",
            EnvironmentChange(client_id="id", token_url=f"{server.issuer}/token"),
        )
        workspace.credentials.set(app_id, "production", SECRET)
        session, _ = await workspace.tokens.token(app_id, "production")
        workspace.environments.edit(
            app_id, "production", EnvironmentChange(introspection_url=f"{other.issuer}/i")
        )
        with pytest.raises(EndpointChangedError, match="introspection endpoint"):
            await workspace.tokens.introspect(session)
    assert elsewhere.seen == []
    await workspace.aclose()


def test_profile_defaults_do_not_follow_a_token_url_that_points_elsewhere(
    workspace: Workspace,
) -> None:
    app_id = workspace.applications.add("Telenor SMS", ApplicationChange(provider="telenor")).id
    workspace.environments.add(app_id, "production", EnvironmentChange(client_id="id"))
    shipped = workspace.environments.resolve(app_id, "production")
    assert shipped.logout_url == "https://api.telenor.no/oauth/v2/logout"
    workspace.environments.edit(
        app_id, "production", EnvironmentChange(token_url="http://127.0.0.1:9/token")
    )
    testing = workspace.environments.resolve(app_id, "production")
    assert testing.logout_url is None


def test_a_secret_for_an_issuer_only_environment_is_bound_at_first_discovery(
    cli: CliRunner,
) -> None:
    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        script.on("/.well-known/oauth-authorization-server", metadata(server.issuer))
        script.on("/token", token("opaque-token-abcdef", expires_in=300))
        elsewhere.on("/token", token("stolen-token-abcdef", expires_in=300))
        assert cli("app", "add", "Issuer Only")[0] == 0
        code, _, err = cli(
            "env",
            "add",
            "issuer-only",
            "production",
            "--client-id",
            "id",
            "--token-url",
            f"{server.issuer}/token",
        )
        assert code == 0, err
        # Known by issuer only: the token URL is found at the first token call.
        code, _, err = cli(
            "env", "edit", "issuer-only", "production", "--token-url", "", "--issuer", server.issuer
        )
        assert code == 0, err
        assert cli("secret", "set", "issuer-only", "production", stdin=SECRET)[0] == 0
        code, _, err = cli("token", "issuer-only", "--no-cache")
        assert code == 0, err
        code, _, err = cli(
            "env", "edit", "issuer-only", "production", "--token-url", f"{other.issuer}/token"
        )
        assert code == 0, err
        code, _, err = cli("token", "issuer-only", "--no-cache")
    assert code == 2
    assert "moved from" in err
    assert elsewhere.seen == []


def test_an_end_session_only_server_is_not_reported_as_logged_out(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on(
            "/.well-known/openid-configuration",
            metadata(server.issuer, end_session_endpoint=f"{server.issuer}/logout"),
        )
        script.on("/token", token("opaque-token-abcdef", expires_in=300))
        script.on("/logout", raw_answer("<html>bye</html>", 200, {"content-type": "text/html"}))
        assert cli("app", "add", "Oidc")[0] == 0
        code, _, err = cli(
            "env", "add", "oidc", "production", "--client-id", "id", "--issuer", server.issuer
        )
        assert code == 0, err
        assert cli("secret", "set", "oidc", "production", stdin=SECRET)[0] == 0
        assert cli("token", "oidc")[0] == 0
        code, out, err = cli("revoke", "oidc")
    assert code != 0
    assert "logged out" not in out + err
    assert [seen for seen in script.seen if seen.path == "/logout"] == []


def test_reserved_params_are_refused_and_never_reach_the_config(
    cli: CliRunner, config_path: Path
) -> None:
    assert cli("app", "add", "Params")[0] == 0
    base = [
        "env",
        "add",
        "params",
        "production",
        "--client-id",
        "id",
        "--token-url",
        "https://x.example/t",
    ]
    code, _, err = cli(*base, "--param", "grant_type=password")
    assert code == 2
    assert "grant_type" in err
    code, _, err = cli(*base, "--param", f"client_secret={SECRET}")
    assert code == 2
    assert SECRET not in err
    assert cli(*base, "--param", "tenant=a", "--param", "prompt=none")[0] == 0
    assert cli("env", "edit", "params", "production", "--param", "tenant=")[0] == 0
    text = config_path.read_text()
    assert SECRET not in text
    assert "tenant" not in text
    assert "prompt" in text


# -- issue 18 items 8 and 12: the authorization endpoint is bound; a pipe is not consent -------


def test_an_authorization_url_edited_to_another_origin_opens_no_browser_until_confirmed(
    cli: CliRunner, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import httpx

    from tests.servers import free_callback

    opened: list[str] = []
    visited: list[threading.Thread] = []

    def browser(url: str, *args: object, **kwargs: object) -> bool:
        """The person's browser: opens the page, and the person gives up (access_denied)."""
        opened.append(url)
        params = httpx.URL(url).params

        def visit() -> None:
            with httpx.Client(trust_env=False) as client:
                client.get(url)
                client.get(
                    params["redirect_uri"],
                    params={"error": "access_denied", "state": params["state"]},
                )

        visited.append(threading.Thread(target=visit, daemon=True))
        visited[-1].start()
        return True

    monkeypatch.setattr("credenza.children.open_browser", browser)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    callback = free_callback()
    client = sandbox.state.add_client(
        {
            "client_id": "signs-in",
            "scope": "deals:read",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [callback],
        }
    )
    add = ["app", "add", "People", "--callback-url", callback, "--grant-type"]
    assert cli(*add, "authorization_code", "--grant-type", "refresh_token")[0] == 0
    code, _, err = cli(
        "env", "add", "people", "production", "--client-id", "signs-in", "--issuer", sandbox.issuer
    )
    assert code == 0, err
    assert cli("secret", "set", "people", "production", stdin=client.client_secret)[0] == 0
    with hostile("127.0.0.2") as (elsewhere, other):
        # An edit (or a teammate's commit) sends the sign-in page to another host.
        code, _, err = cli(
            "env", "edit", "people", "production", "--authorization-url", f"{other.issuer}/auth"
        )
        assert code == 0, err
        code, _, err = cli("login", "people")
        assert code == 2
        assert "authorization endpoint" in err
        assert f"confirm-endpoint people production --origin {other.issuer}" in err
        assert opened == []
        assert elsewhere.seen == []
        # Confirmed: the browser opens there.
        code, _out, err = cli(
            "secret", "confirm-endpoint", "people", "production", "--origin", other.issuer
        )
        assert code == 0, err
        assert f"authorization endpoint {other.issuer}/auth: confirmed" in err
        code, _, err = cli("login", "people")
        for thread in visited:
            thread.join()
    assert code != 0  # the person gave up
    assert [httpx.URL(url).host for url in opened] == ["127.0.0.2"]
    assert [seen.path for seen in elsewhere.seen] == ["/auth"]


def revocation_elsewhere(script: Hostile, server: LoopbackServer, other: LoopbackServer) -> None:
    """An issuer whose metadata puts its revocation endpoint on another origin (127.0.0.2)."""
    script.on(
        "/.well-known/oauth-authorization-server",
        metadata(
            server.issuer,
            token_endpoint=f"{server.issuer}/token",
            revocation_endpoint=f"{other.issuer}/revoke",
        ),
    )
    script.on("/token", token("opaque-token-abcdef", expires_in=300))


def test_a_piped_secret_set_is_no_consent_to_a_discovered_revocation_origin(
    cli: CliRunner, config_path: Path
) -> None:
    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        revocation_elsewhere(script, server, other)
        elsewhere.on("/revoke", raw_answer("", 200))
        assert cli("app", "add", "Split")[0] == 0
        code, _, err = cli(
            "env", "add", "split", "production", "--client-id", "id", "--issuer", server.issuer
        )
        assert code == 0, err
        code, _out, err = cli("secret", "set", "split", "production", stdin=SECRET)
        assert code == 0, err
        assert "revocation" in err
        assert f"confirm-endpoint split production --origin {other.issuer}" in err
        assert "may be sent to" not in err
        assert cli("token", "split")[0] == 0
        code, _, err = cli("revoke", "split")
        assert code == 2
        assert "confirm-endpoint" in err
        assert elsewhere.seen == []
        # The confirmation is this person's: the shared config does not change.
        before = config_path.read_bytes()
        code, _, err = cli(
            "secret", "confirm-endpoint", "split", "production", "--origin", other.issuer
        )
        assert code == 0, err
        assert config_path.read_bytes() == before
        code, _, err = cli("revoke", "split")
        assert code == 0, err
    assert [seen.path for seen in elsewhere.seen] == ["/revoke"]
    assert SECRET not in err


def test_allow_origin_at_secret_set_is_the_consent(cli: CliRunner) -> None:
    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        revocation_elsewhere(script, server, other)
        elsewhere.on("/revoke", raw_answer("", 200))
        assert cli("app", "add", "Split")[0] == 0
        code, _, err = cli(
            "env", "add", "split", "production", "--client-id", "id", "--issuer", server.issuer
        )
        assert code == 0, err
        code, _, err = cli(
            "secret", "set", "split", "production", "--allow-origin", "not an origin",
            stdin=SECRET,
        )  # fmt: skip
        assert code == 2
        assert "not an origin" in err
        code, _, err = cli("token", "split")
        assert code != 0  # nothing was stored
        code, _, err = cli(
            "secret", "set", "split", "production", "--allow-origin", f"{other.issuer}/",
            stdin=SECRET,
        )  # fmt: skip
        assert code == 0, err
        assert "confirm-endpoint" not in err
        assert cli("token", "split")[0] == 0
        code, _, err = cli("revoke", "split")
        assert code == 0, err
    assert [seen.path for seen in elsewhere.seen] == ["/revoke"]


async def test_a_public_clients_device_endpoint_on_another_origin_gets_nothing(
    workspace: Workspace,
) -> None:
    """No secret to bind: a client without one is bound at its first use to the token endpoint's
    origin, in this person's keyring, and a device endpoint elsewhere waits for confirmation."""
    from credenza.errors import EndpointChangedError

    device = "urn:ietf:params:oauth:grant-type:device_code"
    with hostile() as (_script, server), hostile("127.0.0.2") as (elsewhere, other):
        answer = json_answer(
            {
                "device_code": "dc-0123456789abcdef",
                "user_code": "ABCD-EFGH",
                "verification_uri": f"{other.issuer}/device",
                "expires_in": 600,
                "interval": 5,
            }
        )
        elsewhere.on("/device", answer)
        app_id = workspace.applications.add(
            "Public", ApplicationChange(grant_types=[device, "refresh_token"])
        ).id
        workspace.environments.add(
            app_id,
            "production",
            EnvironmentChange(
                client_id="public-id",
                auth_method="none",
                token_url=f"{server.issuer}/token",
                device_authorization_url=f"{other.issuer}/device",
            ),
        )
        with pytest.raises(EndpointChangedError, match="device authorization endpoint"):
            await workspace.sign_in.start_device(app_id, "production", None)
        assert elsewhere.seen == []
        workspace.credentials.confirm_endpoint(app_id, "production", [other.issuer])
        pending = await workspace.sign_in.start_device(app_id, "production", None)
    assert pending.device.user_code == "ABCD-EFGH"
    assert [seen.path for seen in elsewhere.seen] == ["/device"]
    await workspace.aclose()


class Terminal(io.StringIO):
    """A person at a terminal, typing ``answers`` (one line each) to credenza's questions."""

    def isatty(self) -> bool:
        return True


def test_at_a_terminal_secret_set_asks_and_no_is_the_default(
    cli: CliRunner,
    config_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from credenza.cli import run

    def at_terminal(answer: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", Terminal(answer))
        argv = ["secret", "set", "split", "production", "--from-env", "SPLIT_SECRET"]
        code = run(["--config", str(config_path), *argv])
        out, err = capfd.readouterr()
        return code, out + err

    monkeypatch.setenv("SPLIT_SECRET", SECRET)
    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        revocation_elsewhere(script, server, other)
        elsewhere.on("/revoke", raw_answer("", 200))
        assert cli("app", "add", "Split")[0] == 0
        code, _, err = cli(
            "env", "add", "split", "production", "--client-id", "id", "--issuer", server.issuer
        )
        assert code == 0, err
        code, said = at_terminal("\n")  # Enter: the default, no
        assert code == 0, said
        assert f"to {other.issuer} too? [y/N]" in said
        assert cli("token", "split")[0] == 0
        assert cli("revoke", "split")[0] == 2
        assert elsewhere.seen == []
        code, said = at_terminal("y\n")
        assert code == 0, said
        assert cli("token", "split")[0] == 0
        code, _, err = cli("revoke", "split")
        assert code == 0, err
    assert [seen.path for seen in elsewhere.seen] == ["/revoke"]
