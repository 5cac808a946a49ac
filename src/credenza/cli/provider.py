"""`credenza provider`: provider records — add, edit, list, show, remove, the sandbox's admin
token, and the catalogue of API (group) instances with their SLA tiers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import (
    Group,
    confirm_removal,
    given,
    json_option,
    open_workspace,
    read_secret,
    run_async,
    yes_option,
)
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.config.model import CatalogueTier, ProviderChange
    from credenza.providers.base import CatalogueEntry
    from credenza.workspace import Workspace

ENDPOINTS = ("issuer", "token_url", "revocation_url", "introspection_url", "logout_url")


def register(commands: Group) -> None:
    group = commands.group(
        "provider", "API providers: add, edit, list, show, remove, admin-token, api"
    )
    add = group.command(
        "add",
        "add a provider: a profile, its endpoints per environment, how it rotates secrets",
        cmd_add,
        "  credenza provider add acme-pipedrive --profile pipedrive\n"
        "  credenza provider add telenor-test --profile telenor --env test "
        "--token-url https://test.api.telenor.no/oauth/v2/token\n"
        "  credenza provider add mine --sandbox http://127.0.0.1:8400   # credenza sandbox serve",
    )
    key_argument(add)
    add.add_argument("--name", help="the provider's display name (default: the key)")
    add.add_argument(
        "--sandbox",
        metavar="URL",
        help="a `credenza sandbox serve` at URL: credenza resets secrets and decides contracts "
        "there (store its admin token with `credenza provider admin-token KEY`)",
    )
    _options(add)
    edit = group.command(
        "edit",
        "change a provider's fields; an empty value clears a field",
        cmd_edit,
        "  credenza provider edit telenor --basic-encoding rfc6749\n"
        "  credenza provider edit acme --env production --token-url https://id.acme.test/token\n"
        "  credenza provider edit acme --rotation-days ''   # clear it",
    )
    key_argument(edit)
    edit.add_argument("--name", help="a new display name")
    edit.add_argument("--sandbox", metavar="URL", help="make it (or move it to) a sandbox at URL")
    edit.add_argument(
        "--remove-env",
        metavar="ENV",
        action="append",
        default=[],
        help="drop the endpoints recorded for an environment (repeatable)",
    )
    _options(edit)
    listing = group.command(
        "list",
        "list providers: your records and the shipped profiles",
        cmd_list,
        "  credenza provider list\n  credenza provider list --json",
    )
    json_option(listing)
    show = group.command(
        "show",
        "show a provider as credenza uses it: its record on top of its profile",
        cmd_show,
        "  credenza provider show telenor\n  credenza provider show mine --json",
    )
    key_argument(show)
    json_option(show)
    remove = group.command(
        "remove",
        "remove a provider record and its admin token (refused while applications use it)",
        cmd_remove,
        "  credenza provider remove mine --yes",
    )
    key_argument(remove)
    yes_option(remove)
    token = group.command(
        "admin-token",
        "store a sandbox provider's admin token in the keyring (prompt, stdin or a variable)",
        cmd_admin_token,
        "  credenza provider admin-token mine                 # hidden prompt\n"
        "  credenza provider admin-token mine --from-env SANDBOX_ADMIN_TOKEN",
    )
    key_argument(token)
    token.add_argument(
        "--from-env", metavar="VAR", help="read the token from this environment variable"
    )
    api = group.group("api", "a provider's catalogue: API and API group instances, SLA tiers")
    api_add = api.command(
        "add",
        "add (or replace) an API or API group instance with its SLA tiers",
        cmd_api_add,
        "  credenza provider api add anypoint orders-v2 --name Orders --instance v2 "
        "--tier Silver:1 --tier Gold:2\n"
        "  credenza provider api add anypoint fibre-all --name 'Fibre APIs' --instance v1 "
        "--group --member Orders --member Lines --tier Bronze:1:auto",
    )
    key_argument(api_add)
    api_add.add_argument("id", metavar="ID", help="the instance's id (lowercase, unique)")
    api_add.add_argument("--name", required=True, help="the API's (or API group's) name")
    api_add.add_argument("--instance", required=True, help="the instance label (v1, v2, ...)")
    api_add.add_argument(
        "--env", default="production", help="the environment it serves (default: production)"
    )
    api_add.add_argument("--group", action="store_true", help="an API group instance")
    api_add.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="API",
        help="an API of the group (repeatable)",
    )
    api_add.add_argument(
        "--tier",
        action="append",
        default=[],
        metavar="NAME:RANK[:auto]",
        help="an SLA tier; a higher rank is less restrictive; ':auto' approves at once "
        "(repeatable)",
    )
    api_add.add_argument(
        "--terms", help="the terms and conditions a request accepts: their URL or text"
    )
    api_add.add_argument(
        "--client-provider",
        help="Anypoint: the client provider the instance takes clients from (only applications "
        "of the same one may request access)",
    )
    api_list = api.command(
        "list",
        "list a provider's catalogue",
        cmd_api_list,
        "  credenza provider api list anypoint\n  credenza provider api list mine --json",
    )
    key_argument(api_list)
    json_option(api_list)
    api_remove = api.command(
        "remove",
        "remove an API instance from a portal provider's catalogue",
        cmd_api_remove,
        "  credenza provider api remove anypoint orders-v2 --yes",
    )
    key_argument(api_remove)
    api_remove.add_argument("id", metavar="ID", help="the instance's id")
    yes_option(api_remove)


def key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "key", metavar="PROVIDER", help="the provider's key (what `app --provider` names)"
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        help="a shipped profile to start from (telenor, pipedrive, chorus, newvoicemedia, ...)",
    )
    parser.add_argument("--portal-url", help="where the provider's developer portal is")
    parser.add_argument(
        "--auth-method",
        choices=["client_secret_basic", "client_secret_post", ""],
        help="how clients authenticate at the token endpoint",
    )
    parser.add_argument(
        "--basic-encoding",
        dest="basic_auth_encoding",
        choices=["rfc6749", "raw", ""],
        help="client_secret_basic: rfc6749 form-encodes id and secret first (the spec); raw "
        "sends them as they are (curl -u, Telenor)",
    )
    parser.add_argument(
        "--rotation",
        choices=["cutover", "overlap", ""],
        help="cutover: the old secret dies at a reset; overlap: both work until retired",
    )
    parser.add_argument(
        "--secret-length", metavar="N", help="the length of its secrets (a paste is checked)"
    )
    parser.add_argument(
        "--rotation-days",
        metavar="N",
        help="a secret older than N days is due for rotation (`credenza status`)",
    )
    parser.add_argument(
        "--errors",
        dest="errors_file",
        metavar="FILE",
        help="a TOML file of its numbered error codes ([[errors]] endpoint, status, code, "
        "explanation, kind)",
    )
    parser.add_argument(
        "--env",
        help="the environment the endpoint options below are for (default: production; "
        "with --sandbox: sandbox)",
    )
    parser.add_argument("--issuer", help="its issuer (RFC 8414 / OIDC discovery)")
    parser.add_argument("--token-url", help="its token endpoint")
    parser.add_argument("--revocation-url", help="its RFC 7009 revocation endpoint")
    parser.add_argument("--introspection-url", help="its RFC 7662 introspection endpoint")
    parser.add_argument("--logout-url", help="its logout endpoint (GET + Bearer)")


def _number(value: str | None, option: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"{option} {value!r} is not a whole number") from None
    return number


def change_from(args: argparse.Namespace, workspace: Workspace) -> ProviderChange:
    """The typed change the options describe: absent = unchanged, '' = cleared."""
    import os

    from credenza.config.model import ProviderChange, ProviderEnvironmentChange

    fields = given(args, "profile", "portal_url", "auth_method", "basic_auth_encoding", "rotation")
    if args.errors_file is not None:
        fields["errors_file"] = os.path.abspath(args.errors_file) if args.errors_file else None
    for key, option in (("secret_length", "--secret-length"), ("rotation_days", "--rotation-days")):
        value = getattr(args, key, None)
        if value is not None:
            fields[key] = _number(value, option)
    if getattr(args, "name", None):
        fields["name"] = args.name
    endpoints: dict[str, Any] = {
        key: getattr(args, key) or None for key in ENDPOINTS if getattr(args, key) is not None
    }
    env_name = args.env or ("sandbox" if args.sandbox else "production")
    if args.sandbox:
        fields["kind"] = "sandbox"
        fields["admin_url"] = args.sandbox.rstrip("/")
        if not endpoints:
            # The sandbox says where its endpoints are (RFC 8414), so a wrong URL adds nothing.
            found = run_async(
                workspace, workspace.environments.endpoints_from_issuer(fields["admin_url"])
            )
            endpoints = {
                key: value for key in ENDPOINTS if isinstance(value := getattr(found, key), str)
            }
    environments = {env_name: ProviderEnvironmentChange(**endpoints)} if endpoints else {}
    return ProviderChange(
        **fields,
        environments=environments,
        remove_environments=list(getattr(args, "remove_env", [])),
    )


def cmd_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    provider = workspace.providers.add(args.key, change_from(args, workspace))
    output.info(f"added the provider {args.key} ({provider.name})")
    if provider.kind == "sandbox" and not workspace.providers.has_admin_token(args.key):
        output.info(
            f"next: credenza provider admin-token {args.key}   (the token `credenza sandbox "
            "serve` printed)"
        )
    output.info(f"use it: credenza app add NAME --provider {args.key}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.providers.get(args.key)
    workspace.providers.edit(args.key, change_from(args, workspace))
    output.info(f"updated the provider {args.key}")
    return 0


def provider_json(workspace: Workspace, key: str) -> dict[str, Any]:
    record = workspace.config.providers.get(key)
    profile = workspace.providers.profile(key)
    return {
        "key": key,
        "record": output.record(record) if record is not None else None,
        "name": profile.name,
        "kind": record.kind if record is not None else "manual",
        "profile": profile.key,
        "portal_url": profile.portal_url,
        "auth_method": profile.auth_method,
        "basic_auth_encoding": profile.basic_auth_encoding,
        "rotation": profile.rotation,
        "rotation_days": profile.rotation_days,
        "secret_length": profile.secret_length,
        "client_id_fixed": profile.client_id_fixed,
        "environments": profile.environments,
        "error_codes": len(profile.errors),
        "applications": [a.id for a in workspace.providers.users(key)],
        "admin_token_stored": (
            workspace.providers.has_admin_token(key)
            if record is not None and record.kind == "sandbox"
            else None
        ),
    }


def cmd_list(args: argparse.Namespace) -> int:
    from credenza.providers.profiles import shipped_profiles

    workspace = open_workspace(args)
    keys = list(workspace.config.providers)
    keys += [k for k in shipped_profiles() if k not in keys]
    data = [provider_json(workspace, key) for key in keys]
    if args.json:
        output.print_json(data)
        return 0
    rows = [
        [
            item["key"],
            item["name"],
            item["kind"] if item["record"] is not None else "profile",
            item["rotation"],
            item["auth_method"],
            ", ".join(item["applications"]) or "-",
        ]
        for item in data
    ]
    output.table(rows, ["KEY", "NAME", "KIND", "ROTATION", "AUTH", "APPLICATIONS"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from credenza.providers.profiles import shipped_profiles

    workspace = open_workspace(args)
    if args.key not in workspace.config.providers and args.key not in shipped_profiles():
        workspace.providers.get(args.key)  # the not-found error, with the known keys
    data = provider_json(workspace, args.key)
    if args.json:
        output.print_json(data)
        return 0
    fields = [
        ("key", data["key"]),
        ("name", data["name"]),
        ("kind", data["kind"] if data["record"] is not None else "shipped profile only"),
        ("profile", data["profile"]),
        ("portal", data["portal_url"]),
        ("auth method", data["auth_method"]),
        ("Basic encoding", data["basic_auth_encoding"]),
        ("rotation", data["rotation"]),
        ("rotation days", data["rotation_days"]),
        ("secret length", data["secret_length"]),
        ("error codes", data["error_codes"] or None),
        ("applications", ", ".join(data["applications"])),
    ]
    if data["admin_token_stored"] is not None:
        fields.append(("admin token", "stored" if data["admin_token_stored"] else "NOT stored"))
    lines = [
        f"{label:>14}: {'-' if value is None or value == '' else value}" for label, value in fields
    ]
    for name, endpoints in data["environments"].items():
        lines.append(f"[{name}]")
        lines += [f"{key:>20}: {value}" for key, value in endpoints.items()]
    for line in lines:
        print(output.shown(line))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    provider = workspace.providers.get(args.key)
    # Refused before the question, so nobody confirms a removal that cannot happen.
    workspace.providers.check_removable(args.key)
    confirm_removal(args, f"Remove the provider {args.key} ({provider.name}) and its admin token?")
    workspace.providers.remove(args.key)
    output.info(f"removed the provider {args.key}")
    return 0


def cmd_admin_token(args: argparse.Namespace) -> int:
    from credenza.secrets import Secret

    workspace = open_workspace(args)
    provider = workspace.providers.get(args.key)
    if provider.kind != "sandbox":
        raise ValidationError(
            f"{args.key} is not a sandbox provider; only a sandbox has an admin token",
            hint=f"make it one: credenza provider edit {args.key} --sandbox URL",
        )
    value = read_secret(args, f"Admin token of the sandbox {args.key}: ")
    workspace.providers.set_admin_token(args.key, Secret(value.strip()))
    output.info(f"stored the admin token of {args.key} in the keyring")
    return 0


def parse_tier(value: str) -> CatalogueTier:
    from credenza.config.model import CatalogueTier

    name, _, rest = value.partition(":")
    rank, _, auto = rest.partition(":")
    if not name.strip() or auto not in ("", "auto"):
        raise ValidationError(f"--tier {value!r} is not NAME:RANK or NAME:RANK:auto")
    return CatalogueTier(
        name=name.strip(), rank=_number(rank, "--tier rank") or 0, auto_approve=auto == "auto"
    )


def cmd_api_add(args: argparse.Namespace) -> int:
    import msgspec

    from credenza.config.model import CatalogueApi

    workspace = open_workspace(args)
    try:
        api = msgspec.convert(
            {
                "id": args.id,
                "name": args.name,
                "instance": args.instance,
                "environment": args.env,
                "target": "api_group" if args.group else "api",
                "apis": args.member,
                "terms": args.terms,
                "client_provider": args.client_provider,
                "tiers": [msgspec.to_builtins(parse_tier(t)) for t in args.tier],
            },
            CatalogueApi,
        )
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc).replace("@", ""), hint="nothing was added") from None
    entry = run_async(workspace, workspace.providers.add_api(args.key, api))
    output.info(f"{args.key}: {entry.name} {entry.instance} ({entry.id}) is in the catalogue")
    return 0


def entry_json(entry: CatalogueEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "instance": entry.instance,
        "target": entry.target,
        "environment": entry.environment,
        "apis": list(entry.apis),
        "terms": entry.terms,
        "client_provider": entry.client_provider,
        "tiers": [{"name": n, "auto_approve": a, "rank": r} for n, a, r in entry.tiers],
    }


def print_catalogue(entries: list[CatalogueEntry], as_json: bool) -> None:
    if as_json:
        output.print_json([entry_json(e) for e in entries])
        return
    if not entries:
        output.info("the catalogue is empty: credenza provider api add PROVIDER ID ...")
        return
    rows = [
        [
            e.id,
            e.name + (" (group: " + ", ".join(e.apis) + ")" if e.target == "api_group" else ""),
            e.instance,
            e.environment,
            ", ".join(f"{n} ({r}{', auto' if a else ''})" for n, a, r in e.tiers) or "-",
        ]
        for e in entries
    ]
    output.table(rows, ["ID", "API", "INSTANCE", "ENV", "SLA TIERS (RANK)"])


def cmd_api_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.providers.get(args.key)
    print_catalogue(run_async(workspace, workspace.providers.catalogue(args.key)), args.json)
    return 0


def cmd_api_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    workspace.providers.get(args.key)
    confirm_removal(args, f"Remove {args.id} from the catalogue of {args.key}?")
    workspace.providers.remove_api(args.key, args.id)
    output.info(f"removed {args.id} from the catalogue of {args.key}")
    return 0
