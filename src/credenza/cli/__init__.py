"""The command line: one module per command group; each parses, calls the workspace, prints.

stdout carries only what was asked for (a token, a table, JSON); messages go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from credenza.cli.common import EXIT_CODES, Group, Handler, Parser, common_options, guard

# Each group registers its commands; a new command group is one module and one entry here.
GROUPS = (
    "sandbox",
    "app",
    "env",
    "secret",
    "team",
    "token",
    "login",
    "agent",
    "keyring",
    "workspace",
    "settings",
    "doctor",
    "forget",
    "contract",
    "status",
    "provider",
    "importing",
    "completion",
    "api",
)


# The commands scripts call in loops, and their group: when one of them is the command, only that
# group is registered (the other twelve are ~7 ms of argparse on every call).
_SCRIPTED = {"token": "token", "token-inspect": "token", "exec": "token", "verify": "token"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command group, or only the group named ``only``."""
    import importlib

    common = common_options()
    parser = Parser(
        prog="credenza",
        description="OAuth2 client credentials across API providers: a dashboard and a CLI.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    commands = Group(
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser), common
    )
    for name in GROUPS if only is None else (only,):
        register: Callable[[Group], None] = importlib.import_module(f"credenza.cli.{name}").register
        register(commands)
    return parser


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("credenza")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class _Version(argparse.Action):
    """--version, looked up only when asked: importlib.metadata is ~10 ms of every command."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"credenza {version()}")
        parser.exit()


def _command_at(argv: list[str]) -> int:
    """Where the command word is: after the one option that may precede it (--config PATH)."""
    at = 0
    while at < len(argv) and argv[at].startswith("-"):
        at += 1 if "=" in argv[at] else 2
    return at


def _token_inspect(argv: list[str]) -> list[str]:
    """`credenza token inspect APP` is the `token-inspect` command (`token` takes APP itself)."""
    at = _command_at(argv)
    if argv[at : at + 1] == ["token"] and len(argv) > at + 2 and argv[at + 1] == "inspect":
        return [*argv[:at], "token-inspect", *argv[at + 2 :]]
    return argv


def run(argv: Sequence[str]) -> int:
    argv = _token_inspect(list(argv))
    at = _command_at(argv)
    if argv[at : at + 1] == ["__complete"]:  # what a completion script asks at Tab
        from credenza.cli.completion import print_names

        return print_names([*argv[at + 1 :], *argv[:at]])
    if at < len(argv):
        parser = build_parser(_SCRIPTED.get(argv[at]))
    elif {"-h", "--help"} & set(argv):
        parser = build_parser()
    else:
        # No command: the dashboard, which needs none of the groups (registering all twelve
        # others imports their modules: ~40 ms of its first frame). The help below has them.
        parser = build_parser("sandbox")
    command: list[str] = []
    if "exec" in argv and "--" in argv[argv.index("exec") :]:
        split = argv.index("--", argv.index("exec"))
        argv, command = argv[:split], argv[split + 1 :]
    try:
        args = parser.parse_args(argv)
        if command:
            args.command = command
    except SystemExit as exit_:  # --help, or a usage error already reported in one line
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        if args.command is None and sys.stdin.isatty() and sys.stdout.isatty():
            from credenza.cli.sandbox import cmd_ui

            return guard(cmd_ui, args)
        build_parser().print_help(sys.stderr)
        return 2
    return guard(handler, args)
