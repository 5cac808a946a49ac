"""`credenza app register` (RFC 7591) and `app registration show|delete` (RFC 7592): a client
created at the provider's registration endpoint, its secrets straight into the keyring."""

from __future__ import annotations

import argparse

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    confirm_removal,
    env_argument,
    json_option,
    open_workspace,
    run_async,
    secret_from_env,
    yes_option,
)
from credenza.config.auth_methods import AUTH_METHODS
from credenza.errors import ValidationError


def register(group: Group) -> None:
    create = group.command(
        "register",
        "register the application as a new client at the environment's issuer (RFC 7591 "
        "dynamic client registration); the secret and registration token go to the keyring",
        cmd_register,
        "  credenza app register telenor-sms sandbox --issuer https://auth.example.com\n"
        "  IAT=... credenza app register telenor-sms production "
        "--initial-access-token-env IAT",
    )
    app_argument(create)
    env_argument(create)
    create.add_argument(
        "--issuer",
        metavar="URL",
        help="the issuer, when the environment does not exist yet (it is then created)",
    )
    create.add_argument(
        "--initial-access-token-env",
        metavar="VAR",
        help="the environment variable holding the initial access token the server wants",
    )
    create.add_argument(
        "--scope", action="append", default=[], help="register for this scope (repeatable)"
    )
    create.add_argument(
        "--auth-method",
        choices=list(AUTH_METHODS),
        help="token_endpoint_auth_method to ask for (default: the environment's, else "
        "client_secret_basic)",
    )

    manage = group.group(
        "registration", "a registered client at the provider (RFC 7592): show, delete"
    )
    show = manage.command(
        "show",
        "show the client's registration as the provider holds it (secrets masked)",
        cmd_show,
        "  credenza app registration show telenor-sms sandbox --json",
    )
    app_argument(show)
    env_argument(show)
    json_option(show)
    delete = manage.command(
        "delete",
        "delete the client at the provider, then its secret and tokens here",
        cmd_delete,
        "  credenza app registration delete telenor-sms sandbox --yes",
    )
    app_argument(delete)
    env_argument(delete)
    yes_option(delete)


def cmd_register(args: argparse.Namespace) -> int:
    from credenza.secrets import Secret

    token: Secret | None = None
    if args.initial_access_token_env:
        value = secret_from_env(args.initial_access_token_env, "the initial access token")
        token = Secret(value.strip())
    if args.issuer is not None:
        from credenza.config.checks import is_url

        if not is_url(args.issuer):
            raise ValidationError(
                "--issuer is not a URL", hint="give the issuer as https://HOST[/PATH]"
            )
    workspace = open_workspace(args)
    done = run_async(
        workspace,
        workspace.registrations.register(
            args.app,
            args.env,
            issuer=args.issuer,
            initial_access_token=token,
            scopes=tuple(args.scope) or None,
            auth_method=args.auth_method,
        ),
    )
    created = "; the environment was added" if done.created_environment else ""
    output.info(f"Registered {done.label} as client_id {done.client_id}{created}")
    kept = ["the client secret"] if done.stored_secret else []
    if done.manageable:
        kept.append("the registration access token")
    if kept:
        output.info(f"{' and '.join(kept).capitalize()} are in the keyring (never shown).")
    if done.secret_expires_at is not None:
        output.info(f"The provider says the secret expires on {done.secret_expires_at:%Y-%m-%d}.")
    if not done.manageable:
        output.info("The provider offers no registration management (RFC 7592) for it.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    data = run_async(workspace, workspace.registrations.show(args.app, args.env))
    if args.json:
        output.print_json(data)
        return 0
    import json

    rows = [
        [key, value if isinstance(value, str) else json.dumps(value)] for key, value in data.items()
    ]
    output.table(rows, ["FIELD", "VALUE"])
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    confirm_removal(
        args,
        f"Delete the client {resolved.environment.client_id} of {resolved.label} at the provider, "
        "and its secret and tokens here?",
    )
    client_id = run_async(workspace, workspace.registrations.delete(args.app, args.env))
    output.info(
        f"Deleted client {client_id} of {resolved.label} at the provider; its secret and tokens "
        "are gone from here (the environment stays: `credenza env remove` removes it)"
    )
    return 0
