"""`credenza workspace`: the config's identity, which its keyring entries are kept under."""

from __future__ import annotations

import argparse

from credenza.cli import output
from credenza.cli.common import Group, open_workspace


def register(commands: Group) -> None:
    workspace = commands.command(
        "workspace",
        "the config's workspace id (its keyring entries are kept under it): show, new-id",
        cmd_workspace,
        "  credenza workspace show\n"
        "  credenza workspace new-id     # a copied config becomes a workspace of its own",
    )
    workspace.add_argument("action", choices=["show", "new-id"], help="show it, or make a new one")
    workspace.add_argument("--json", action="store_true", help="show: print JSON")


def cmd_workspace(args: argparse.Namespace) -> int:

    workspace = open_workspace(args)
    path = str(workspace.config_path)
    if args.action == "show":
        found = workspace.workspace_id
        if args.json:
            output.print_json({"workspace": found, "config": path})
        else:
            print(found)
        return 0
    old, new = workspace.new_id()
    print(new)
    output.info(
        f"{path} is now a workspace of its own: store its secrets again with "
        "`credenza secret set APP ENV` (and sign in again)"
    )
    if old is not None:
        output.info(
            f"the entries of its old id stay with the configs that still have it; to undo: "
            f'put workspace = "{old}" back at the top of {path}'
        )
    return 0
