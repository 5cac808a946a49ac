"""What a fresh `credenza token` imports on the Secret Service path: none of the async stack or
httpx, no keyring package, no command it does not run (the cost of a script's every call)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer
from tests import secret_service

pytestmark = pytest.mark.skipif(
    not secret_service.available() and not os.environ.get("CI"),
    reason="gnome-keyring and dbus-daemon are not installed (.ci/run installs them)",
)

# Each is tens of milliseconds of imports that a client_credentials token does not need.
NOT_FOR_A_TOKEN = (
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "asyncio",
    "keyring",
    "importlib_metadata",
    "filelock",
    "textual",
    "credenza.services.api_calls",
    "credenza.services.resets",
    "credenza.services.registration",
    "credenza.services.status",
    "credenza.providers.base",
    "credenza.secrets.backends.memory",
    "credenza.secrets.backends.filekeyring",
)


@pytest.fixture(scope="module")
def secret_service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service.private_secret_service(tmp_path_factory.mktemp("secret-service")) as env:
        yield env


def test_a_fresh_token_on_the_secret_service_imports_no_httpx_nor_keyring(
    secret_service_env: dict[str, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    client = sandbox.state.add_client({"scope": "read"})
    env = {
        **os.environ,
        **secret_service_env,
        "CREDENZA_CONFIG": str(tmp_path / "config" / "credenza.toml"),
        "CREDENZA_AGENT_SOCKET": str(tmp_path / "no-agent.sock"),
    }
    env.pop("PYTHON_KEYRING_BACKEND", None)

    def credenza(*argv: str, stdin: str = "") -> None:
        done = subprocess.run(
            [sys.executable, "-m", "credenza", *argv],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    credenza("app", "add", "Real")
    token_url = f"{sandbox.issuer}/oauth/token"
    credenza(
        "env",
        "add",
        "real",
        "production",
        "--client-id",
        client.client_id,
        "--token-url",
        token_url,
    )
    credenza("secret", "set", "real", "production", stdin=client.client_secret)
    code = (
        "import sys\n"
        "from credenza.__main__ import main\n"
        "code = main(['token', 'real', '--env', 'production', '--no-cache'])\n"
        f"heavy = [m for m in {NOT_FOR_A_TOKEN!r} if m in sys.modules]\n"
        "print(' '.join(heavy))\n"
        "print('credenza.secrets.backends.secretservice' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    before = len(sandbox.state.requests)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    token, heavy, on_secret_service = result.stdout.split("\n")[:3]
    assert token
    assert len(sandbox.state.requests) == before + 1  # fetched, over the network
    assert on_secret_service == "True"
    assert heavy == ""
