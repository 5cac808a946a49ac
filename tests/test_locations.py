"""Every path credenza uses comes from locations.py, equal to what platformdirs computes, and the
`credenza token` fast path and the full CLI agree on the default config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from credenza import locations
from credenza.agent import protocol
from credenza.config.cache import ParsedConfigCache
from credenza.config.keep import keep_path
from credenza.config.local import state_path, user_settings_path
from credenza.config.store import ConfigStore
from credenza.secrets.backends.filekeyring import default_path
from credenza.services.credential_lock import lock_directory
from credenza.services.preferences import default_preferences_path
from credenza.workspace import default_config_path

XDG = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")
KINDS = ("config", "state", "cache", "data")


def _variant(name: str, base: Path) -> dict[str, str | None]:
    """The environment of one variant: None unsets a variable."""
    home = str(base / "home")
    unset: dict[str, str | None] = dict.fromkeys(XDG)
    absolute = {variable: str(base / variable.lower()) for variable in XDG}
    variants: dict[str, dict[str, str | None]] = {
        "unset": {**unset, "HOME": home},
        "absolute": {**absolute, "HOME": home},
        "trailing slash": {**{k: v + "/" for k, v in absolute.items()}, "HOME": home},
        "empty": {**dict.fromkeys(XDG, ""), "HOME": home},
        # platformdirs counts an XDG variable only when it is an absolute path, as is.
        "relative": {**dict.fromkeys(XDG, "relative/dir"), "HOME": home},
        "leading space": {**{k: " " + v for k, v in absolute.items()}, "HOME": home},
        "tilde": {**dict.fromkeys(XDG, "~/xdg"), "HOME": home},
        "some set": {**unset, "XDG_CONFIG_HOME": absolute["XDG_CONFIG_HOME"], "HOME": home},
        # A relative $HOME is ignored (the password database's home), as platformdirs does.
        "relative home": {**unset, "HOME": "not/absolute"},
        "no home": {**unset, "HOME": None},
        "root home": {**unset, "HOME": "/"},
        # Android's variables with a shell: platformdirs still uses its Unix rules.
        "android shell": {
            **unset,
            "HOME": home,
            "ANDROID_DATA": "/data",
            "ANDROID_ROOT": "/system",
            "SHELL": "/bin/sh",
        },
    }
    return variants[name]


VARIANTS = (
    "unset",
    "absolute",
    "trailing slash",
    "empty",
    "relative",
    "leading space",
    "tilde",
    "some set",
    "relative home",
    "no home",
    "root home",
    "android shell",
)


@pytest.fixture(params=VARIANTS)
def environment(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """One XDG variant in the environment (no CREDENZA_CONFIG), its name returned."""
    monkeypatch.delenv("CREDENZA_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    for variable, value in _variant(request.param, tmp_path).items():
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    return str(request.param)


def _platformdirs(kind: str) -> Path:
    return Path(getattr(platformdirs, f"user_{kind}_dir")("credenza", appauthor=False))


def test_each_user_dir_is_the_one_platformdirs_computes(environment: str) -> None:
    for kind in KINDS:
        assert Path(locations.user_dir(kind)) == _platformdirs(kind), (environment, kind)


def test_every_module_asks_locations_for_the_paths_platformdirs_gave_them(
    environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, state, cache = _platformdirs("config"), _platformdirs("state"), _platformdirs("cache")
    assert default_config_path() == config / "credenza.toml"
    assert user_settings_path() == config / "settings.toml"
    assert default_preferences_path() == config / "preferences.toml"
    assert state_path() == state / "local.toml"
    assert keep_path() == state / "keep.toml"
    assert default_path() == platformdirs.user_data_path("credenza", appauthor=False) / (
        "keyring.enc"
    )
    assert ParsedConfigCache().directory == cache / "config"

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert lock_directory() == state / "credential-locks"
    lock = ConfigStore(tmp_path / "c.toml").lock_path
    assert lock.parent == cache / "credenza" / "locks"
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert lock_directory() == runtime / "credenza" / "credential-locks"
    assert ConfigStore(tmp_path / "c.toml").lock_path == runtime / "credenza" / "locks" / lock.name


def test_the_fast_path_and_the_full_cli_agree_on_the_default_config(environment: str) -> None:
    fast = protocol.config_key(None).rsplit("|", 1)[0]
    assert fast == os.path.realpath(default_config_path()), environment


def test_credenza_config_names_the_config_for_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CREDENZA_CONFIG", "~/team/credenza.toml")
    assert default_config_path() == tmp_path / "team" / "credenza.toml"
    fast = protocol.config_key(None).rsplit("|", 1)[0]
    assert fast == str(tmp_path / "team" / "credenza.toml")


def test_the_agent_socket_is_in_the_runtime_dir_or_a_per_user_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENZA_AGENT_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert locations.agent_socket() == str(tmp_path / "credenza" / "agent.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert locations.agent_socket() == f"/tmp/credenza-{os.getuid()}/credenza/agent.sock"
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "mine.sock"))
    assert locations.agent_socket() == str(tmp_path / "mine.sock")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="platformdirs decides elsewhere")
def test_the_paths_import_neither_platformdirs_nor_pathlib_on_linux() -> None:
    code = (
        "import sys; from credenza import locations as l; "
        "[l.user_dir(k) for k in ('config', 'state', 'cache', 'data')]; "
        "l.config_file(); l.keep_file(); l.local_state_file(); l.user_settings_file(); "
        "l.preferences_file(); l.credential_lock_dir(); l.config_lock_dir(); "
        "l.config_cache_dir(); l.agent_socket(); l.keyring_file(); "
        "print(sorted({'platformdirs', 'pathlib'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
