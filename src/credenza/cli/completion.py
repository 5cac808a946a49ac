"""`credenza completion SHELL`: a completion script for bash, zsh or fish, from the parser, and
the names it completes (applications, environments) read from the config at Tab."""

from __future__ import annotations

import argparse
import sys

from credenza.cli.common import Group

SHELLS = ("bash", "zsh", "fish")
# The hidden command the scripts run at Tab: `credenza __complete apps|envs [--config PATH]`.
NAMES_COMMAND = "__complete"
_KINDS = {"APP": "apps", "ENV": "envs"}


def register(commands: Group) -> None:
    completion = commands.command(
        "completion",
        "print a shell completion script for bash, zsh or fish",
        cmd_completion,
        "  credenza completion bash > ~/.local/share/bash-completion/completions/credenza\n"
        '  credenza completion zsh > "${fpath[1]}/_credenza"\n'
        "  credenza completion fish > ~/.config/fish/completions/credenza.fish",
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def cmd_completion(args: argparse.Namespace) -> int:
    from credenza.cli import build_parser

    parser = build_parser()
    if args.shell == "fish":
        print(fish_script(parser))
        return 0
    import shtab

    for action in _name_arguments(parser):
        action.complete = shtab.cmd(  # type: ignore[attr-defined]
            f"credenza {NAMES_COMMAND} {_KINDS[str(action.metavar)]} 2>/dev/null"
        )
    print(shtab.complete(parser, shell=args.shell))
    return 0


def _name_arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every APP and ENV positional of every command, for completion from the config."""
    found = [
        action
        for action in parser._actions
        if not action.option_strings and str(action.metavar) in _KINDS
    ]
    for child in _subcommands(parser).values():
        found += _name_arguments(child)
    return found


def print_names(argv: list[str]) -> int:
    """`credenza __complete apps|envs`: the application ids, or every environment name, one per
    line; nothing (and exit 0) when the config does not load: Tab must never print an error."""
    kind = argv[0] if argv else ""
    config = None
    if "--config" in argv[:-1]:
        config = argv[argv.index("--config") + 1]
    try:
        from pathlib import Path

        from credenza.config.store import ConfigStore
        from credenza.workspace import default_config_path

        loaded = ConfigStore(Path(config) if config else default_config_path()).load()
    except Exception:  # Tab prints nothing rather than an error, whatever went wrong
        return 0
    if kind == "apps":
        names = [application.id for application in loaded.applications]
    elif kind == "envs":
        names = sorted({name for a in loaded.applications for name in a.environments})
    else:
        return 0
    # Names with a space or a control character cannot be one shell word: left out.
    sys.stdout.write("".join(f"{n}\n" for n in names if n.isprintable() and " " not in n))
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    return (parser.description or "").replace("'", "\\'")


def fish_script(parser: argparse.ArgumentParser) -> str:
    """fish completions: each level's commands once its parent is typed, then their options."""
    lines = [
        "# credenza completions for fish (credenza completion fish)",
        "complete -c credenza -f",
    ]

    def walk(node: argparse.ArgumentParser, path: list[str]) -> None:
        children = _subcommands(node)
        if path:
            condition = "; and ".join(f"__fish_seen_subcommand_from {word}" for word in path)
        else:
            condition = "__fish_use_subcommand"
        siblings = " ".join(children)
        for name, child in children.items():
            guard = (
                f"{condition}; and not __fish_seen_subcommand_from {siblings}"
                if path
                else condition
            )
            lines.append(f"complete -c credenza -n '{guard}' -a {name} -d '{_help(child)}'")
            walk(child, [*path, name])
        if path and not children:
            kinds = {_KINDS[str(a.metavar)] for a in _name_arguments(node)}
            for kind in sorted(kinds):
                lines.append(
                    f"complete -c credenza -n '{condition}' "
                    f"-a '(credenza {NAMES_COMMAND} {kind} 2>/dev/null)'"
                )
            for action in node._actions:
                for option in action.option_strings:
                    if option.startswith("--"):
                        described = (action.help or "").replace("'", "\\'")
                        choices = (
                            f" -xa '{' '.join(str(c) for c in action.choices if c)}'"
                            if action.choices
                            else ""
                        )
                        lines.append(
                            f"complete -c credenza -n '{condition}' -l {option[2:]}"
                            f"{choices} -d '{described}'"
                        )

    walk(parser, [])
    return "\n".join(lines)
