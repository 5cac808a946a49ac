"""The command line: argument parsing and output. Thin: it calls the Workspace and formats results.

stdout carries only what was asked for (a token, a table, JSON); messages go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

from credenza.errors import CredenzaError, ValidationError

if TYPE_CHECKING:
    from credenza.config.model import ContractStatus
    from credenza.workspace import SessionToken, Workspace

T = TypeVar("T")

EXIT_CODES = """\
exit codes:
  0   success
  1   the provider said no (wrong secret, scope not granted, unreachable, provider error)
  2   bad input or config (malformed config file, unknown application, invalid URL)
  3   the keyring is missing, locked or unsafe
  130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line on bad usage, like every other credenza error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"credenza: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file (default: $CREDENZA_CONFIG, else the user config directory)",
    )
    parser = _Parser(
        prog="credenza",
        description="OAuth2 client credentials across API providers: a dashboard and a CLI.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, parent: Any = commands) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )
        return sub

    demo = command(
        "demo", "open the dashboard on a throwaway workspace and a local sandbox provider"
    )
    demo.add_argument(
        "--no-ui",
        action="store_true",
        help="print the workspace and issuer, keep the sandbox running",
    )
    demo.set_defaults(handler=cmd_demo)

    command("ui", "open the dashboard on your workspace").set_defaults(handler=cmd_ui)

    # -- applications
    app = command("app", "applications: add, list, show, edit, remove")
    app_commands = app.add_subparsers(
        dest="app_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    add = command("add", "add an application (only the name is required)", app_commands)
    add.add_argument("name")
    _application_options(add)
    add.set_defaults(handler=cmd_app_add)
    edit = command("edit", "change an application's fields", app_commands)
    edit.add_argument("app", metavar="APP")
    edit.add_argument("--name")
    _application_options(edit)
    edit.set_defaults(handler=cmd_app_edit)
    listing = command("list", "list applications", app_commands)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_app_list)
    show = command(
        "show", "show an application, its environments, contracts and checklist", app_commands
    )
    show.add_argument("app", metavar="APP")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_app_show)
    remove = command("remove", "remove an application and its keyring entries", app_commands)
    remove.add_argument("app", metavar="APP")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(handler=cmd_app_remove)

    # -- environments
    env = command("env", "environments of an application: add, edit, list, discover, remove")
    env_commands = env.add_subparsers(
        dest="env_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    env_add = command("add", "add an environment (sandbox, production, ...)", env_commands)
    env_add.add_argument("app", metavar="APP")
    env_add.add_argument("env", metavar="ENV")
    env_add.add_argument("--client-id", required=True)
    where = env_add.add_mutually_exclusive_group(required=True)
    where.add_argument("--token-url", help="the token endpoint")
    where.add_argument("--issuer", help="discover the endpoints from this issuer (RFC 8414 / OIDC)")
    _environment_options(env_add)
    env_add.set_defaults(handler=cmd_env_add)
    env_edit = command("edit", "change an environment's fields", env_commands)
    env_edit.add_argument("app", metavar="APP")
    env_edit.add_argument("env", metavar="ENV")
    env_edit.add_argument("--client-id")
    env_edit.add_argument("--token-url")
    env_edit.add_argument("--issuer")
    _environment_options(env_edit)
    env_edit.set_defaults(handler=cmd_env_edit)
    env_list = command("list", "list an application's environments", env_commands)
    env_list.add_argument("app", metavar="APP")
    env_list.add_argument("--json", action="store_true")
    env_list.set_defaults(handler=cmd_env_list)
    discover = command("discover", "fill the endpoints from the issuer's metadata", env_commands)
    discover.add_argument("app", metavar="APP")
    discover.add_argument("env", metavar="ENV")
    discover.add_argument("--issuer")
    discover.set_defaults(handler=cmd_env_discover)
    env_remove = command("remove", "remove an environment and its keyring entries", env_commands)
    env_remove.add_argument("app", metavar="APP")
    env_remove.add_argument("env", metavar="ENV")
    env_remove.set_defaults(handler=cmd_env_remove)

    # -- secrets
    secret = command("secret", "client secrets in the OS keyring: set, reset, confirm-endpoint")
    secret_commands = secret.add_subparsers(
        dest="secret_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    secret_set = command(
        "set",
        "store a client secret from a hidden prompt, stdin or a named variable",
        secret_commands,
    )
    secret_set.add_argument("app", metavar="APP")
    secret_set.add_argument("env", metavar="ENV")
    secret_set.add_argument(
        "--from-env", metavar="VAR", help="read the secret from this environment variable"
    )
    secret_set.set_defaults(handler=cmd_secret_set)
    reset = command(
        "reset", "rotate a secret: verified before it replaces the old one", secret_commands
    )
    reset.add_argument("app", metavar="APP")
    reset.add_argument("env", metavar="ENV")
    reset.add_argument(
        "--from-env", metavar="VAR", help="manual providers: the new secret's variable"
    )
    reset.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (not for production)"
    )
    reset.set_defaults(handler=cmd_secret_reset)
    confirm = command(
        "confirm-endpoint",
        "allow the stored secret to go to the environment's new token endpoint",
        secret_commands,
    )
    confirm.add_argument("app", metavar="APP")
    confirm.add_argument("env", metavar="ENV")
    confirm.set_defaults(handler=cmd_secret_confirm)

    # -- tokens
    token = command("token", "print an access token (cached until it nears expiry)")
    token.add_argument("app", metavar="APP")
    token.add_argument("--env")
    token.add_argument(
        "--scope", action="append", default=[], help="request this scope (repeatable)"
    )
    token.add_argument("--format", choices=["raw", "json", "header", "env"], default="raw")
    token.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    token.add_argument("--no-cache", action="store_true", help="always fetch a new token")
    token.set_defaults(handler=cmd_token)

    exec_ = command("exec", "run a command with a token in its environment (never in argv)")
    exec_.add_argument("app", metavar="APP")
    exec_.add_argument("--env")
    exec_.add_argument(
        "--scope", action="append", default=[], help="request this scope (repeatable)"
    )
    exec_.add_argument(
        "--client-credentials",
        action="store_true",
        help="also set CREDENZA_CLIENT_ID and CREDENZA_CLIENT_SECRET (client-id enforcement APIs)",
    )
    # The command after `--` is split off before parsing (argparse.REMAINDER would swallow options).
    exec_.set_defaults(command=[])
    exec_.epilog = (
        "usage: credenza exec APP [--env ENV] [--client-credentials] -- COMMAND [ARGS]...\n\n"
        + EXIT_CODES
    )
    exec_.set_defaults(handler=cmd_exec)

    agent = command(
        "agent", "keep tokens in memory for fast `credenza token` calls (like ssh-agent)"
    )
    agent.add_argument("action", nargs="?", choices=["start", "stop", "status"], default="start")
    agent.add_argument(
        "--idle-timeout", type=float, default=8 * 3600, help="exit after this many idle seconds"
    )
    agent.set_defaults(handler=cmd_agent)

    keyring_ = command("keyring", "which keyring holds secrets and tokens: status, use file|system")
    keyring_.add_argument("action", choices=["status", "use"])
    keyring_.add_argument("kind", nargs="?", choices=["file", "system"])
    keyring_.set_defaults(handler=cmd_keyring)

    verify = command("verify", "check credentials with a live token call")
    verify.add_argument("app", metavar="APP", nargs="?")
    verify.add_argument("--env")
    verify.add_argument("--all", action="store_true", help="every application and environment")
    verify.add_argument("--json", action="store_true")
    verify.add_argument("--concurrency", type=int, default=16)
    verify.set_defaults(handler=cmd_verify)

    revoke = command("revoke", "revoke (or log out) the cached token of an environment")
    revoke.add_argument("app", metavar="APP")
    revoke.add_argument("--env")
    revoke.set_defaults(handler=cmd_revoke)

    # -- contracts
    contract = command("contract", "contracts: list, request, approve, reject, revoke, record")
    contract_commands = contract.add_subparsers(
        dest="contract_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    c_list = command(
        "list",
        "list an application's contracts; * marks the effective one per API",
        contract_commands,
    )
    c_list.add_argument("app", metavar="APP")
    c_list.add_argument("--json", action="store_true")
    c_list.set_defaults(handler=cmd_contract_list)
    c_request = command(
        "request", "request access to an API instance or API group instance", contract_commands
    )
    c_request.add_argument("app", metavar="APP")
    c_request.add_argument("env", metavar="ENV")
    c_request.add_argument("--api", required=True, help="the API or API group name")
    c_request.add_argument("--instance", required=True, help="the instance (sandbox: its id)")
    c_request.add_argument("--tier", help="the SLA tier")
    c_request.add_argument("--group", action="store_true", help="the target is an API group")
    c_request.add_argument(
        "--accept-terms", action="store_true", help="accept the terms and conditions"
    )
    c_request.set_defaults(handler=cmd_contract_request)
    for action, help_text in (
        ("approve", "approve a pending contract (sandbox provider)"),
        ("reject", "reject a pending contract (sandbox provider)"),
        ("revoke", "revoke a contract"),
    ):
        c_action = command(action, help_text, contract_commands)
        c_action.add_argument("app", metavar="APP")
        c_action.add_argument("contract", metavar="CONTRACT_ID")
        c_action.set_defaults(handler=cmd_contract_decide, decision=action)
    record = command(
        "record", "record a decision the provider made in its portal", contract_commands
    )
    record.add_argument("app", metavar="APP")
    record.add_argument("contract", metavar="CONTRACT_ID")
    record.add_argument("status", choices=["pending", "approved", "rejected", "revoked"])
    record.set_defaults(handler=cmd_contract_record)

    # -- sandbox
    sandbox = command("sandbox", "the built-in sandbox provider")
    sandbox_commands = sandbox.add_subparsers(
        dest="sandbox_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    serve = command(
        "serve", "run a local OAuth2 authorization server on 127.0.0.1", sandbox_commands
    )
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument(
        "--clients", type=Path, help="preload clients (JSON or TOML, RFC 7591 names)"
    )
    serve.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds")
    serve.add_argument("--state", type=Path, help="keep state in this JSON file across restarts")
    serve.set_defaults(handler=cmd_sandbox_serve)
    return parser


def _application_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", help="provider key (telenor, pipedrive, ... or your own)")
    parser.add_argument("--org", dest="organisation", help="the organisation it is registered to")
    parser.add_argument(
        "--owner", dest="owners", action="append", help="an owner's email (repeatable)"
    )
    parser.add_argument("--type", choices=["private", "public"])
    parser.add_argument("--callback-url", help="the one OAuth callback URL")
    parser.add_argument("--description")
    parser.add_argument("--url", help="where the application lives")
    parser.add_argument("--grant-type", dest="grant_types", action="append", help="repeatable")
    parser.add_argument("--api", dest="apis", action="append", help="an API it uses (repeatable)")


def _environment_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", dest="scopes", action="append", help="a scope (repeatable)")
    parser.add_argument("--auth-method", choices=["client_secret_basic", "client_secret_post"])
    parser.add_argument("--audience")
    parser.add_argument("--resource", help="RFC 8707 resource indicator")
    parser.add_argument("--revocation-url")
    parser.add_argument("--introspection-url")
    parser.add_argument("--logout-url")
    parser.add_argument(
        "--param", dest="params", action="append", metavar="KEY=VALUE", help="extra form parameter"
    )


# -- plumbing ------------------------------------------------------------------------------------


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    argv = list(argv)
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
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        if args.command is None:
            return _guard(cmd_ui, args)
        parser.parse_args([*argv, "--help"])
        return 2
    return _guard(handler, args)


def _guard(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except CredenzaError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: say so in one line, never a traceback with secrets in it
        if os.environ.get("CREDENZA_DEBUG"):
            raise
        _error(
            f"internal error ({type(exc).__name__}); run with CREDENZA_DEBUG=1 for details and report it"
        )
        return 70


def _error(message: str) -> None:
    print(f"credenza: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"credenza: warning: {message}", file=sys.stderr)


def _info(message: str) -> None:
    print(message, file=sys.stderr)


def open_workspace(args: argparse.Namespace) -> Workspace:
    from credenza.workspace import Workspace

    workspace = Workspace.open(getattr(args, "config", None), warn=_warn)
    for warning in workspace.warnings:
        _warn(warning)
    return workspace


def _run_async(workspace: Workspace, coroutine: Coroutine[Any, Any, T]) -> T:
    async def wrapper() -> T:
        try:
            return await coroutine
        finally:
            await workspace.aclose()

    return asyncio.run(wrapper())


def _print_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, default=str), file=out or sys.stdout)


def _table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _pairs(values: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values or []:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise ValidationError(f"--param {value!r} is not KEY=VALUE")
        result[key] = item
    return result


def _read_secret(args: argparse.Namespace, prompt: str) -> str:
    """From a named variable, stdin, or a hidden prompt; never from argv."""
    variable = getattr(args, "from_env", None)
    if variable:
        value = os.environ.get(variable)
        if value is None:
            raise ValidationError(f"the environment variable {variable} is not set")
        return value
    if sys.stdin is None or not sys.stdin.isatty():
        data = sys.stdin.read() if sys.stdin else ""
        return data[:-1] if data.endswith("\n") else data
    import getpass

    return getpass.getpass(prompt, stream=sys.stderr)


def _confirm(question: str) -> bool:
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    answer = input(question)
    return answer.strip().lower() in ("y", "yes")


# -- commands ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from credenza.sandbox.demo import run_demo

    return run_demo(no_ui=args.no_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        from credenza.tui.app import run_dashboard
    except ImportError:
        _error("the dashboard is not built yet; use the CLI commands (credenza --help)")
        return 2
    from credenza import agent

    workspace = open_workspace(args)
    agent.autostart(workspace.config.settings.agent)
    if workspace.config.settings.keyring == "file":
        # The passphrase prompt needs the terminal, which the dashboard is about to take over.
        _ = workspace.secrets.backend
    return run_dashboard(workspace)


def _application_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "provider": args.provider,
        "organisation": args.organisation,
        "owners": args.owners,
        "type": args.type,
        "callback_url": args.callback_url,
        "description": args.description,
        "url": args.url,
        "grant_types": args.grant_types,
        "apis": args.apis,
    }
    return {key: value for key, value in fields.items() if value is not None}


def cmd_app_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.add_application(args.name, **_application_fields(args))
    _info(f"added {application.name} (id {application.id})")
    return 0


def cmd_app_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    changes = _application_fields(args)
    if args.name:
        changes["name"] = args.name
    if not changes:
        raise ValidationError("nothing to change; give at least one option")
    application = workspace.edit_application(args.app, **changes)
    _info(f"updated {application.name}")
    return 0


def _production_warnings(workspace: Workspace, app_id: str) -> None:
    """Warnings, not refusals: what the seeds require before production."""
    for item in workspace.checklist(app_id):
        if not item.ok and item.label in ("two application owners", "a real callback URL"):
            _warn(f"before production: {item.label} ({item.detail})")


def cmd_app_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    applications = workspace.applications()
    if args.json:
        _print_json([_application_json(workspace, a.id) for a in applications])
        return 0
    if not applications:
        _info("no applications yet: credenza app add NAME")
        return 0
    rows = []
    for application in applications:
        ready = workspace.checklist(application.id)
        rows.append(
            [
                application.id,
                application.name,
                application.provider or "-",
                application.organisation or "-",
                application.type,
                ", ".join(application.environments) or "-",
                f"{sum(i.ok for i in ready)}/{len(ready)}",
            ]
        )
    _table(rows, ["ID", "NAME", "PROVIDER", "ORGANISATION", "TYPE", "ENVIRONMENTS", "READY"])
    return 0


def _application_json(workspace: Workspace, app_id: str) -> dict[str, Any]:
    import msgspec

    application = workspace.application(app_id)
    data: dict[str, Any] = msgspec.to_builtins(application)
    data["checklist"] = [
        {"item": i.label, "ok": i.ok, "detail": i.detail} for i in workspace.checklist(app_id)
    ]
    return data


def cmd_app_show(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.application(args.app)
    if args.json:
        _print_json(_application_json(workspace, application.id))
        return 0
    fields = [
        ("id", application.id),
        ("name", application.name),
        ("provider", application.provider),
        ("organisation", application.organisation),
        ("type", application.type),
        ("owners", ", ".join(application.owners)),
        ("description", application.description),
        ("url", application.url),
        ("callback URL", application.callback_url),
        ("grant types", ", ".join(application.grant_types)),
        ("APIs used", ", ".join(application.apis)),
    ]
    for label, value in fields:
        print(f"{label:>13}: {value or '-'}")
    for name in application.environments:
        resolved = workspace.resolve(application.id, name)
        environment = resolved.environment
        age = workspace.secret_age(application.id, name)
        print(f"\n[{name}]")
        print(f"    client_id: {environment.client_id}")
        print(f"    token URL: {resolved.token_url or '-'}")
        print(f"  auth method: {resolved.auth_method}")
        print(f"       scopes: {' '.join(environment.scopes) or '-'}")
        print(f"   secret age: {_age(age) if age is not None else 'never set'}")
    print("\nproduction checklist:")
    for item in workspace.checklist(application.id):
        print(
            f"  [{'x' if item.ok else ' '}] {item.label}{': ' + item.detail if item.detail else ''}"
        )
    return 0


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def cmd_app_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.application(args.app)
    if not args.yes and not _confirm(
        f"Remove {application.name}, its {len(application.environments)} environment(s) and their "
        "secrets? [y/N] "
    ):
        _error("not removed (confirm with --yes when not at a terminal)")
        return 2
    _forget_in_agent(args, workspace, application.id)
    workspace.remove_application(application.id)
    _info(f"removed {application.name}")
    return 0


def _environment_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "client_id": getattr(args, "client_id", None),
        "token_url": getattr(args, "token_url", None),
        "issuer": getattr(args, "issuer", None),
        "scopes": args.scopes,
        "auth_method": args.auth_method,
        "audience": args.audience,
        "resource": args.resource,
        "revocation_url": args.revocation_url,
        "introspection_url": args.introspection_url,
        "logout_url": args.logout_url,
        "extra_params": _pairs(args.params) if args.params else None,
    }
    return {key: value for key, value in fields.items() if value is not None}


def cmd_env_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    fields = _environment_fields(args)
    client_id = fields.pop("client_id")
    if args.issuer:
        # Discover first, so a wrong issuer adds nothing; URLs given on the command line win.
        discovered = _run_async(workspace, workspace.endpoints_from_issuer(args.issuer))
        fields = {k: v for k, v in {**discovered, **fields}.items() if v is not None}
    workspace.add_environment(args.app, args.env, client_id=client_id, **fields)
    resolved = workspace.resolve(args.app, args.env)
    _info(f"added {resolved.label}; token endpoint {resolved.token_url}")
    if resolved.name == "production":
        _production_warnings(workspace, resolved.application.id)
    _info(f"next: credenza secret set {resolved.application.id} {resolved.name}")
    return 0


def cmd_env_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    changes = _environment_fields(args)
    if not changes:
        raise ValidationError("nothing to change; give at least one option")
    workspace.edit_environment(args.app, args.env, **changes)
    _info(f"updated {workspace.resolve(args.app, args.env).label}")
    return 0


def cmd_env_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.application(args.app)
    rows = []
    data = []
    for name in application.environments:
        resolved = workspace.resolve(application.id, name)
        age = workspace.secret_age(application.id, name)
        rows.append(
            [
                name,
                resolved.environment.client_id,
                resolved.token_url or "-",
                resolved.auth_method,
                " ".join(resolved.environment.scopes) or "-",
                _age(age) if age is not None else "never set",
            ]
        )
        data.append(
            dict(
                zip(
                    ["name", "client_id", "token_url", "auth_method", "scopes", "secret_age"],
                    rows[-1],
                    strict=True,
                )
            )
        )
    if args.json:
        _print_json(data)
    else:
        _table(rows, ["ENV", "CLIENT_ID", "TOKEN URL", "AUTH", "SCOPES", "SECRET AGE"])
    return 0


def cmd_env_discover(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    environment = _run_async(
        workspace, workspace.discover_endpoints(args.app, args.env, args.issuer)
    )
    _info(f"token endpoint {environment.token_url}")
    for label, value in (
        ("revocation", environment.revocation_url),
        ("introspection", environment.introspection_url),
        ("logout", environment.logout_url),
    ):
        if value:
            _info(f"{label} endpoint {value}")
    return 0


def cmd_env_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.remove_environment(args.app, args.env)
    _info(f"removed environment {args.env}")
    return 0


def cmd_secret_set(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.resolve(args.app, args.env)
    value = _read_secret(args, f"Client secret for {resolved.label}: ")
    checked = workspace.set_secret(resolved.application.id, resolved.name, value)
    for warning in checked.warnings:
        _warn(warning)
    _info(f"stored the secret for {resolved.label} in the keyring ({checked.secret.masked()})")
    return 0


def cmd_secret_reset(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.resolve(args.app, args.env)
    adapter = workspace.adapter_for(resolved.application)
    _info("\n".join(workspace.reset_plan(resolved.application.id, resolved.name)))
    # Production always takes the typed application name; other environments accept --yes.
    if resolved.name == "production" or not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise ValidationError(
                "a secret reset needs confirmation at a terminal",
                hint="non-production environments accept --yes",
            )
        typed = input(f"Type the application name ({resolved.application.name}) to reset: ")
        if typed.strip() != resolved.application.name:
            raise ValidationError("the name did not match; nothing was reset")
    new_secret = None
    if adapter.kind == "manual":
        new_secret = _read_secret(args, "New client secret from the portal: ")
    result = _run_async(
        workspace, workspace.reset_secret(resolved.application.id, resolved.name, new_secret)
    )
    _forget_in_agent(args, workspace, resolved.application.id)
    for warning in result.warnings:
        _warn(warning)
    if result.new_secret is not None and sys.stdout.isatty():
        _info("the provider issued this new secret; it is stored, and shown here once:")
        print(result.new_secret.reveal())
    _info(
        f"secret rotated at {result.rotated_at:%Y-%m-%d %H:%M} UTC; update every system that used the old one"
    )
    return 0


def cmd_secret_confirm(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    origin = workspace.confirm_endpoint(args.app, args.env)
    _info(f"the secret may now be sent to {origin}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from credenza import agent

    workspace = open_workspace(args)
    agent.autostart(workspace.config.settings.agent)  # comes up while this call works
    session, _cached = _run_async(
        workspace,
        workspace.token(args.app, args.env, args.scope or None, use_cache=not args.no_cache),
    )
    _warn_wider_scopes(session)
    _share_with_agent(args, session, workspace.config.settings.token_skew_seconds)
    print(format_token(session, args.format))
    return 0


def _agent_key(args: argparse.Namespace) -> str:
    from credenza.fastpath import cache_key, config_key

    return cache_key(
        config_key(getattr(args, "config", None)), args.app, args.env, args.scope or []
    )


def _share_with_agent(args: argparse.Namespace, session: SessionToken, skew: float) -> None:
    """Hand the token to a running agent so the next call answers from memory."""
    from credenza import agent

    token = session.token
    agent.request(
        {
            "op": "put",
            "key": _agent_key(args),
            "token": token.access_token.reveal(),
            "token_type": token.token_type,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "expires": token.expires_at.timestamp() if token.expires_at else None,
            "skew": skew,
            "scope": " ".join(token.scopes),
        }
    )


def _forget_in_agent(args: argparse.Namespace, workspace: Workspace, app_ref: str) -> None:
    from credenza import agent
    from credenza.fastpath import config_key

    application = workspace.application(app_ref)
    for ref in {application.id, application.name.lower()}:
        agent.request(
            {"op": "drop", "prefix": f"{config_key(getattr(args, 'config', None))}\x1f{ref}\x1f"}
        )


def _warn_wider_scopes(session: SessionToken) -> None:
    granted = set(session.token.scopes)
    extra = granted - set(session.requested_scopes) if session.requested_scopes else set()
    if extra:
        _warn(f"the provider granted more than was asked: {' '.join(sorted(extra))}")


def format_token(session: SessionToken, style: str) -> str:
    from credenza import fastpath

    token = session.token
    return fastpath.format_token(
        token.access_token.reveal(),
        token.token_type,
        token.expires_at.isoformat() if token.expires_at else None,
        style,
        " ".join(token.scopes),
    )


def cmd_exec(args: argparse.Namespace) -> int:
    """Run a command with the token in its environment (never in its argv), as aws-vault exec does."""
    import subprocess

    command = list(args.command)
    if not command:
        raise ValidationError(
            "give the command to run after --", hint="credenza exec APP -- curl ..."
        )
    workspace = open_workspace(args)
    session, _cached = _run_async(
        workspace, workspace.token(args.app, args.env, args.scope or None)
    )
    token = session.token
    environment = dict(os.environ)
    environment.update(
        CREDENZA_ACCESS_TOKEN=token.access_token.reveal(),
        CREDENZA_TOKEN_TYPE=token.token_type,
        CREDENZA_TOKEN_EXPIRES_AT=token.expires_at.isoformat() if token.expires_at else "",
    )
    if args.client_credentials:
        # For APIs behind a client-id enforcement policy (Anypoint): asked for explicitly only.
        resolved = workspace.resolve(session.application_id, session.environment)
        environment["CREDENZA_CLIENT_ID"] = resolved.environment.client_id
        environment["CREDENZA_CLIENT_SECRET"] = workspace.reveal_secret(
            session.application_id, session.environment
        ).reveal()
    try:
        completed = subprocess.run(command, env=environment, check=False)  # noqa: S603
    except FileNotFoundError:
        raise ValidationError(f"command not found: {command[0]}") from None
    return completed.returncode if completed.returncode >= 0 else 128 - completed.returncode


def cmd_agent(args: argparse.Namespace) -> int:
    from credenza import agent

    if args.action == "stop":
        answer = agent.request({"op": "stop"})
        _info("agent stopped" if answer else "no agent is running")
        return 0
    if args.action == "status":
        answer = agent.request({"op": "ping"})
        if answer is None:
            _info("no agent is running")
            return 1
        _info(
            f"agent pid {answer['pid']} at {agent.socket_path()}, holding {answer['tokens']} token(s)"
        )
        return 0
    return agent.run_agent(idle_timeout=args.idle_timeout)


def cmd_keyring(args: argparse.Namespace) -> int:
    from credenza.secrets import setup

    workspace = open_workspace(args)
    if args.action == "status":
        found = setup.status(workspace.secrets)
        _info(f"keyring: {found.label}" + (' (keyring = "file")' if found.kind == "file" else ""))
        return 0
    if args.kind is None:
        raise ValidationError(
            "say which: `credenza keyring use file` or `credenza keyring use system`"
        )
    if args.kind == "system":
        setup.use_system_keyring(workspace.store)
        _info("secrets now go to the desktop keyring; the file keyring was left as it was")
        return 0
    created = setup.use_file_keyring(workspace.store)
    what = "created" if created.created else "opened"
    _info(f"{what} the encrypted file keyring {created.path}; secrets and tokens now go there")
    _info(
        "store your secrets again with `credenza secret set APP ENV` (they stay in the old keyring)"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    targets: list[tuple[str, str]] = []
    if args.app:
        application = workspace.application(args.app)
        names = [args.env] if args.env else list(application.environments)
        targets = [(application.id, name) for name in names]
    else:  # no application named: every one (what --all says explicitly)
        targets = [(a.id, name) for a in workspace.applications() for name in a.environments]
    if not targets:
        _info("nothing to verify")
        return 0
    results = _run_async(workspace, workspace.verify_many(targets, concurrency=args.concurrency))
    if args.json:
        _print_json(
            [
                {
                    "application": r.application_id,
                    "environment": r.environment,
                    "status": r.status,
                    "message": r.message,
                    "warnings": list(r.warnings),
                }
                for r in results
            ]
        )
    else:
        _table(
            [
                [
                    r.application_id,
                    r.environment,
                    r.status.upper() if not r.ok else "ok",
                    "" if r.ok else r.message,
                ]
                for r in results
            ],
            ["APPLICATION", "ENV", "STATUS", "DETAIL"],
        )
        for result in results:
            for warning in result.warnings:
                _warn(f"{result.application_id} / {result.environment}: {warning}")
    return 0 if all(r.ok for r in results) else 1


def cmd_revoke(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.resolve(args.app, args.env)
    sessions = workspace.cached_sessions(resolved.application.id, resolved.name)
    if not sessions:
        _info(f"no cached token for {resolved.label}; nothing to revoke")
        return 0

    async def revoke_all() -> list[str]:
        return [await workspace.revoke_token(session) for session in sessions]

    outcomes = _run_async(workspace, revoke_all())
    _forget_in_agent(args, workspace, resolved.application.id)
    _info(f"{outcomes[-1]} {len(sessions)} token(s) of {resolved.label}")
    return 0


def cmd_contract_list(args: argparse.Namespace) -> int:
    import msgspec

    workspace = open_workspace(args)
    application = workspace.application(args.app)
    effective = {c.id for c in workspace.effective_contracts(application.id).values()}
    contracts = workspace.contracts(application.id)
    if args.json:
        _print_json([{**msgspec.to_builtins(c), "effective": c.id in effective} for c in contracts])
        return 0
    rows = [
        [
            ("* " if c.id in effective else "  ") + c.id,
            c.api + (" (group)" if c.target == "api_group" else ""),
            c.instance,
            c.environment,
            c.sla_tier or "-",
            c.status,
            "yes" if c.terms_accepted_at else "no",
        ]
        for c in contracts
    ]
    _table(rows, ["  ID", "API", "INSTANCE", "ENV", "SLA TIER", "STATUS", "TERMS"])
    return 0


def cmd_contract_request(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    contract = _run_async(
        workspace,
        workspace.request_access(
            args.app,
            args.env,
            api=args.api,
            instance=args.instance,
            sla_tier=args.tier,
            terms_accepted=args.accept_terms,
            target="api_group" if args.group else "api",
        ),
    )
    _info(f"contract {contract.id}: {contract.status}")
    return 0


def cmd_contract_decide(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    decisions: dict[str, ContractStatus] = {
        "approve": "approved",
        "reject": "rejected",
        "revoke": "revoked",
    }
    status = decisions[args.decision]
    contract = _run_async(workspace, workspace.decide_contract(args.app, args.contract, status))
    _info(f"contract {contract.id}: {contract.status}")
    return 0


def cmd_contract_record(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    contract = workspace.record_contract_status(args.app, args.contract, args.status)
    _info(f"contract {contract.id}: {contract.status}")
    return 0


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from credenza.sandbox.clients import load_clients
    from credenza.sandbox.server import SandboxServer
    from credenza.sandbox.state import SandboxState

    state = SandboxState(token_ttl=args.token_ttl, state_file=args.state)
    if args.clients:
        for metadata in load_clients(args.clients):
            if metadata.get("client_id") not in state.clients:
                state.add_client(metadata)
    server = SandboxServer(state, port=args.port)
    print(f"issuer: {server.issuer}", flush=True)
    print(f"admin token: {server.admin_token}", flush=True)
    _info("serving on 127.0.0.1 until interrupted (Ctrl+C)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
