"""What every command shares: the parser, the APP / ENV / --json arguments, opening the
workspace, running async work, reading secrets and confirmations, and turning errors into exits."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from credenza.cli import output
from credenza.errors import CredenzaError, ValidationError

if TYPE_CHECKING:
    from credenza.workspace import Workspace

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], int]

EXIT_CODES = """\
exit codes:
  0   success
  1   the provider said no (wrong secret, scope not granted, unreachable, provider error)
  2   bad input or config (malformed config file, unknown application, invalid URL)
  3   the keyring is missing, locked or unsafe; the team store is unreachable, sealed or
      refuses (no token, no permission)
  130 interrupted
"""


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line on bad usage, like every other credenza error."""

    def error(self, message: str) -> NoReturn:
        # One line, as every other error: what is wrong and where the usage is.
        self.exit(2, f"credenza: error: {message} (see: {self.prog} --help)\n")


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file (default: $CREDENZA_CONFIG, else the user config directory)",
    )
    return common


class Group:
    """Adds commands under one parent with the shared options, help and exit codes."""

    def __init__(self, subparsers: Any, common: argparse.ArgumentParser) -> None:
        self._subparsers = subparsers
        self._common = common

    def command(
        self, name: str, help_text: str, handler: Handler | None = None, examples: str = ""
    ) -> argparse.ArgumentParser:
        epilog = (f"examples:\n{examples}\n\n" if examples else "") + EXIT_CODES
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[self._common],
        )
        if handler is not None:
            parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help_text: str) -> Group:
        parser = self.command(name, help_text)
        actions = parser.add_subparsers(
            dest=f"{name}_command", metavar="ACTION", required=True, parser_class=Parser
        )
        return Group(actions, self._common)


# -- the arguments every group shares, declared once ------------------------------------------------


def app_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    parser.add_argument(
        "app",
        metavar="APP",
        nargs="?" if optional else None,
        help="the application's id or name",
    )


def env_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env", metavar="ENV", help="the environment (sandbox, production, ...)")


def env_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="the environment (needed when the application has several)")


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


class Once(argparse.Action):
    """An option that may be given once: a second value is an error, never a silent winner."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} may be given once (an application has one)")
        setattr(namespace, self.dest, values)


def yes_option(parser: argparse.ArgumentParser, what: str = "do not ask for confirmation") -> None:
    parser.add_argument("--yes", action="store_true", help=what)


def given(args: argparse.Namespace, *keys: str) -> dict[str, Any]:
    """The fields a command line sets, for a typed change: an option left out is unchanged, an
    empty value clears the field (None), and a repeatable option drops its empty items."""
    fields: dict[str, Any] = {}
    for key in keys:
        value = getattr(args, key, None)
        if isinstance(value, list):
            fields[key] = [item for item in value if item] or None
        elif value is not None:
            fields[key] = value or None
    return fields


# -- plumbing -------------------------------------------------------------------------------------


def guard(handler: Handler, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except CredenzaError as exc:
        output.error(output.problem(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: say so in one line, never a traceback with secrets in it
        if os.environ.get("CREDENZA_DEBUG"):
            raise
        output.error(
            f"internal error ({type(exc).__name__}); run with CREDENZA_DEBUG=1 for details and report it"
        )
        return 70


def open_workspace(args: argparse.Namespace) -> Workspace:
    from credenza.workspace import Workspace

    workspace = Workspace.open(getattr(args, "config", None), warn=output.warn)
    for warning in workspace.warnings:
        output.warn(warning)
    return workspace


def missing_secret(workspace: Workspace) -> str:
    """What a listing says for an environment whose secret is not there."""
    return "not in the team store" if workspace.config.team is not None else "not in your keyring"


def run_async(workspace: Workspace, coroutine: Coroutine[Any, Any, T]) -> T:
    import asyncio  # here: commands that never await (help, offline ones, a token) skip ~30 ms
    import gc

    # What start-up imported and built lives until the command exits: the collector need not
    # walk it again on every full collection while the command's calls run.
    gc.freeze()

    async def wrapper() -> T:
        try:
            return await coroutine
        finally:
            await workspace.aclose()

    return asyncio.run(wrapper())


def secret_from_env(variable: str, what: str = "the secret", *, empty_ok: bool = False) -> str:
    """A secret from the environment variable the user named (never from argv): the one way
    every `--…-env VAR` option reads one, with one message when it is missing."""
    value = os.environ.get(variable)
    if value is None or (not value and not empty_ok):
        raise ValidationError(
            f"the environment variable {variable} is not set",
            hint=f"put {what} in it (never on the command line)",
        )
    return value


def read_secret(args: argparse.Namespace, prompt: str) -> str:
    """From a named variable, stdin, or a hidden prompt; never from argv."""
    variable = getattr(args, "from_env", None)
    if variable:
        return secret_from_env(variable, empty_ok=True)
    if sys.stdin is None or not sys.stdin.isatty():
        data = sys.stdin.read() if sys.stdin else ""
        return data[:-1] if data.endswith("\n") else data
    import getpass

    return getpass.getpass(prompt, stream=sys.stderr)


def confirm(question: str) -> bool:
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    answer = input(output.shown(question))  # config text in a question: through the one door
    return answer.strip().lower() in ("y", "yes")


def confirm_removal(args: argparse.Namespace, question: str) -> None:
    """Every ``remove`` agrees: asks at a terminal, takes --yes, refuses off a TTY without it."""
    if args.yes:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise ValidationError(
            "not removed: confirm with --yes when not at a terminal", hint="add --yes"
        )
    if not confirm(f"{question} [y/N] "):
        raise ValidationError("not removed")
