"""`credenza keyring`: which keyring holds secrets and tokens — status, use file|system."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from credenza.cli import output
from credenza.cli.common import Group, open_workspace
from credenza.errors import ValidationError
from credenza.secrets import Setting


def register(commands: Group) -> None:
    keyring_ = commands.command(
        "keyring",
        "which keyring holds secrets and tokens: status, use file|system",
        cmd_keyring,
        "  credenza keyring status\n  credenza keyring use file     # a headless box",
    )
    keyring_.add_argument("action", choices=["status", "use"], help="status, or use a keyring")
    keyring_.add_argument(
        "kind",
        nargs="?",
        # The settings the registered keyrings are chosen by (secrets/backend.py), and "auto".
        choices=[*sorted(get_args(Setting)), "auto"],
        help="file (encrypted) or system (the desktop's; auto is the older name); kept in your "
        "own settings, never in the shared config",
    )
    keyring_.add_argument("--json", action="store_true", help="status: print JSON")


def cmd_keyring(args: argparse.Namespace) -> int:
    from credenza.config.local import user_settings_path
    from credenza.secrets import setup

    if args.action == "use":
        return _use(args.kind, user_settings_path())
    workspace = open_workspace(args)
    if args.action == "status":
        found = setup.status(workspace.secrets)
        if args.json:
            output.print_json(
                {
                    "kind": found.kind,
                    "label": found.label,
                    "path": str(found.path) if found.path else None,
                }
            )
            return 0
        output.info(
            f"keyring: {found.label}" + (' (keyring = "file")' if found.kind == "file" else "")
        )
    return 0


def _use(kind: str | None, settings: Path) -> int:
    """Needs no workspace: it is how a person gets past a keyring the shared config chose."""
    from credenza.secrets import setup

    if kind is None:
        raise ValidationError(
            "say which: `credenza keyring use file` or `credenza keyring use system`"
        )
    if kind in ("system", "auto"):
        setup.use_system_keyring(settings)
        output.info(
            f"secrets now go to the desktop keyring (your choice, kept in {settings}); "
            "the file keyring was left as it was"
        )
        return 0
    created = setup.use_file_keyring(settings)
    what = "created" if created.created else "opened"
    output.info(
        f"{what} the encrypted file keyring {created.path}; secrets and tokens now go there "
        f"(your choice, kept in {settings})"
    )
    output.info(
        "store your secrets again with `credenza secret set APP ENV` (they stay in the old keyring)"
    )
    return 0
