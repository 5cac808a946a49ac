"""`credenza doctor [--json]`: what is wrong with this set-up, one line per check."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import Group, json_option
from credenza.next_steps import fill

if TYPE_CHECKING:
    from credenza.services.doctor import Check


def register(commands: Group) -> None:
    doctor = commands.command(
        "doctor",
        "check this set-up: Python, the config, the keyring, the agent, provider endpoints and "
        "their clocks, shell completion; exit 1 when something is wrong",
        cmd_doctor,
        "  credenza doctor\n  credenza doctor --json | jq '.checks[] | select(.ok | not)'",
    )
    json_option(doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from credenza.cli import version
    from credenza.config.local import user_settings_path
    from credenza.services.doctor import Doctor, failed
    from credenza.workspace import default_config_path

    doctor = Doctor(
        getattr(args, "config", None) or default_config_path(),
        user_settings_path(),
        version(),
    )
    checks = asyncio.run(doctor.run())
    bad = failed(checks)
    if args.json:
        output.print_json({"ok": not bad, "checks": [record(check) for check in checks]})
    else:
        for check in checks:
            print(line(check))
        print(
            "\none or more checks failed: see ✗ above" if bad else "\nno problems found",
            file=sys.stdout,
        )
    return 1 if bad else 0


_TITLES = {
    "python": "python",
    "credenza": "credenza",
    "config": "config",
    "settings": "settings",
    "keyring": "keyring",
    "agent": "agent",
    "team_store": "team store",
    "endpoint": "endpoint",
    "completion": "completion",
}


def line(check: Check) -> str:
    """``✓ keyring  Secret Service, unlocked; …`` or ``✗ … — fix``; every part is shown clean."""
    mark = "✓" if check.ok else "✗"
    title = _TITLES[check.kind]
    if check.kind in ("endpoint", "settings") and check.subject != title:
        title = f"{title} {check.subject}"
    text = f"{mark} {title}: {check.found}"
    if check.fix:
        text += f" — {fix(check)}"
    return output.shown(text)


def fix(check: Check) -> str | None:
    """What to do about a failed check, each next step named as its command."""
    if check.fix is None:
        return None
    return fill(check.fix, check.next_steps, output.command, backticks=True)


def record(check: Check) -> dict[str, object]:
    """A check for --json: its fields, ``fix`` as the CLI says it, and ``next`` typed."""
    from dataclasses import asdict

    fields = asdict(check)
    del fields["next_steps"]
    return {**fields, "fix": fix(check), "next": output.next_record(check.next_steps)}
