"""`credenza app`: applications — add, edit, list, show, remove."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    confirm_removal,
    given,
    json_option,
    missing_secret,
    open_workspace,
    yes_option,
)

if TYPE_CHECKING:
    from credenza.config.model import ApplicationChange
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    group = commands.group("app", "applications: add, list, show, edit, remove")
    add = group.command(
        "add",
        "add an application (only the name is required)",
        cmd_add,
        "  credenza app add 'Telenor SMS' --provider telenor --owner kari@example.no",
    )
    add.add_argument("name", help="the application's name (unique, whatever the case)")
    _options(add)
    edit = group.command(
        "edit",
        "change an application's fields; an empty value clears a field",
        cmd_edit,
        "  credenza app edit telenor-sms --callback-url https://example.no/callback\n"
        "  credenza app edit telenor-sms --description ''   # clear it",
    )
    app_argument(edit)
    edit.add_argument("--name", help="a new name (the id stays)")
    edit.add_argument(
        "--default-env",
        dest="default_environment",
        metavar="ENV",
        help="the environment token, exec, verify and login use without --env ('' clears)",
    )
    _options(edit)
    listing = group.command("list", "list applications", cmd_list, "  credenza app list --json")
    json_option(listing)
    show = group.command(
        "show",
        "show an application, its environments, contracts and checklist",
        cmd_show,
        "  credenza app show telenor-sms",
    )
    app_argument(show)
    json_option(show)
    remove = group.command(
        "remove",
        "remove an application and its keyring entries",
        cmd_remove,
        "  credenza app remove telenor-sms --yes",
    )
    app_argument(remove)
    yes_option(remove)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", help="provider key (telenor, pipedrive, ... or your own)")
    parser.add_argument("--org", dest="organisation", help="the organisation it is registered to")
    parser.add_argument(
        "--owner",
        dest="owners",
        action="append",
        help="an owner's email (repeatable; replaces the list)",
    )
    parser.add_argument("--type", choices=["private", "public"], help="private or public")
    parser.add_argument("--callback-url", help="the one OAuth callback URL")
    parser.add_argument("--description", help="what the application does")
    parser.add_argument("--url", help="where the application lives")
    parser.add_argument(
        "--grant-type",
        dest="grant_types",
        action="append",
        help="a grant type it uses (repeatable; replaces the list)",
    )
    parser.add_argument(
        "--api",
        dest="apis",
        action="append",
        help="an API it uses (repeatable; replaces the list)",
    )


def change_from(args: argparse.Namespace) -> ApplicationChange:
    """The typed change the options describe: absent = unchanged, '' = cleared."""
    from credenza.config.model import ApplicationChange

    fields = given(
        args,
        "provider",
        "organisation",
        "type",
        "callback_url",
        "description",
        "url",
        "default_environment",
        "owners",
        "grant_types",
        "apis",
    )
    if getattr(args, "name", None) and hasattr(args, "app"):
        fields["name"] = args.name
    return ApplicationChange(**fields)


def cmd_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.add(args.name, change_from(args))
    output.info(f"added {application.name} (id {application.id})")
    unknown_provider_warning(workspace, application.provider)
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.edit(args.app, change_from(args))
    output.info(f"updated {application.name}")
    if getattr(args, "provider", None):
        unknown_provider_warning(workspace, application.provider)
    return 0


def unknown_provider_warning(workspace: Workspace, provider: str | None) -> None:
    """A provider that is neither configured nor shipped is most likely a typo: said, not refused
    (the provider may be added next), since its rules would silently be the generic ones."""
    from credenza.providers.profiles import shipped_profiles

    if not provider or provider in workspace.config.providers or provider in shipped_profiles():
        return
    known = sorted({*workspace.config.providers, *shipped_profiles()})
    output.warn(
        f"no provider {provider!r} is configured or shipped (known: {', '.join(known)}); "
        f"until it is, OAuth2's generic rules apply: credenza provider add {provider} ..."
    )


def production_warnings(workspace: Workspace, app_id: str) -> None:
    """Warnings, not refusals: what the seeds require before production."""
    for item in workspace.checklist.items(app_id):
        if not item.ok and item.label in ("two application owners", "a real callback URL"):
            output.warn(f"before production: {item.label} ({item.detail})")


def cmd_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    applications = workspace.applications.all()
    if args.json:
        output.print_json([application_json(workspace, a.id) for a in applications])
        return 0
    if not applications:
        output.info("no applications yet: credenza app add NAME")
        return 0
    rows = []
    for application in applications:
        ready = workspace.checklist.items(application.id)
        rows.append(
            [
                application.id,
                application.name,
                application.provider or "-",
                application.organisation or "-",
                application.type,
                ", ".join(application.environments) or "-",
                f"{sum(i.ok for i in ready)}/{len(ready)}",
            ]
        )
    output.table(rows, ["ID", "NAME", "PROVIDER", "ORGANISATION", "TYPE", "ENVIRONMENTS", "READY"])
    return 0


def application_json(workspace: Workspace, app_id: str) -> dict[str, Any]:
    import msgspec

    application = workspace.applications.get(app_id)
    data: dict[str, Any] = msgspec.to_builtins(application)
    data["checklist"] = [
        {"item": i.label, "ok": i.ok, "detail": i.detail} for i in workspace.checklist.items(app_id)
    ]
    return data


def cmd_show(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.get(args.app)
    if args.json:
        output.print_json(application_json(workspace, application.id))
        return 0
    fields = [
        ("id", application.id),
        ("name", application.name),
        ("provider", application.provider),
        ("organisation", application.organisation),
        ("type", application.type),
        ("owners", ", ".join(application.owners)),
        ("description", application.description),
        ("url", application.url),
        ("callback URL", application.callback_url),
        ("grant types", ", ".join(application.grant_types)),
        ("APIs used", ", ".join(application.apis)),
        ("default env", application.default_environment),
    ]
    lines = [f"{label:>13}: {value or '-'}" for label, value in fields]
    for name in application.environments:
        resolved = workspace.environments.resolve(application.id, name)
        environment = resolved.environment
        age = workspace.credentials.age(application.id, name, check_keyring=True)
        lines += [
            f"\n[{name}]",
            f"    client_id: {environment.client_id}",
            f"    token URL: {resolved.token_url or '-'}",
            f"  auth method: {resolved.auth_method}",
            f"       scopes: {' '.join(environment.scopes) or '-'}",
            f"   secret age: {output.age(age) if age is not None else missing_secret(workspace)}",
            f"secret expiry: {output.expiry(environment.secret_expires_at, workspace.clock())}",
        ]
    lines.append("\nproduction checklist:")
    for item in workspace.checklist.items(application.id):
        detail = ": " + item.detail if item.detail else ""
        lines.append(f"  [{'x' if item.ok else ' '}] {item.label}{detail}")
    print(output.shown("\n".join(lines)))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.get(args.app)
    confirm_removal(
        args,
        f"Remove {application.name}, its {len(application.environments)} environment(s) and "
        "their secrets?",
    )
    workspace.applications.remove(application.id)
    output.info(f"removed {application.name}")
    return 0
