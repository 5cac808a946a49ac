"""`credenza import dotenv|postman` and `credenza export`: credentials in from where they sit
today (secrets to the keyring, never the config), the config's records out as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import Group, open_workspace

if TYPE_CHECKING:
    from credenza.services.importing import ImportedCredential


def register(commands: Group) -> None:
    group = commands.group(
        "import", "bring credentials in from a .env file or Postman (secrets to the keyring)"
    )
    dotenv = group.command(
        "dotenv",
        "import CLIENT_ID / CLIENT_SECRET / TOKEN_URL (or ISSUER, SCOPE) from a .env file",
        cmd_dotenv,
        "  credenza import dotenv .env --app 'Telenor SMS' --env production\n"
        "  credenza import dotenv deploy.env --app billing --prefix BILLING   # BILLING_CLIENT_ID",
    )
    dotenv.add_argument("file", type=Path, metavar="FILE", help="the .env file")
    dotenv.add_argument(
        "--prefix", help="the variables' prefix where the file holds several clients"
    )
    _target(dotenv)
    postman = group.command(
        "postman",
        "import a Postman environment, or a collection's OAuth 2.0 auth",
        cmd_postman,
        "  credenza import postman telenor.postman_environment.json --app 'Telenor SMS'\n"
        "  credenza import postman orders.postman_collection.json --environment prod.json "
        "--app orders --env production",
    )
    postman.add_argument("file", type=Path, metavar="FILE", help="the exported JSON file")
    postman.add_argument(
        "--environment",
        type=Path,
        metavar="FILE",
        help="a Postman environment defining the collection's {{variables}}",
    )
    postman.add_argument(
        "--request", help="the request (or folder) whose OAuth 2.0 auth to use, where several"
    )
    _target(postman)
    export = commands.command(
        "export",
        "print the config's records (providers, applications, environments, contracts) as "
        "JSON; no secret is in them",
        cmd_export,
        "  credenza export > credenza-records.json\n  credenza export | jq '.applications[].id'",
    )
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app", required=True, help="the application (added when it does not exist)"
    )
    parser.add_argument("--env", default="production", help="the environment (default: production)")
    parser.add_argument("--token-url", help="the token endpoint, where the file has none")


def _import(args: argparse.Namespace, found: ImportedCredential) -> int:
    from credenza.services.importing import import_credential

    workspace = open_workspace(args)
    result = import_credential(
        workspace.applications,
        workspace.environments,
        workspace.credentials,
        found,
        app=args.app,
        env=args.env,
        token_url=args.token_url,
    )
    what = "added" if result.created_environment else "updated"
    output.info(
        f"{what} {result.application} / {result.environment} (client_id {found.client_id}, "
        f"token endpoint {result.token_url or 'from the issuer'})"
    )
    if result.secret_stored:
        output.info("the client secret is in the keyring; the config holds none")
    else:
        output.warn(
            f"the file has no client secret: credenza secret set {result.application} "
            f"{result.environment}"
        )
    if found.ignored:
        output.info("not used: " + ", ".join(found.ignored))
    output.info(f"check it: credenza verify {result.application} --env {result.environment}")
    return 0


def cmd_dotenv(args: argparse.Namespace) -> int:
    from credenza.services.importing import parse_dotenv

    return _import(args, parse_dotenv(args.file, args.prefix))


def cmd_postman(args: argparse.Namespace) -> int:
    from credenza.services.importing import parse_postman

    return _import(args, parse_postman(args.file, args.environment, args.request))


def cmd_export(args: argparse.Namespace) -> int:
    import json

    import msgspec

    workspace = open_workspace(args)
    config = workspace.config
    data = {
        "version": config.version,
        "exported_at": workspace.clock().isoformat(),
        "providers": msgspec.to_builtins(config.providers),
        "applications": msgspec.to_builtins(config.applications),
    }
    if args.output:
        from credenza.config.files import write_atomic

        write_atomic(args.output, (json.dumps(data, indent=2) + "\n").encode())
        output.info(f"wrote {len(config.applications)} application(s) to {args.output}")
    else:
        output.print_json(data)
    return 0
