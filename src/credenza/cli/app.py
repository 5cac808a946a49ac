"""`credenza app`: applications — add, edit, list, show, check, remove."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import (
    Group,
    Once,
    app_argument,
    confirm_removal,
    given,
    json_option,
    missing_secret,
    open_workspace,
    yes_option,
)

if TYPE_CHECKING:
    from credenza.config.changes import ApplicationChange
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
    members = group.group("member", "the people in the provider's portal (not API credentials)")
    member_set = members.command(
        "set",
        "record a person of the provider's portal and their role",
        cmd_member_set,
        "  credenza app member set telenor-sms kari@example.no --role administrator "
        "--identity 'Min Bedrift'\n"
        "  credenza app member set telenor-sms ola@example.no --identity ConnectID",
    )
    app_argument(member_set)
    member_set.add_argument("who", metavar="WHO", help="the person (email or name)")
    member_set.add_argument(
        "--role",
        choices=["developer", "administrator", "owner"],
        default="developer",
        help="their role in the portal (default: developer)",
    )
    member_set.add_argument("--identity", help="the login they use there (ConnectID, ...)")
    member_remove = members.command(
        "remove",
        "forget a person of the provider's portal",
        cmd_member_remove,
        "  credenza app member remove telenor-sms ola@example.no --yes",
    )
    app_argument(member_remove)
    member_remove.add_argument("who", metavar="WHO", help="the person")
    yes_option(member_remove)
    check = group.command(
        "check",
        "confirm a step of the production checklist that you do (the provider's emails, "
        "an approval)",
        cmd_check,
        "  credenza app check chorus-lines 'the Production Checklist Chorus emailed is "
        "completed and returned'\n"
        "  credenza app check chorus-lines 5          # the item's number in `app show`\n"
        "  credenza app check chorus-lines 5 --undo",
    )
    app_argument(check)
    check.add_argument("item", metavar="ITEM", help="the step's words, or its number in app show")
    check.add_argument("--undo", action="store_true", help="mark it not done again")
    remove = group.command(
        "remove",
        "remove an application and its keyring entries",
        cmd_remove,
        "  credenza app remove telenor-sms --yes",
    )
    app_argument(remove)
    yes_option(remove)
    from credenza.cli import registration

    registration.register(group)  # app register, app registration show|delete


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
    parser.add_argument(
        "--callback-url", action=Once, help="the one OAuth callback URL (given once)"
    )
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
    parser.add_argument(
        "--client-provider",
        help="Anypoint: the client provider its credentials come from (an API instance it "
        "requests access to must use the same one)",
    )


def change_from(args: argparse.Namespace) -> ApplicationChange:
    """The typed change the options describe: absent = unchanged, '' = cleared."""
    from credenza.config.changes import ApplicationChange

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
        "client_provider",
    )
    if getattr(args, "name", None) and hasattr(args, "app"):
        fields["name"] = args.name
    return ApplicationChange(**fields)


def cmd_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.add(args.name, change_from(args))
    output.info(f"added {application.name} (id {application.id})")
    unknown_provider_warning(workspace, application.provider)
    callback_warning(workspace, application.id, args)
    implicit_warning(application.grant_types)
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.edit(args.app, change_from(args))
    output.info(f"updated {application.name}")
    if getattr(args, "provider", None):
        unknown_provider_warning(workspace, application.provider)
    callback_warning(workspace, application.id, args)
    if getattr(args, "grant_types", None):
        implicit_warning(application.grant_types)
    return 0


def implicit_warning(grant_types: list[str]) -> None:
    """The implicit grant is recorded as the provider lists it, never run (RFC 9700)."""
    from credenza.oauth.grants import IMPLICIT_REFUSAL

    if "implicit" in grant_types:
        output.warn(f"the implicit grant is recorded, not used: {IMPLICIT_REFUSAL}")


def callback_warning(workspace: Workspace, app_id: str, args: argparse.Namespace) -> None:
    """Said where the callback URL is given, as the dashboard's form does: a placeholder works
    in a sandbox and fails the provider's production review."""
    if not getattr(args, "callback_url", None):
        return
    item = workspace.checklist.callback(app_id)
    if not item.ok:
        output.warn(
            f"the callback URL is a placeholder ({args.callback_url}); replace it before production"
        )


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
    from credenza.services.checklist import CALLBACK

    for item in workspace.checklist.items(app_id):
        if not item.ok and item.label in ("two application owners", CALLBACK):
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
    application = workspace.applications.get(app_id)
    data: dict[str, Any] = output.record(application)
    data["checklist"] = [
        {"item": i.label, "ok": i.ok, "detail": i.detail, "manual": i.manual}
        for i in workspace.checklist.items(app_id)
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
        ("client provider", application.client_provider),
        ("default env", application.default_environment),
        (
            "portal members",
            "; ".join(
                f"{m.who} ({m.role}{', ' + m.identity if m.identity else ''})"
                for m in application.members
            ),
        ),
    ]
    lines = [f"{label:>15}: {value or '-'}" for label, value in fields]
    lines += [f"{'note':>15}: {note}" for note in workspace.applications.notes(application.id)]
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
    items = workspace.checklist.items(application.id)
    for number, item in enumerate(items, 1):
        detail = ": " + item.detail if item.detail else ""
        lines.append(f"{number:>3}. [{'x' if item.ok else ' '}] {item.label}{detail}")
    if any(item.manual and not item.ok for item in items):
        lines.append(f"  confirm a step you did: credenza app check {application.id} NUMBER")
    print(output.shown("\n".join(lines)))
    return 0


def cmd_member_set(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    member = workspace.applications.set_member(args.app, args.who, args.role, args.identity)
    via = f" ({member.identity})" if member.identity else ""
    output.info(f"{member.who}{via}: {member.role} in the provider's portal")
    return 0


def cmd_member_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    confirm_removal(args, f"Forget {args.who} as a portal member?")
    member = workspace.applications.remove_member(args.app, args.who)
    output.info(f"{member.who} is no longer recorded as a portal member")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    step = workspace.checklist.confirm(args.app, args.item, done=not args.undo)
    output.info(f"{'not done' if args.undo else 'done'}: {step}")
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
