"""`credenza contract`: API contracts — list, request, approve, reject, revoke, record."""

from __future__ import annotations

import argparse

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    env_argument,
    json_option,
    open_workspace,
    run_async,
)
from credenza.config.model import ContractStatus

DECISIONS: dict[str, ContractStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "revoke": "revoked",
}


def register(commands: Group) -> None:
    group = commands.group(
        "contract", "contracts: list, catalogue, request, approve, reject, revoke, record"
    )
    listing = group.command(
        "list",
        "list an application's contracts; * marks the effective one per API",
        cmd_list,
        "  credenza contract list anypoint-orders --json",
    )
    app_argument(listing)
    json_option(listing)
    catalogue = group.command(
        "catalogue",
        "what the application's provider offers: API (group) instances and their SLA tiers",
        cmd_catalogue,
        "  credenza contract catalogue anypoint-orders\n"
        "  credenza contract catalogue anypoint-orders --json",
    )
    app_argument(catalogue)
    json_option(catalogue)
    request = group.command(
        "request",
        "request access to an API instance or API group instance",
        cmd_request,
        "  credenza contract request anypoint-orders production --api Orders --instance v2 "
        "--tier Gold --accept-terms",
    )
    app_argument(request)
    env_argument(request)
    request.add_argument("--api", required=True, help="the API or API group name")
    request.add_argument("--instance", required=True, help="the instance (sandbox: its id)")
    request.add_argument("--tier", help="the SLA tier")
    request.add_argument("--group", action="store_true", help="the target is an API group")
    request.add_argument(
        "--accept-terms", action="store_true", help="accept the terms and conditions"
    )
    request.add_argument(
        "--terms",
        metavar="URL_OR_TEXT",
        help="the terms and conditions accepted: their URL or text (default: the catalogue's)",
    )
    for action, help_text in (
        ("approve", "approve a pending contract (sandbox provider)"),
        ("reject", "reject a pending contract (sandbox provider)"),
        ("revoke", "revoke a contract"),
    ):
        decide = group.command(
            action, help_text, cmd_decide, f"  credenza contract {action} APP CONTRACT_ID"
        )
        app_argument(decide)
        decide.add_argument("contract", metavar="CONTRACT_ID", help="see `credenza contract list`")
        decide.set_defaults(decision=action)
    record = group.command(
        "record",
        "record a decision the provider made in its portal",
        cmd_record,
        "  credenza contract record anypoint-orders ct-1a2b3c approved",
    )
    app_argument(record)
    record.add_argument("contract", metavar="CONTRACT_ID", help="see `credenza contract list`")
    record.add_argument(
        "status", choices=["pending", "approved", "rejected", "revoked"], help="its new status"
    )


def cmd_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.get(args.app)
    effective = {c.id for c in workspace.contracts.effective(application.id).values()}
    contracts = workspace.contracts.of(application.id)
    if args.json:
        output.print_json([{**output.record(c), "effective": c.id in effective} for c in contracts])
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
    output.table(rows, ["  ID", "API", "INSTANCE", "ENV", "SLA TIER", "STATUS", "TERMS"])
    return 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    from credenza.cli.provider_api import print_catalogue

    workspace = open_workspace(args)
    entries = run_async(workspace, workspace.contracts.catalogue(args.app))
    print_catalogue(entries, args.json)
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    contract = run_async(
        workspace,
        workspace.contracts.request_access(
            args.app,
            args.env,
            api=args.api,
            instance=args.instance,
            sla_tier=args.tier,
            terms_accepted=args.accept_terms,
            target="api_group" if args.group else "api",
            terms=args.terms,
        ),
    )
    output.info(f"contract {contract.id}: {contract.status}")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    status = DECISIONS[args.decision]
    contract = run_async(workspace, workspace.contracts.decide(args.app, args.contract, status))
    output.info(f"contract {contract.id}: {contract.status}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    contract = workspace.contracts.record(args.app, args.contract, args.status)
    output.info(f"contract {contract.id}: {contract.status}")
    return 0
