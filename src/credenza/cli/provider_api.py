"""`credenza provider api`: a provider's catalogue of API and API group instances with their SLA
tiers — add, list, remove; registered under `credenza provider` (cli/provider.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import (
    Group,
    confirm_removal,
    json_option,
    open_workspace,
    run_async,
    yes_option,
)
from credenza.cli.provider import key_argument, number
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.config.model import CatalogueTier
    from credenza.providers.base import CatalogueEntry


def register(parent: Group) -> None:
    api = parent.group("api", "a provider's catalogue: API and API group instances, SLA tiers")
    api_add = api.command(
        "add",
        "add (or replace) an API or API group instance with its SLA tiers",
        cmd_api_add,
        "  credenza provider api add anypoint orders-v2 --name Orders --instance v2 "
        "--tier Silver:1 --tier Gold:2\n"
        "  credenza provider api add anypoint fibre-all --name 'Fibre APIs' --instance v1 "
        "--group --member Orders --member Lines --tier Bronze:1:auto",
    )
    key_argument(api_add)
    api_add.add_argument("id", metavar="ID", help="the instance's id (lowercase, unique)")
    api_add.add_argument("--name", required=True, help="the API's (or API group's) name")
    api_add.add_argument("--instance", required=True, help="the instance label (v1, v2, ...)")
    api_add.add_argument(
        "--env", default="production", help="the environment it serves (default: production)"
    )
    api_add.add_argument("--group", action="store_true", help="an API group instance")
    api_add.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="API",
        help="an API of the group (repeatable)",
    )
    api_add.add_argument(
        "--tier",
        action="append",
        default=[],
        metavar="NAME:RANK[:auto]",
        help="an SLA tier; a higher rank is less restrictive; ':auto' approves at once "
        "(repeatable)",
    )
    api_add.add_argument(
        "--terms", help="the terms and conditions a request accepts: their URL or text"
    )
    api_add.add_argument(
        "--client-provider",
        help="Anypoint: the client provider the instance takes clients from (only applications "
        "of the same one may request access)",
    )
    api_list = api.command(
        "list",
        "list a provider's catalogue",
        cmd_api_list,
        "  credenza provider api list anypoint\n  credenza provider api list mine --json",
    )
    key_argument(api_list)
    json_option(api_list)
    api_remove = api.command(
        "remove",
        "remove an API instance from a portal provider's catalogue",
        cmd_api_remove,
        "  credenza provider api remove anypoint orders-v2 --yes",
    )
    key_argument(api_remove)
    api_remove.add_argument("id", metavar="ID", help="the instance's id")
    yes_option(api_remove)


def parse_tier(value: str) -> CatalogueTier:
    from credenza.config.model import CatalogueTier

    name, _, rest = value.partition(":")
    rank, _, auto = rest.partition(":")
    if not name.strip() or auto not in ("", "auto"):
        raise ValidationError(f"--tier {value!r} is not NAME:RANK or NAME:RANK:auto")
    return CatalogueTier(
        name=name.strip(), rank=number(rank, "--tier rank") or 0, auto_approve=auto == "auto"
    )


def cmd_api_add(args: argparse.Namespace) -> int:
    import msgspec

    from credenza.config.model import CatalogueApi

    workspace = open_workspace(args)
    try:
        api = msgspec.convert(
            {
                "id": args.id,
                "name": args.name,
                "instance": args.instance,
                "environment": args.env,
                "target": "api_group" if args.group else "api",
                "apis": args.member,
                "terms": args.terms,
                "client_provider": args.client_provider,
                "tiers": [msgspec.to_builtins(parse_tier(t)) for t in args.tier],
            },
            CatalogueApi,
        )
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc).replace("@", ""), hint="nothing was added") from None
    entry = run_async(workspace, workspace.providers.add_api(args.key, api))
    output.info(f"{args.key}: {entry.name} {entry.instance} ({entry.id}) is in the catalogue")
    return 0


def entry_json(entry: CatalogueEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "instance": entry.instance,
        "target": entry.target,
        "environment": entry.environment,
        "apis": list(entry.apis),
        "terms": entry.terms,
        "client_provider": entry.client_provider,
        "tiers": [{"name": n, "auto_approve": a, "rank": r} for n, a, r in entry.tiers],
    }


def print_catalogue(entries: list[CatalogueEntry], as_json: bool) -> None:
    if as_json:
        output.print_json([entry_json(e) for e in entries])
        return
    if not entries:
        output.info("the catalogue is empty: credenza provider api add PROVIDER ID ...")
        return
    rows = [
        [
            e.id,
            e.name + (" (group: " + ", ".join(e.apis) + ")" if e.target == "api_group" else ""),
            e.instance,
            e.environment,
            ", ".join(f"{n} ({r}{', auto' if a else ''})" for n, a, r in e.tiers) or "-",
        ]
        for e in entries
    ]
    output.table(rows, ["ID", "API", "INSTANCE", "ENV", "SLA TIERS (RANK)"])


def cmd_api_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.providers.get(args.key)
    print_catalogue(run_async(workspace, workspace.providers.catalogue(args.key)), args.json)
    return 0


def cmd_api_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.providers.get(args.key)
    confirm_removal(args, f"Remove {args.id} from the catalogue of {args.key}?")
    workspace.providers.remove_api(args.key, args.id)
    output.info(f"removed {args.id} from the catalogue of {args.key}")
    return 0
