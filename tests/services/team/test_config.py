"""A config a team shares through git: nothing per person in it, each person's own view of
which secrets they hold, their own settings, mergeable additions (issue 12)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from credenza.config.store import ConfigStore
from credenza.sandbox import SandboxServer
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


def test_storing_a_secret_leaves_the_shared_file_alone(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    before = config_path.read_bytes()
    assert cli("secret", "set", APP, "production", stdin="s3cret-value-of-mine")[0] == 0
    assert config_path.read_bytes() == before


def test_a_teammate_without_the_secret_sees_it_is_not_in_their_keyring(
    cli: CliRunner,
    sandbox: SandboxServer,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    add_telenor_via_cli(cli, sandbox)
    _, out, _ = cli("env", "list", APP)
    assert "not in your keyring" not in out
    # The teammate: the same file from git, their own machine state and an empty keyring.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "teammate-state"))
    memory_keyring.entries.clear()
    _, out, _ = cli("env", "list", APP)
    assert "not in your keyring" in out
    code, out, _ = cli("env", "list", APP, "--json")
    assert code == 0
    assert '"secret_age_seconds": null' in out


def test_a_teammates_dashboard_says_not_in_your_keyring(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, memory_keyring: MemoryKeyring
) -> None:
    from credenza.workspace import Workspace

    add_telenor_via_cli(cli, sandbox)
    mine = Workspace.open(config_path)
    assert mine.credentials.stored_at(APP, "production") is not None
    teammate = Workspace(ConfigStore(config_path), mine.secrets)  # no local state of theirs
    assert teammate.credentials.stored_at(APP, "production") is None
    assert teammate.credentials.age(APP, "production") is None


def test_my_own_settings_override_the_shared_ones(
    cli: CliRunner, config_path: Path, tmp_path: Path
) -> None:
    cli("app", "add", "One")
    config_path.write_text(config_path.read_text() + "\n[settings]\nkeyring_timeout = 5.0\n")
    mine = Path(os.environ["XDG_CONFIG_HOME"]) / "credenza" / "settings.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text("[settings]\nkeyring_timeout = 1.5\n")
    from credenza.workspace import Workspace

    assert Workspace.open(config_path).config.settings.keyring_timeout == 1.5
    cli("app", "add", "Two")  # a save keeps the shared value in the shared file
    assert "keyring_timeout = 5.0" in config_path.read_text()
    mine.write_text("[settings]\nkeyring_timeout = 'soon'\n")
    code, _, err = cli("app", "list")
    assert code == 2
    assert "your own settings" in err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_two_people_adding_applications_merge_without_conflict(
    run_cli: Callable[[Path], CliRunner], tmp_path: Path
) -> None:
    repo = tmp_path / "team"
    repo.mkdir()

    def git(*argv: str, cwd: Path = repo) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.no", *argv],
            cwd=cwd, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q", "-b", "main")
    run_cli(repo / "credenza.toml")("app", "add", "Middle")
    git("add", "credenza.toml")
    git("commit", "-qm", "start")
    git("checkout", "-qb", "kari")
    run_cli(repo / "credenza.toml")("app", "add", "Alpha")
    git("commit", "-qam", "kari")
    git("checkout", "-q", "main")
    run_cli(repo / "credenza.toml")("app", "add", "Zulu")
    git("commit", "-qam", "ola")
    git("merge", "-q", "kari", "-m", "merge")  # raises if the two additions conflict
    names = [a.name for a in ConfigStore(repo / "credenza.toml").load().applications]
    assert names == ["Alpha", "Middle", "Zulu"]
    assert sorted(p.name for p in repo.iterdir()) == [".git", "credenza.toml"]
