"""One client for every credentialed call (SECURITY.md promise 33): the sandbox provider's admin
calls get the same deadline, body cap, redaction, TLS settings and origin binding as a token call.

Each case runs `credenza secret reset` through the CLI against a small misbehaving admin API on
127.0.0.x (tests/hostile.py, tests/servers.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.hostile import echo_in, hostile, json_answer, leaks
from tests.servers import drip_app, huge_app, serve, serve_tls

ADMIN = "aDmInToKeN-5f4e3d2c1b0a99887766554433221100"
SECRET = "cAnArY-0a1b2c3d4e5f60718293a4b5c6d7e8f9ab"
SETTINGS = "version = 1\n[settings]\nread_timeout = 0.5\ndeadline = 1.5\nretry_attempts = 1\n"


@pytest.fixture
def cli(
    tmp_path: Path, run_cli: Callable[[Path], CliRunner], monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    config = tmp_path / "credenza.toml"
    config.write_text(SETTINGS)
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "none.sock"))
    runner: CliRunner = run_cli(config)
    return runner


def sandbox_provider(cli: CliRunner, admin_url: str) -> None:
    """An application at a sandbox provider whose admin API is ``admin_url``."""
    code, _, err = cli(
        "provider", "add", "mine", "--sandbox", admin_url, "--token-url", f"{admin_url}/token"
    )
    assert code == 0, err
    assert cli("provider", "admin-token", "mine", stdin=ADMIN)[0] == 0
    assert cli("app", "add", "Victim", "--provider", "mine")[0] == 0
    code, _, err = cli(
        "env", "add", "victim", "sandbox", "--client-id", "victim-id", "--token-url",
        f"{admin_url}/token",
    )  # fmt: skip
    assert code == 0, err
    assert cli("secret", "set", "victim", "sandbox", stdin=SECRET)[0] == 0


def reset(cli: CliRunner) -> tuple[int, str, str]:
    result: tuple[int, str, str] = cli("secret", "reset", "victim", "sandbox", "--yes")
    return result


def test_an_admin_api_echoing_the_request_shows_the_admin_token_0_times(cli: CliRunner) -> None:
    with hostile() as (script, server):
        script.on("/admin/clients/victim-id/secret", echo_in("error_description", 400))
        sandbox_provider(cli, server.issuer)
        code, out, err = reset(cli)
    assert code != 0
    # The client's record is read first (how it rotates), then the reset itself.
    paths = [seen.path for seen in script.seen]
    assert [path for path in paths if path.endswith("/secret")] == [
        "/admin/clients/victim-id/secret"
    ]
    assert script.seen[0].headers["authorization"] == f"Bearer {ADMIN}"  # it was echoed
    assert "HTTP 400" in err, err
    assert leaks(out + err, ADMIN) == []
    assert base64.b64encode(ADMIN.encode()).decode() not in out + err


def test_an_admin_api_that_drips_is_cut_off_at_the_deadline(cli: CliRunner) -> None:
    with serve(drip_app(0.2)) as server:
        sandbox_provider(cli, server.issuer)
        code, _, err = reset(cli)
    assert code != 0
    assert "deadline" in err, err
    assert "Traceback" not in err


def test_a_huge_admin_answer_is_capped(cli: CliRunner) -> None:
    import tracemalloc

    with serve(huge_app(50)) as server:
        sandbox_provider(cli, server.issuer)
        tracemalloc.start()
        try:
            code, _, err = reset(cli)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert code != 0
    assert "cut off" in err, err
    assert peak < 20 * 1024 * 1024


def test_an_admin_url_moved_to_another_origin_gets_0_requests(cli: CliRunner) -> None:
    with hostile() as (script, server), hostile("127.0.0.2") as (elsewhere, other):
        issued = json_answer({"client_secret": "new-secret-0123456789abcdef0123456789"})
        script.on("/admin/clients/victim-id/secret", issued)
        elsewhere.on("/admin/clients/victim-id/secret", issued)
        sandbox_provider(cli, server.issuer)
        # A teammate's commit (or an edit) points the admin API at another host.
        code, _, err = cli(
            "provider", "edit", "mine", "--sandbox", other.issuer, "--token-url", f"{server.issuer}/t"
        )  # fmt: skip
        assert code == 0, err
        code, _, err = reset(cli)
        assert code == 2
        assert "admin-token" in err
        assert elsewhere.seen == []
        # Storing the token again for the new URL is the user's confirmation.
        assert cli("provider", "admin-token", "mine", stdin=ADMIN)[0] == 0
        reset(cli)
    assert "/admin/clients/victim-id/secret" in [seen.path for seen in elsewhere.seen]


@pytest.fixture
def private_ca(tmp_path: Path) -> tuple[object, Path]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


def test_the_admin_api_behind_a_private_ca_works_with_ca_bundle(
    cli: CliRunner, tmp_path: Path, private_ca: tuple[object, Path]
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    ca, bundle = private_ca
    seen: list[str] = []

    async def issue(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        return JSONResponse({"client_secret": "new-secret-0123456789abcdef0123456789"})

    app = Starlette(routes=[Route("/admin/clients/victim-id/secret", issue, methods=["POST"])])
    cert = ca.issue_cert("127.0.0.1")  # type: ignore[attr-defined]
    with serve_tls(app, cert, tmp_path) as server:
        sandbox_provider(cli, server.issuer)
        # Without the CA the certificate is not trusted; the admin call fails closed.
        code, _, err = reset(cli)
        assert code != 0
        assert "not trusted" in err, err
        assert seen == []
        config = tmp_path / "credenza.toml"
        config.write_text(
            config.read_text().replace("[settings]\n", f'[settings]\nca_bundle = "{bundle}"\n')
        )
        reset(cli)
    assert seen  # the record read and the reset, each with the admin token
    assert set(seen) == {f"Bearer {ADMIN}"}
