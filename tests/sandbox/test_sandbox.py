"""The sandbox provider as users and other tools see it: a process, curl, a clients file, state."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from credenza.errors import TransportError, ValidationError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.plan import ClientCredentials
from credenza.sandbox import SandboxServer, SandboxState
from credenza.sandbox.clients import load_clients
from credenza.secrets import Secret
from tests.conftest import FAST, CliRunner

CURL = shutil.which("curl")


@contextmanager
def process(*argv: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """Run credenza as a process; yield it and the `key: value` lines it printed first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "credenza", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        printed: dict[str, str] = {}
        assert proc.stdout is not None
        while len(printed) < 2:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(proc.stderr.read() if proc.stderr else "no output")
            key, _, value = line.strip().partition(": ")
            printed[key] = value
        yield proc, printed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def curl(*argv: str) -> str:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-s", "-S", "--fail-with-body", *argv], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_fetches_introspects_and_revokes_from_sandbox_serve(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    clients.write_text(
        json.dumps(
            [
                {
                    "client_id": "cli-app",
                    "client_secret": "s3cret+with:odd=chars",
                    "scope": "read write",
                    "token_endpoint_auth_method": "client_secret_post",
                    "token_ttl": 90,
                }
            ]
        )
    )
    with process("sandbox", "serve", "--clients", str(clients)) as (_, printed):
        issuer = printed["issuer"]
        assert issuer.startswith("http://127.0.0.1:")
        assert printed["admin token"]
        metadata = json.loads(curl(f"{issuer}/.well-known/oauth-authorization-server"))
        for endpoint in (
            "token_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "logout_endpoint",
        ):
            assert metadata[endpoint].startswith(issuer)
        auth = [
            "--data-urlencode",
            "client_id=cli-app",
            "--data-urlencode",
            "client_secret=s3cret+with:odd=chars",
        ]
        token = json.loads(
            curl(
                metadata["token_endpoint"],
                "--data",
                "grant_type=client_credentials",
                "--data",
                "scope=read",
                *auth,
            )
        )
        assert token["expires_in"] == "90"
        assert token["scope"] == "read"
        access = token["access_token"]
        active = json.loads(
            curl(metadata["introspection_endpoint"], "--data-urlencode", f"token={access}", *auth)
        )
        assert active["active"] is True
        assert active["client_id"] == "cli-app"
        curl(metadata["revocation_endpoint"], "--data-urlencode", f"token={access}", *auth)
        revoked = json.loads(
            curl(metadata["introspection_endpoint"], "--data-urlencode", f"token={access}", *auth)
        )
        assert revoked["active"] is False


def test_clients_file_in_toml_and_bad_files(tmp_path: Path) -> None:
    toml = tmp_path / "clients.toml"
    toml.write_text('[[clients]]\nclient_id = "a"\nclient_secret = "b"\nscope = "x y"\n')
    assert load_clients(toml)[0]["scope"] == "x y"
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(ValidationError, match="not valid JSON"):
        load_clients(broken)
    nameless = tmp_path / "nameless.json"
    nameless.write_text('[{"client_secret": "x"}]')
    with pytest.raises(ValidationError, match="no client_id"):
        load_clients(nameless)


def test_state_file_keeps_clients_and_contracts_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    first = SandboxState(state_file=state_file)
    client = first.add_client({"client_id": "keep-me"})
    first.add_api({"id": "api-1", "name": "Orders", "tiers": {"Gold": {"auto_approve": True}}})
    contract = first.request_access("keep-me", "api-1", "Gold", False)
    second = SandboxState(state_file=state_file)
    assert second.clients["keep-me"].client_secret == client.client_secret
    assert second.contracts[contract.id].status == "approved"
    assert second.admin_token == first.admin_token
    assert oct(state_file.stat().st_mode & 0o777) == "0o600"


def test_admin_api_registers_an_application_and_returns_each_secret_once(
    sandbox: SandboxServer,
) -> None:
    headers = {"Authorization": f"Bearer {sandbox.admin_token}"}
    response = httpx.post(
        f"{sandbox.issuer}/admin/applications",
        json={"name": "Orders", "environments": ["sandbox", "production"], "scope": "orders:read"},
        headers=headers,
    )
    assert response.status_code == 201
    environments = response.json()["environments"]
    assert set(environments) == {"sandbox", "production"}
    assert environments["sandbox"]["client_id"] != environments["production"]["client_id"]
    listed = httpx.get(f"{sandbox.issuer}/admin/clients", headers=headers).json()
    assert all("client_secret" not in client for client in listed)
    assert httpx.get(f"{sandbox.issuer}/admin/clients").status_code == 401


async def test_slow_body_fault_is_cut_off_at_the_deadline(sandbox: SandboxServer) -> None:
    from dataclasses import replace

    client_id = sandbox.state.add_client({"client_id": "slow", "client_secret": "s"}).client_id
    sandbox.state.add_fault({"mode": "slow_body", "client_id": client_id, "drip_interval": 0.05})
    oauth = OAuthClient(replace(FAST, deadline=0.5))
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token", client_id="slow", secret=Secret("s")
    )
    with pytest.raises(TransportError, match="deadline"):
        await oauth.grant(client_credentials.plan, credentials)
    await oauth.aclose()


def test_global_faults_apply_to_every_client_until_cleared(sandbox: SandboxServer) -> None:
    sandbox.state.add_client({"client_id": "one", "client_secret": "s"})
    headers = {"Authorization": f"Bearer {sandbox.admin_token}"}
    httpx.post(
        f"{sandbox.issuer}/admin/faults", json={"mode": "error", "status": 502}, headers=headers
    )
    token_url = f"{sandbox.issuer}/oauth/token"
    assert (
        httpx.post(
            token_url, data={"grant_type": "client_credentials"}, auth=("one", "s")
        ).status_code
        == 502
    )
    httpx.delete(f"{sandbox.issuer}/admin/faults", headers=headers)
    assert (
        httpx.post(
            token_url, data={"grant_type": "client_credentials"}, auth=("one", "s")
        ).status_code
        == 200
    )


def test_demo_no_ui_runs_offline_and_cleans_up_on_sigterm() -> None:
    with process("demo", "--no-ui") as (proc, printed):
        workspace = Path(printed["workspace"])
        issuer = printed["issuer"]
        assert workspace.exists()
        metadata = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == issuer
        text = workspace.read_text()
        assert "Telenor SMS Gateway" in text
        assert "client_secret =" not in text
    deadline = time.monotonic() + 10
    while workspace.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not workspace.exists()
    assert proc.returncode == 0


def test_serve_says_what_is_wrong_with_its_port(cli: CliRunner) -> None:
    import socket

    code, _, err = cli("sandbox", "serve", "--port", "99999")
    assert code == 2
    assert "not a port" in err
    assert "Traceback" not in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli("sandbox", "serve", "--port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "choose another --port" in err
    assert out == ""
    code, _, err = cli("sandbox", "serve", "--token-ttl", "-5")
    assert code == 2
    assert "above 0" in err
