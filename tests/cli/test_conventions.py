"""CLI conventions users expect from gh and aws-vault: --version, completion for bash, zsh and
fish, help text on every option and examples on every command, removals that ask."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from credenza.cli import build_parser
from tests.conftest import CliRunner


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    found: list[tuple[str, argparse.ArgumentParser]] = []
    stack: list[tuple[str, argparse.ArgumentParser]] = [("credenza", build_parser())]
    while stack:
        name, parser = stack.pop()
        children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not children:
            found.append((name, parser))
        for action in children:
            stack.extend((f"{name} {child}", p) for child, p in action.choices.items())
    return found


def test_every_command_has_examples_and_every_option_has_help() -> None:
    commands = _commands()
    assert len(commands) > 40  # the walk reached the nested commands
    missing_examples = [
        name for name, parser in commands if "examples:" not in (parser.epilog or "")
    ]
    assert missing_examples == []
    missing_help = [
        f"{name} {action.option_strings or action.dest}"
        for name, parser in commands
        for action in parser._actions
        if not action.help
    ]
    assert missing_help == []


def test_every_remove_takes_yes() -> None:
    removes = [(name, p) for name, p in _commands() if name.endswith(" remove")]
    assert {"credenza app remove", "credenza env remove", "credenza provider remove"} <= {
        name for name, _ in removes
    }
    for name, parser in removes:
        assert any("--yes" in a.option_strings for a in parser._actions), name


def test_version(cli: CliRunner) -> None:
    code, out, _ = cli("--version")
    assert code == 0
    assert out.startswith("credenza ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_every_command_group(cli: CliRunner, shell: str) -> None:
    code, out, _ = cli("completion", shell)
    assert code == 0
    for word in ("provider", "status", "secret", "retire-previous", "basic-encoding", "rfc6749"):
        assert word in out


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_bash_completes_nested_commands_and_choices(cli: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "credenza.bash"
    script.write_text(cli("completion", "bash")[1])

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        program = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            '_shtab_credenza; echo "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            ["bash", "--norc", "-c", program],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    assert complete("credenza", "prov") == ["provider"]
    assert complete("credenza", "provider", "ad") == ["add", "admin-token"]
    assert complete("credenza", "provider", "add", "x", "--basic-encoding", "''") == [
        "rfc6749",
        "raw",
    ]


def test_status_commands_print_typed_json(cli: CliRunner) -> None:
    import json

    code, out, _ = cli("keyring", "status", "--json")
    assert code == 0
    assert json.loads(out)["kind"] in ("system", "file")
    code, out, _ = cli("agent", "status", "--json")
    data = json.loads(out)
    assert data["running"] is (code == 0)
    assert isinstance(data["tokens"], int)


def test_no_command_off_a_terminal_prints_every_command_group(cli: CliRunner) -> None:
    # With no command credenza opens the dashboard, which registers no group; without a
    # terminal there is no dashboard, and the help it prints lists every command.
    code, out, err = cli()
    assert code == 2
    assert out == ""
    for command in ("ui", "app", "env", "secret", "token", "agent", "status", "completion"):
        assert f"\n    {command} " in err
