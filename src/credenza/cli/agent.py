"""`credenza agent`: the in-memory token agent — start, stop, status; keep, unkeep, list."""

from __future__ import annotations

import argparse
from typing import Any

from credenza.cli import output
from credenza.cli.common import Group, open_workspace
from credenza.errors import ValidationError


def register(commands: Group) -> None:
    agent = commands.command(
        "agent",
        "keep tokens in memory for fast `credenza token` calls (like ssh-agent), and keep "
        "chosen ones fresh ahead of expiry",
        cmd_agent,
        "  credenza agent &\n  credenza agent status\n  credenza agent stop\n"
        "  credenza agent keep telenor-sms --env production\n"
        "  credenza agent list --json\n  credenza agent unkeep telenor-sms",
    )
    agent.add_argument(
        "action",
        nargs="?",
        choices=["start", "stop", "status", "keep", "unkeep", "list"],
        default="start",
        help="start (default), stop, status; keep APP / unkeep APP (kept fresh by the agent, "
        "after restarts too); list (what is kept)",
    )
    agent.add_argument("app", metavar="APP", nargs="?", help="keep, unkeep: the application")
    agent.add_argument("--env", help="keep, unkeep: the environment")
    agent.add_argument(
        "--scope", action="append", default=[], help="keep: with this scope (repeatable)"
    )
    agent.add_argument("--json", action="store_true", help="status, list: print JSON")
    agent.add_argument(
        "--idle-timeout", type=float, default=8 * 3600, help="exit after this many idle seconds"
    )


def cmd_agent(args: argparse.Namespace) -> int:
    from credenza import locations
    from credenza.agent import client as agent

    if args.action in ("keep", "unkeep"):
        return keep(args) if args.action == "keep" else unkeep(args)
    if args.app is not None:
        raise ValidationError(
            f"`agent {args.action}` takes no application",
            hint="credenza agent keep APP [--env ENV]",
        )
    if args.action == "list":
        return list_kept(args)
    if args.action == "stop":
        answer = agent.request({"op": "stop"})
        output.info("agent stopped" if answer else "no agent is running")
        return 0
    if args.action == "status":
        answer = agent.request({"op": "ping"})
        if args.json:
            running = answer is not None
            output.print_json(
                {
                    "running": running,
                    "pid": answer["pid"] if answer else None,
                    "socket": locations.agent_socket(),
                    "tokens": answer["tokens"] if answer else 0,
                    "kept": answer.get("kept", 0) if answer else 0,
                }
            )
            return 0 if running else 1
        if answer is None:
            output.info("no agent is running")
            return 1
        output.info(
            f"agent pid {answer['pid']} at {locations.agent_socket()}, holding {answer['tokens']} "
            f"token(s), keeping {answer.get('kept', 0)} fresh"
        )
        return 0
    from credenza.agent.server import run_agent
    from credenza.cli.keeper import WorkspaceKeeper

    return run_agent(idle_timeout=args.idle_timeout, keeper=WorkspaceKeeper())


def _need_app(args: argparse.Namespace) -> str:
    if not args.app:
        raise ValidationError(
            f"`agent {args.action}` needs the application",
            hint=f"credenza agent {args.action} APP [--env ENV]",
        )
    return str(args.app)


def keep(args: argparse.Namespace) -> int:
    from credenza.agent import client as agent

    app = _need_app(args)
    workspace = open_workspace(args)
    entry = workspace.tokens.keep(app, args.env, args.scope or None)
    started = agent.autostart(workspace.config.settings.agent)
    if started:
        agent.request({"op": "keep"})  # waits for the new agent to listen
    label = workspace.environments.resolve(entry.application, entry.environment).label
    running = started or agent.request({"op": "ping"}) is not None
    output.info(
        f"kept fresh: {label}"
        + (
            ""
            if running
            else " (no agent runs: it starts with the next `credenza token`, or `credenza agent &`)"
        )
    )
    return 0


def unkeep(args: argparse.Namespace) -> int:
    app = _need_app(args)
    workspace = open_workspace(args)
    gone = workspace.tokens.unkeep(app, args.env)
    if not gone:
        output.info("nothing was kept for that; nothing changed")
        return 0
    for entry in gone:
        output.info(f"no longer kept fresh: {entry.application} / {entry.environment}")
    return 0


def list_kept(args: argparse.Namespace) -> int:
    """Every entry of this person's keep file, each with what a running agent holds for it."""
    from credenza.agent import client as agent
    from credenza.config.keep import keep_path, read_kept

    answer = agent.request({"op": "kept"})
    held: dict[str, dict[str, Any]] = {}
    if answer is not None:
        held = {str(item.get("id")): item for item in answer.get("kept") or []}
    rows: list[dict[str, Any]] = []
    for entry in read_kept(keep_path()):
        state = held.get(entry.id, {})
        rows.append(
            {
                "config": entry.config,
                "workspace": entry.workspace,
                "application": entry.application,
                "environment": entry.environment,
                "scopes": list(entry.scopes),
                "expires_at": state.get("expires_at"),
                "error": state.get("error"),
                "failures": int(state.get("failures") or 0),
            }
        )
    if args.json:
        output.print_json({"agent_running": answer is not None, "kept": rows})
        return 0
    if not rows:
        output.info("nothing is kept fresh (credenza agent keep APP)")
        return 0
    output.table(
        [
            [
                row["application"],
                row["environment"],
                " ".join(row["scopes"]) or "-",
                row["expires_at"] or ("-" if answer is not None else "(no agent)"),
                f"failed: {row['error']}" if row["error"] else "",
            ]
            for row in rows
        ],
        ["APPLICATION", "ENV", "SCOPES", "EXPIRES", "LAST ERROR"],
    )
    return 0
