"""`credenza team`: the team's secret store (Vault / OpenBao KV v2) — use, status, push."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import Group, json_option, open_workspace
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.services.team import TeamStore
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    group = commands.group(
        "team", "the team's secret store (HashiCorp Vault / OpenBao KV v2): use, status, push"
    )
    use = group.command(
        "use",
        "keep every client secret and key of this config in a Vault / OpenBao KV v2 path "
        "(writes [team] into the shared config; nothing personal)",
        cmd_use,
        "  credenza team use vault https://vault.example.com:8200 --path credenza/acme\n"
        "  credenza team use vault http://127.0.0.1:8200 --path credenza/acme --mount kv",
    )
    use.add_argument("backend", choices=["vault"], help="vault (HashiCorp Vault or OpenBao)")
    use.add_argument("address", metavar="ADDRESS", help="the store's address (https://...)")
    use.add_argument("--path", required=True, help="the path under the mount, e.g. credenza/acme")
    use.add_argument("--mount", default="secret", help="the KV version 2 mount (default: secret)")

    status = group.command(
        "status",
        "the store, where your store token comes from, whether it is valid, what it may do on "
        "the path, and which environments have a secret there",
        cmd_status,
        "  credenza team status\n  credenza team status --json",
    )
    json_option(status)

    push = group.command(
        "push",
        "copy your keyring's secrets into the team store where it has none; never overwrites",
        cmd_push,
        "  credenza team push",
    )
    json_option(push)


def _team(args: argparse.Namespace) -> tuple[Workspace, TeamStore]:
    workspace = open_workspace(args)
    team = workspace.credentials.team_store()
    if team is None:
        raise ValidationError(
            "this config has no team store",
            hint="set one: credenza team use vault ADDRESS --path PATH",
        )
    return workspace, team


def _environments(workspace: Workspace) -> list[tuple[str, str]]:
    return [
        (application.id, name)
        for application in workspace.config.applications
        for name in application.environments
    ]


def cmd_use(args: argparse.Namespace) -> int:
    from credenza.services.team_overview import team_record

    team = team_record(args.backend, args.address, args.path, args.mount)
    workspace = open_workspace(args)
    workspace.use_team(team)
    output.info(
        f"the secrets of this config now live in {team.mount}/data/{team.path}/APP/ENV at "
        f"{team.address}; check your access with `credenza team status`, copy your keyring's "
        "secrets there with `credenza team push`"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    workspace, team = _team(args)
    from credenza.services.team_overview import team_status

    status = team_status(team, _environments(workspace))
    if args.json:
        output.print_json(asdict(status))
        return 0 if status.token_valid else 3
    source = status.token_source or "none (set VAULT_TOKEN or BAO_TOKEN, or `bao login`)"
    output.info(f"store: {status.backend} at {status.address}")
    output.info(f"path: {status.mount}/data/{status.path}/APP/ENV")
    output.info(f"token: from {source}")
    if not status.token_valid:
        output.error(f"the store token is not usable: {status.problem}")
        return 3
    may = ", ".join(c for c in ("read", "write") if getattr(status, f"can_{c}")) or "nothing"
    output.info(f"valid: yes, as {status.who}; it may {may} ({', '.join(status.capabilities)})")
    rows = [
        [where, "team store" if version is not None else "missing", str(version or "")]
        for where, version in status.environments.items()
    ]
    if rows:
        output.table(rows, ["ENVIRONMENT", "SECRET", "VERSION"])
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    workspace, team = _team(args)
    from credenza.services.team_overview import push_all

    result = push_all(team, _environments(workspace), workspace.secrets)
    if args.json:
        output.print_json(asdict(result))
        return 1 if result.conflicts else 0
    for where in result.pushed:
        output.info(f"pushed {where}")
    for where in result.already:
        output.info(f"{where}: the same secret is already in the team store")
    for where in result.conflicts:
        output.warn(
            f"{where}: the team store has another secret; yours was NOT pushed (nothing is "
            "overwritten: `credenza secret history` shows who wrote it)"
        )
    if not result.pushed and not result.conflicts and not result.already:
        output.info("nothing to push: your keyring has no secret of this config's environments")
    return 1 if result.conflicts else 0
