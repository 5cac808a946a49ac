"""Machine settings (keyring, keyring_timeout, agent, ca_bundle, the plaintext opt-in) are each
person's own: setters write the per-user settings file, never the shared config, and a teammate's
choice found in the shared config says where it came from and how to override it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from credenza.config.local import user_settings_path
from credenza.config.model import Settings
from credenza.sandbox import SandboxServer
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


@pytest.fixture
def teammate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A teammate's machine: no file keyring of theirs, no passphrase in the environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "teammate-data"))
    monkeypatch.delenv(PASSPHRASE_VARIABLE, raising=False)


def mine() -> dict[str, object]:
    settings: dict[str, object] = tomllib.loads(user_settings_path().read_text())["settings"]
    return settings


def test_a_file_keyring_from_a_teammates_config_names_the_config_and_the_way_out(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, teammate: None
) -> None:
    add_telenor_via_cli(cli, sandbox)
    # The colleague's clone: an older credenza wrote their `keyring use file` into the config.
    config_path.write_text(config_path.read_text() + '\n[settings]\nkeyring = "file"\n')
    shared = config_path.read_bytes()

    code, out, err = cli("secret", "set", APP, "production", stdin="a-new-secret-value")
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1  # one message
    assert str(config_path) in err
    assert "shared config" in err
    assert "`credenza keyring use system`" in err
    assert config_path.read_bytes() == shared

    code, _, err = cli("keyring", "use", "system")
    assert code == 0, err
    assert mine() == {"keyring": "system"}
    # Every command now works on this person's desktop keyring (the memory one stands in).
    assert cli("env", "list", APP)[0] == 0
    code, _, err = cli("secret", "set", APP, "production", stdin="a-new-secret-value")
    assert code == 0, err
    code, _, err = cli("keyring", "status")
    assert code == 0, err
    assert "file" not in err
    assert cli("status")[0] in (0, 1)  # 1: something needs attention, not a keyring error
    assert config_path.read_bytes() == shared


def test_after_keyring_use_system_a_token_comes_from_the_desktop_keyring(
    cli: CliRunner,
    sandbox: SandboxServer,
    config_path: Path,
    teammate: None,
    memory_keyring: MemoryKeyring,
) -> None:
    add_telenor_via_cli(cli, sandbox)
    config_path.write_text(config_path.read_text() + '\n[settings]\nkeyring = "file"\n')
    shared = config_path.read_bytes()
    code, _, err = cli("token", APP)
    assert code == 3
    assert "`credenza keyring use system`" in err
    assert cli("keyring", "use", "system")[0] == 0
    code, out, err = cli("token", APP)
    assert code == 0, err
    assert out.strip()
    assert any("token" in name for _, name in memory_keyring.entries)
    assert config_path.read_bytes() == shared


def test_keyring_use_file_leaves_the_shared_config_byte_identical(
    cli: CliRunner, config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "a long passphrase for this box")
    cli("app", "add", "Shared")
    shared = config_path.read_bytes()
    code, _, err = cli("keyring", "use", "file")
    assert code == 0, err
    assert config_path.read_bytes() == shared
    assert mine() == {"keyring": "file"}
    code, _, err = cli("keyring", "status")
    assert code == 0, err
    assert str(tmp_path / "data" / "credenza" / "keyring.enc") in err
    assert cli("keyring", "use", "system")[0] == 0
    assert config_path.read_bytes() == shared
    assert mine() == {"keyring": "system"}


def test_my_settings_then_the_config_then_the_defaults(tmp_path: Path) -> None:
    from credenza.config.local import machine_setting_sources

    config = tmp_path / "credenza.toml"
    user = tmp_path / "settings.toml"
    shared = Settings(keyring="file", agent="off", keyring_timeout=9.0)
    user.write_text('[settings]\nkeyring = "system"\n')
    sources = machine_setting_sources(shared, config, user)
    assert (sources["keyring"].value, sources["keyring"].origin) == ("system", "yours")
    assert (sources["agent"].value, sources["agent"].origin) == ("off", "config")
    assert sources["agent"].path == config
    assert (sources["ca_bundle"].value, sources["ca_bundle"].origin) == (None, "default")
    assert 'keyring = "system" (from your own settings' in sources["keyring"].describe()


def test_a_ca_bundle_path_from_a_teammates_machine_says_where_it_came_from(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, tmp_path: Path
) -> None:
    add_telenor_via_cli(cli, sandbox)
    missing = "/home/colleague/corp-ca.pem"
    config_path.write_text(config_path.read_text() + f'\n[settings]\nca_bundle = "{missing}"\n')
    shared = config_path.read_bytes()
    assert cli("env", "list", APP)[0] == 0  # offline commands need no CA
    code, _, err = cli("token", APP)
    assert code == 2
    assert missing in err
    assert str(config_path) in err
    assert "`credenza settings set ca_bundle" in err
    assert cli("settings", "set", "ca_bundle", "system")[0] == 0
    code, out, err = cli("token", APP)
    assert code == 0, err
    assert out.strip()
    code, out, _ = cli("settings", "show", "--json")
    assert code == 0
    assert '"origin": "yours"' in out
    assert config_path.read_bytes() == shared


def test_settings_set_writes_only_my_file_and_refuses_bad_values(
    cli: CliRunner, config_path: Path
) -> None:
    cli("app", "add", "Shared")
    shared = config_path.read_bytes()
    assert cli("settings", "set", "agent", "off")[0] == 0
    assert cli("settings", "set", "keyring_timeout", "12")[0] == 0
    assert mine() == {"agent": "off", "keyring_timeout": 12.0}
    code, _, err = cli("settings", "set", "keyring_timeout", "nan")
    assert code == 2
    assert "Traceback" not in err
    code, _, err = cli("settings", "set", "ca_bundle", os.path.join("nowhere", "ca.pem"))
    assert code == 2
    assert mine() == {"agent": "off", "keyring_timeout": 12.0}
    assert cli("settings", "unset", "agent")[0] == 0
    assert mine() == {"keyring_timeout": 12.0}
    assert config_path.read_bytes() == shared


def test_a_file_keyring_from_the_config_that_will_not_open_names_its_source_too(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, tmp_path: Path, teammate: None
) -> None:
    from credenza.secrets.backends.filekeyring import FileKeyring

    add_telenor_via_cli(cli, sandbox)
    # A file keyring is there (this person's, or left by someone), with a passphrase not given.
    path = tmp_path / "teammate-data" / "credenza" / "keyring.enc"
    made = FileKeyring(path, passphrase=lambda prompt, new: "theirs", cost=2**10, use_agent=False)
    made.prepare()
    made.create()
    config_path.write_text(config_path.read_text() + '\n[settings]\nkeyring = "file"\n')
    shared = config_path.read_bytes()
    os.environ[PASSPHRASE_VARIABLE] = "not theirs"
    try:
        code, _, err = cli("token", APP)
    finally:
        del os.environ[PASSPHRASE_VARIABLE]
    assert code == 3
    assert "does not open the file keyring" in err
    assert f"shared config {config_path}" in err
    assert "`credenza keyring use system`" in err
    assert config_path.read_bytes() == shared
