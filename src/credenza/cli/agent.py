"""`credenza agent`: the in-memory token agent — start, stop, status."""

from __future__ import annotations

import argparse

from credenza.cli import output
from credenza.cli.common import Group


def register(commands: Group) -> None:
    agent = commands.command(
        "agent",
        "keep tokens in memory for fast `credenza token` calls (like ssh-agent)",
        cmd_agent,
        "  credenza agent &\n  credenza agent status\n  credenza agent stop",
    )
    agent.add_argument(
        "action",
        nargs="?",
        choices=["start", "stop", "status"],
        default="start",
        help="start (default), stop or status",
    )
    agent.add_argument("--json", action="store_true", help="status: print JSON")
    agent.add_argument(
        "--idle-timeout", type=float, default=8 * 3600, help="exit after this many idle seconds"
    )


def cmd_agent(args: argparse.Namespace) -> int:
    from credenza import agent

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
                    "socket": str(agent.socket_path()),
                    "tokens": answer["tokens"] if answer else 0,
                }
            )
            return 0 if running else 1
        if answer is None:
            output.info("no agent is running")
            return 1
        output.info(
            f"agent pid {answer['pid']} at {agent.socket_path()}, holding {answer['tokens']} token(s)"
        )
        return 0
    return agent.run_agent(idle_timeout=args.idle_timeout)
