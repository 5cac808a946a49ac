"""`credenza forget --all`: a workspace's keyring entries and local state go; the config stays."""

from __future__ import annotations

import argparse

from credenza.cli import output
from credenza.cli.common import Group, confirm_removal, open_workspace, yes_option
from credenza.errors import ValidationError


def register(commands: Group) -> None:
    forget = commands.command(
        "forget",
        "remove this workspace's secrets, tokens and sign-ins from the keyring, its local "
        "state, and stop the agent (before an uninstall); the config file stays",
        cmd_forget,
        "  credenza forget --all\n  credenza --config team/credenza.toml forget --all --yes",
    )
    forget.add_argument(
        "--all",
        action="store_true",
        help="every application and environment of this config (required: it is the only scope)",
    )
    yes_option(forget)


def cmd_forget(args: argparse.Namespace) -> int:
    from credenza.agent import client as agent

    if not args.all:
        raise ValidationError(
            "say what to forget: `credenza forget --all` (one environment goes with "
            "`credenza env remove APP ENV`)"
        )
    workspace = open_workspace(args)
    applications = len(workspace.config.applications)
    confirm_removal(
        args,
        f"Remove the secrets, pending secrets, cached tokens and sign-ins of {applications} "
        f"application(s) of {workspace.config_path} from your keyring, this machine's "
        "state for it, and stop the agent? The config file stays.",
    )
    environments = workspace.forget_all()
    stopped = agent.request({"op": "stop"}, wait_for_start=False) is not None
    output.info(
        f"forgot {environments} environment(s) of {applications} application(s): their keyring "
        "entries and local state" + ("; the agent was stopped" if stopped else "")
    )
    output.info(f"the config {workspace.config_path} was left as it was")
    return 0
