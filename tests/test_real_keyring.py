"""The secret store and one CLI flow against a real Secret Service (gnome-keyring), not a fake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from credenza.errors import KeyringLockedError, SecretMissingError
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret as SecretValue
from credenza.secrets import SecretStore
from tests import secret_service

pytestmark = pytest.mark.skipif(
    not secret_service.available() and not os.environ.get("CI"),
    reason="gnome-keyring and dbus-daemon are not installed (.ci/run installs them)",
)
CANARY = "cAnArY-9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f"


@pytest.fixture(scope="module")
def secret_service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service.private_secret_service(tmp_path_factory.mktemp("secret-service")) as env:
        yield env


@pytest.fixture
def real_store(secret_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    from keyring.backends import SecretService

    for key, value in secret_service_env.items():
        monkeypatch.setenv(key, value)
    return SecretStore(SecretService.Keyring(), timeout=5)


def test_round_trip_chunked_values_and_delete(real_store: SecretStore) -> None:
    real_store.set_client_secret(
        "app", "production", SecretValue(CANARY), origin="https://id.example"
    )
    assert real_store.get_client_secret("app", "production").secret.reveal() == CANARY
    big = "eyJ" + "y" * 4093
    real_store.set_raw("app/production/token:", big)
    assert real_store.get_raw("app/production/token:") == big
    real_store.delete_raw("app/production/token:")
    real_store.delete_client_secret("app", "production")
    with pytest.raises(SecretMissingError):
        real_store.get_client_secret("app", "production")
    assert real_store.get_raw("app/production/token:") is None


def test_a_locked_collection_is_a_clear_error_not_a_hang(
    real_store: SecretStore, secret_service_env
) -> None:
    import secretstorage

    connection = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(connection)
    collection.lock()
    try:
        with pytest.raises(KeyringLockedError, match="locked"):
            real_store.set_client_secret("app", "sandbox", SecretValue(CANARY), origin=None)
    finally:
        # Unlock for the next tests, feeding the password as gnome-keyring's unlock prompt would.
        subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--replace", "--components=secrets"],
            input=secret_service.PASSWORD,
            env={**os.environ},
            capture_output=True,
            check=False,
        )
        connection.close()


def test_a_cli_flow_keeps_the_secret_only_in_the_keyring(
    secret_service_env: dict[str, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    client = sandbox.state.add_client(
        {"client_id": "real-prod", "client_secret": CANARY, "scope": "read"}
    )
    env = {
        **os.environ,
        **secret_service_env,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
        "CREDENZA_CONFIG": str(tmp_path / "config" / "credenza.toml"),
        "CREDENZA_AGENT_SOCKET": str(tmp_path / "no-agent.sock"),
    }

    def credenza(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "credenza", *argv],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    steps = [
        credenza("app", "add", "Real"),
        credenza(
            "env",
            "add",
            "real",
            "production",
            "--client-id",
            "real-prod",
            "--issuer",
            sandbox.issuer,
        ),
        credenza("secret", "set", "real", "production", stdin=client.client_secret),
        credenza("token", "real"),
        credenza("token", "real"),
        credenza("revoke", "real", "--env", "production"),
        credenza("app", "remove", "real", "--yes"),
    ]
    for step in steps:
        assert step.returncode == 0, step.stderr
    token = steps[3].stdout.strip()
    assert steps[4].stdout.strip() == token  # the cached token, from the real keyring
    printed = "".join(
        step.stdout + step.stderr for step in steps if step is not steps[3] and step is not steps[4]
    )
    assert CANARY not in printed
    assert token not in printed
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert CANARY not in text
            assert token not in text


@pytest.mark.skipif(
    not secret_service.xvfb_available() and not os.environ.get("CI"), reason="needs Xvfb and gcr"
)
def test_a_locked_keyring_with_a_live_prompter_gives_up_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a display, unlocking may open a dialog nobody answers (keyring would wait for ever) or
    be refused at once; either way the call ends in a "keyring locked" error, never a hang."""
    import secretstorage
    from keyring.backends import SecretService

    with (
        secret_service.virtual_display() as display,
        secret_service.private_secret_service(tmp_path, display=display) as env,
    ):
        for key, value in {**env, "DISPLAY": display}.items():
            monkeypatch.setenv(key, value)
        connection = secretstorage.dbus_init()
        secretstorage.get_default_collection(connection).lock()
        store = SecretStore(SecretService.Keyring(), timeout=1.0)
        with pytest.raises(KeyringLockedError, match=r"is locked|did not answer within 1 s"):
            store.get_raw("app/production/client_secret")
        connection.close()
