"""Choosing a keyring: the no-keyring error leads to one command, and that command works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE

CANARY = "cAnArY-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e"


def test_a_headless_box_follows_the_advice_to_the_file_keyring(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CREDENZA_CONFIG": str(tmp_path / "config" / "credenza.toml"),
        "CREDENZA_AGENT_SOCKET": str(tmp_path / "no-agent.sock"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        # No Secret Service, and keyring finds nothing: what an SSH session or a container has.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        PASSPHRASE_VARIABLE: "a long passphrase for a headless box",
    }
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    def credenza(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "credenza", *argv],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
        )

    assert credenza("app", "add", "Headless").returncode == 0
    assert (
        credenza(
            "env",
            "add",
            "headless",
            "production",
            "--client-id",
            "headless-prod",
            "--token-url",
            "https://id.example/token",
        ).returncode
        == 0
    )
    refused = credenza("secret", "set", "headless", "production", stdin=CANARY)
    assert refused.returncode == 3
    assert "fail.Keyring" in refused.stderr  # names the backend
    assert "`credenza keyring use file`" in refused.stderr
    assert "cryptfile" not in refused.stderr  # nothing credenza would then refuse

    switched = credenza("keyring", "use", "file")
    assert switched.returncode == 0, switched.stderr
    assert "created the encrypted file keyring" in switched.stderr
    keyring_file = tmp_path / "data" / "credenza" / "keyring.enc"
    assert keyring_file.exists()
    # This machine's choice, in this person's own settings: never in the shared config.
    assert 'keyring = "file"' not in (tmp_path / "config" / "credenza.toml").read_text()
    mine = Path(env["XDG_CONFIG_HOME"]) / "credenza" / "settings.toml"
    assert 'keyring = "file"' in mine.read_text()

    stored = credenza("secret", "set", "headless", "production", stdin=CANARY)
    assert stored.returncode == 0, stored.stderr
    status = credenza("keyring", "status")
    assert status.returncode == 0
    assert str(keyring_file) in status.stderr
    assert CANARY.encode() not in keyring_file.read_bytes()

    env[PASSPHRASE_VARIABLE] = "not the passphrase"
    wrong = credenza("keyring", "status")
    assert wrong.returncode == 3
    assert "does not open the file keyring" in wrong.stderr
    assert "Traceback" not in wrong.stderr
