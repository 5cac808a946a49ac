"""The secret store and one CLI flow against a real Secret Service (gnome-keyring), not a fake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def _backend(kind: str) -> object:
    """credenza's own one-session Secret Service backend, or keyring's (one session a call)."""
    if kind == "direct":
        from credenza.secrets.backends.secretservice import SecretServiceKeyring

        found = SecretServiceKeyring.shared(timeout=5)
        assert found is not None
        return found
    from keyring.backends import SecretService

    return SecretService.Keyring()  # type: ignore[no-untyped-call]


@pytest.fixture(params=["direct", "keyring"])
def real_store(
    secret_service_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> SecretStore:
    for key, value in secret_service_env.items():
        monkeypatch.setenv(key, value)
    return SecretStore(_backend(request.param), timeout=5)


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
    real_store: SecretStore, secret_service_env: dict[str, str]
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
    # The daemon was replaced: a long-lived store opens a new session and carries on.
    real_store.set_raw("app/after/client_secret", "still works")
    assert real_store.get_raw("app/after/client_secret") == "still works"


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
@pytest.mark.parametrize("kind", ["direct", "keyring"])
def test_a_locked_keyring_with_a_live_prompter_gives_up_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """With a display, unlocking may open a dialog nobody answers (keyring would wait for ever) or
    be refused at once; either way the call ends in a "keyring locked" error, never a hang."""
    import secretstorage

    with (
        secret_service.virtual_display() as display,
        secret_service.private_secret_service(tmp_path, display=display) as env,
    ):
        for key, value in {**env, "DISPLAY": display}.items():
            monkeypatch.setenv(key, value)
        connection = secretstorage.dbus_init()
        secretstorage.get_default_collection(connection).lock()
        store = SecretStore(_backend(kind), timeout=1.0)
        started = time.monotonic()
        with pytest.raises(KeyringLockedError, match=r"is locked|did not answer within 1 s"):
            store.get_raw("app/production/client_secret")
        assert time.monotonic() - started < 1.0 + 1.0  # SECURITY.md 9: deadline + 1 s
        connection.close()


MANY_OPERATIONS = """
from credenza.secrets import SecretStore
store = SecretStore(timeout=5)
for number in range(15):
    store.set_raw(f"app/env{number}/client_secret", f"secret-{number}")
    store.set_raw(f"app/env{number}/token:", "eyJ" + "t" * 5000)
for number in range(15):
    assert store.get_raw(f"app/env{number}/client_secret") == f"secret-{number}"
names = [f"app/env{number}/token:" for number in range(15)]
assert all(value == "eyJ" + "t" * 5000 for value in store.get_many(names).values())
other = SecretStore(timeout=5)  # a second store in the same process (as the dashboard has)
for number in range(15):
    other.delete_raw(f"app/env{number}/client_secret")
print(store.backend.label)
"""


def test_one_process_opens_one_secret_service_session_for_many_calls(
    secret_service_env: dict[str, str],
) -> None:
    env = {**os.environ, **secret_service_env}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    with secret_service.BusMonitor(secret_service_env["DBUS_SESSION_BUS_ADDRESS"]) as monitor:
        result = subprocess.run(
            [sys.executable, "-c", MANY_OPERATIONS],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "Secret Service" in result.stdout  # the direct backend, not keyring's
    assert monitor.count("OpenSession") == 1
    assert len(monitor.senders()) == 1  # one connection
    assert monitor.count("CreateItem") >= 30  # the calls really went through the bus
    # Sanity check that the monitor sees keyring's own backend open one session per call.
    with secret_service.BusMonitor(secret_service_env["DBUS_SESSION_BUS_ADDRESS"]) as monitor:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from keyring.backends import SecretService; k = SecretService.Keyring()\n"
                "for n in range(3): k.get_password('credenza', 'app/env1/token:')",
            ],
            env=env,
            check=True,
        )
    assert monitor.count("OpenSession") == 3
