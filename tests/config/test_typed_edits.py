"""Edits are typed: one validation for the file, the CLI and the forms; nothing credenza writes
can fail to load; '' clears an optional field; the config path and names are checked (issue 9)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.store import ConfigStore, parse_config
from credenza.errors import ConfigError, ValidationError
from credenza.sandbox import SandboxServer
from credenza.workspace import Workspace
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


def _loads(config_path: Path) -> None:
    # What every later command does first: parse and validate the file.
    parse_config(config_path.read_bytes(), str(config_path))


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["env", "edit", APP, "production", "--introspection-url", ""], "introspection_url"),
        (["env", "edit", APP, "production", "--revocation-url", ""], "revocation_url"),
        (["env", "edit", APP, "production", "--scope", ""], "scopes"),
        (["env", "edit", APP, "production", "--audience", ""], "audience"),
        (["app", "edit", APP, "--url", ""], "url"),
        (["app", "edit", APP, "--description", ""], "description"),
    ],
)
def test_an_empty_value_clears_the_field_and_the_config_still_loads(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, argv: list[str], field: str
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("app", "edit", APP, "--url", "https://sms.example.no", "--description", "texts")
    cli("env", "edit", APP, "production", "--audience", "sms", "--introspection-url",
        f"{sandbox.issuer}/oauth/token/introspection")  # fmt: skip
    code, _, err = cli(*argv)
    assert code == 0, err
    _loads(config_path)
    application = ConfigStore(config_path).load().applications[0]
    record = application if argv[0] == "app" else application.environments["production"]
    assert getattr(record, field) in (None, [], ())  # cleared: back to the default
    # Every later command still works.
    assert cli("app", "show", APP)[0] == 0
    assert cli("env", "list", APP)[0] == 0


def test_scopes_are_added_and_removed_one_by_one(cli: CliRunner, sandbox: SandboxServer) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("env", "edit", APP, "production", "--scope", "a", "--scope", "b")
    cli("env", "edit", APP, "production", "--add-scope", "c", "--remove-scope", "a")
    _, out, _ = cli("env", "list", APP, "--json")
    assert json.loads(out)[0]["scopes"] == ["b", "c"]


def test_a_param_is_added_and_removed(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path
) -> None:
    add_telenor_via_cli(cli, sandbox)
    cli("env", "edit", APP, "production", "--param", "tenant=42", "--param", "region=eu")
    cli("env", "edit", APP, "production", "--param", "tenant=")
    params = ConfigStore(config_path).load().applications[0].environments["production"]
    assert params.extra_params == {"region": "eu"}


@pytest.mark.parametrize(
    "argv",
    [
        # ("two words" is two scopes since the CLI splits as the form does; a quote is no scope)
        ["env", "edit", APP, "production", "--scope", 'a"quote'],
        ["env", "edit", APP, "production", "--token-url", "not a url"],
        ["env", "edit", APP, "production", "--client-id", ""],
        ["app", "edit", APP, "--owner", "not-an-email"],
        ["app", "edit", APP, "--callback-url", "ftp://example.no"],
        ["app", "edit", APP, "--name", "  "],
    ],
)
def test_an_edit_the_loader_would_refuse_is_refused_and_changes_nothing(
    cli: CliRunner, sandbox: SandboxServer, config_path: Path, argv: list[str]
) -> None:
    add_telenor_via_cli(cli, sandbox)
    before = config_path.read_bytes()
    code, _, err = cli(*argv)
    assert code == 2
    assert "Traceback" not in err
    assert config_path.read_bytes() == before


def test_a_scope_list_with_an_empty_scope_is_a_config_error_not_a_crash(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[applications]]\nid = "a"\nname = "A"\n'
        '[applications.environments.production]\nclient_id = "x"\nscopes = [""]\n'
    )
    with pytest.raises(ConfigError, match="scopes"):
        ConfigStore(path).load()


def test_names_are_unique_whatever_their_case(cli: CliRunner, config_path: Path) -> None:
    assert cli("app", "add", "Same")[0] == 0
    code, _, err = cli("app", "add", "same")
    assert code == 2
    assert "already exists" in err
    assert "app edit" in err
    config_path.write_text(
        config_path.read_text() + '\n[[applications]]\nid = "same-2"\nname = "SAME"\n'
    )
    code, _, err = cli("app", "list")
    assert code == 2
    assert "duplicate name" in err


def test_a_device_as_config_is_refused_and_left_alone(
    cli: CliRunner, run_cli: Callable[[Path], CliRunner]
) -> None:
    code, _, err = run_cli(Path("/dev/null"))("app", "add", "x")
    assert code == 2
    assert "not a regular file" in err
    assert not Path("/dev/null").is_file()


def test_a_symlinked_config_is_written_through_to_its_target(
    run_cli: Callable[[Path], CliRunner], tmp_path: Path
) -> None:
    target = tmp_path / "dotfiles" / "credenza.toml"
    target.parent.mkdir()
    target.write_text("")
    link = tmp_path / "config" / "credenza.toml"
    link.parent.mkdir()
    link.symlink_to(target)
    assert run_cli(link)("app", "add", "Linked")[0] == 0
    assert link.is_symlink()
    assert "Linked" in target.read_text()


def test_the_save_lock_is_outside_the_config_directory(cli: CliRunner, config_path: Path) -> None:
    assert cli("app", "add", "One")[0] == 0
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["credenza.toml"]


def test_applications_are_written_in_id_order_so_two_additions_merge(
    cli: CliRunner, config_path: Path
) -> None:
    for name in ("Zeta", "Alpha", "Mu"):
        cli("app", "add", name)
    text = config_path.read_text()
    assert text.index('"alpha"') < text.index('"mu"') < text.index('"zeta"')


def test_a_form_opened_before_a_cli_edit_does_not_undo_it(
    workspace: Workspace, cli: CliRunner
) -> None:
    workspace.applications.add("Shared")
    opened = workspace.context.store.digest  # the form opens on this version of the file
    assert cli("app", "edit", "shared", "--description", "from the CLI")[0] == 0
    with pytest.raises(ConfigError, match="changed on disk by another credenza"):
        workspace.applications.edit(
            "shared", ApplicationChange(organisation="from the form"), expected=opened
        )
    workspace.reload()
    assert workspace.applications.get("shared").description == "from the CLI"


def test_typed_changes_refuse_what_the_file_would_refuse(workspace: Workspace) -> None:
    app_id = workspace.applications.add("Typed").id
    workspace.environments.add(app_id, "production", EnvironmentChange(client_id="x"))
    with pytest.raises(ValidationError, match="scope"):
        workspace.environments.edit(app_id, "production", EnvironmentChange(scopes=["a", "a"]))
    with pytest.raises(ValidationError):
        workspace.applications.edit(app_id, ApplicationChange(owners=["nobody"]))
    assert os.path.exists(workspace.context.store.path)


def test_a_removal_that_cannot_be_saved_keeps_the_secret(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credenza.config import store
    from credenza.errors import ConfigWriteError

    app_id = workspace.applications.add("Kept").id
    workspace.environments.add(app_id, "production", EnvironmentChange(client_id="x"))
    workspace.credentials.set(app_id, "production", "a-secret-shown-only-once")

    def full_disk(path: Path, data: bytes) -> None:
        raise ConfigWriteError("could not save: No space left on device")

    monkeypatch.setattr(store, "write_atomic", full_disk)
    with pytest.raises(ConfigWriteError):
        workspace.environments.remove(app_id, "production")
    with pytest.raises(ConfigWriteError):
        workspace.applications.remove(app_id)
    assert workspace.credentials.reveal(app_id, "production").reveal() == (
        "a-secret-shown-only-once"
    )
