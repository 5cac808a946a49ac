"""`credenza completion SHELL`: a completion script for bash, zsh or fish, from the parser."""

from __future__ import annotations

import argparse

from credenza.cli.common import Group

SHELLS = ("bash", "zsh", "fish")


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

    print(shtab.complete(parser, shell=args.shell))
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
