"""`credenza status`: what needs attention across every provider; exit 1 when something is due."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import Group, json_option, open_workspace

if TYPE_CHECKING:
    from credenza.services.status import Attention, StatusReport


def register(commands: Group) -> None:
    status = commands.command(
        "status",
        "what needs attention: expiring or overdue secrets, open checklists, pending contracts",
        cmd_status,
        "  credenza status\n"
        "  credenza status --json | jq '.items[] | select(.kind == \"secret_expiring\")'\n"
        "  credenza status --quiet || notify-send 'credenza: something is due'",
    )
    json_option(status)
    status.add_argument(
        "--quiet", action="store_true", help="print nothing; only the exit code (1: something due)"
    )


def describe(item: Attention) -> tuple[str, str]:
    """What an item says and the command that deals with it, in the CLI's words."""
    where = f"{item.application} {item.environment or ''}".strip()
    days = item.days
    match item.kind:
        case "reset_unfinished":
            return (
                "a secret reset did not finish; the provider's new secret is kept as pending",
                f"credenza secret recover {where}",
            )
        case "secret_expired":
            return (
                f"the secret expired {_days_ago(days)}",
                f"credenza secret reset {where}",
            )
        case "refresh_failed":
            return (f"a token refresh failed: {item.detail}", f"credenza verify {item.application}")
        case "client_id_shared":
            return (
                f"client_id {item.detail} is also used in production by {item.subject}; "
                "a client_id belongs to one application",
                f"credenza env edit {item.application} production --client-id ID",
            )
        case "rotation_overdue":
            return (
                f"the secret is due for rotation ({item.detail}), since {_days_ago(days)}",
                f"credenza secret reset {where}",
            )
        case "secret_expiring":
            return (
                f"the secret expires in {days} day{'s' if days != 1 else ''}",
                f"credenza secret reset {where}",
            )
        case "checklist_open":
            detail = f" ({item.detail})" if item.detail else ""
            return (
                f"production checklist: {item.subject}{detail}",
                f"credenza app show {item.application}",
            )
        case "contract_pending":
            return (
                f"contract {item.detail} for {item.subject} awaits the provider's decision",
                f"credenza contract list {item.application}",
            )
        case "scope_requested":
            return (
                f"scope {item.subject} was asked of the provider and is not granted yet; "
                "credenza does not send it",
                f"credenza env edit {where} --grant-scope {item.subject}",
            )


def _days_ago(days: int | None) -> str:
    if days is None:
        return "some time ago"
    ago = -days
    return "today" if ago <= 0 else f"{ago} day{'s' if ago != 1 else ''} ago"


def item_json(item: Attention) -> dict[str, Any]:
    message, command = describe(item)
    return {
        "kind": item.kind,
        "level": item.level,
        "application": item.application,
        "application_name": item.application_name,
        "provider": item.provider,
        "environment": item.environment,
        "subject": item.subject,
        "detail": item.detail,
        "when": item.when.isoformat() if item.when else None,
        "days": item.days,
        "message": message,
        "command": command,
    }


def report_json(report: StatusReport) -> dict[str, Any]:
    return {
        "checked_at": report.checked_at.isoformat(),
        "due": len(report.due),
        "expiry_warning_days": report.expiry_warning_days,
        "rotation_days": report.rotation_days,
        "items": [item_json(item) for item in report.items],
    }


def cmd_status(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    report = workspace.status.report()
    code = 1 if report.needs_action else 0
    if args.quiet:
        return code
    if args.json:
        output.print_json(report_json(report))
        return code
    if not report.items:
        output.info("nothing needs attention")
        return code
    rows = []
    for item in report.items:
        message, command = describe(item)
        rows.append(
            [
                "due" if item.level == "due" else "waiting",
                item.application,
                item.environment or "-",
                item.when.date().isoformat() if item.when else "-",
                message,
            ]
        )
    output.table(rows, ["LEVEL", "APPLICATION", "ENV", "WHEN", "WHAT"])
    commands = dict.fromkeys(describe(item)[1] for item in report.due)
    if commands:
        output.info("")
        output.info("next:")
        for command in commands:
            output.info(f"  {output.cell(command)}")  # a hand-edited name stays one line
    output.info("")
    output.info(
        f"{len(report.due)} due, {len(report.items) - len(report.due)} waiting on a provider"
    )
    return code
