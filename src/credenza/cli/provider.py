"""`credenza provider`: provider records — add, edit, list, show, remove, and the admin token of a
provider whose adapter has one; the options an adapter declares (`--sandbox URL`) come from the
registry. The catalogue (`provider api`) is its own group: cli/provider_api.py."""

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
    from credenza.config.changes import ProviderChange
    from credenza.providers.base import AdapterOption
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
    for option in adapter_options():
        add.add_argument(option.flag, metavar=option.metavar, help=option.help)
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
    for option in adapter_options():
        edit.add_argument(option.flag, metavar=option.metavar, help=option.edit_help)
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
    # `provider api`: its own module, registered under this group.
    from credenza.cli import provider_api

    provider_api.register(group)


def adapter_options() -> list[AdapterOption]:
    """The options the registered adapters declare (`--sandbox URL`)."""
    from credenza.providers.registry import adapters

    return [spec.option for spec in adapters().values() if spec.option is not None]


def _dest(option: AdapterOption) -> str:
    return option.flag.lstrip("-").replace("-", "_")


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
        + "; ".join(f"with {o.flag}: {o.environment}" for o in adapter_options())
        + ")",
    )
    parser.add_argument("--issuer", help="its issuer (RFC 8414 / OIDC discovery)")
    parser.add_argument("--token-url", help="its token endpoint")
    parser.add_argument("--revocation-url", help="its RFC 7009 revocation endpoint")
    parser.add_argument("--introspection-url", help="its RFC 7662 introspection endpoint")
    parser.add_argument("--logout-url", help="its logout endpoint (GET + Bearer)")


def number(value: str | None, option: str) -> int | None:
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

    from credenza.config.changes import ProviderChange, ProviderEnvironmentChange

    fields = given(args, "profile", "portal_url", "auth_method", "basic_auth_encoding", "rotation")
    if args.errors_file is not None:
        fields["errors_file"] = os.path.abspath(args.errors_file) if args.errors_file else None
    for key, option in (("secret_length", "--secret-length"), ("rotation_days", "--rotation-days")):
        value = getattr(args, key, None)
        if value is not None:
            fields[key] = number(value, option)
    if getattr(args, "name", None):
        fields["name"] = args.name
    endpoints: dict[str, Any] = {
        key: getattr(args, key) or None for key in ENDPOINTS if getattr(args, key) is not None
    }
    # The adapter options given (`--sandbox URL`): the kind and the fields each declares.
    chosen = [(o, url) for o in adapter_options() if (url := getattr(args, _dest(o), None))]
    env_name = args.env or (chosen[0][0].environment if chosen else "production")
    for adapter_option, url in chosen:
        fields.update(adapter_option.fields(url))
        issuer = adapter_option.issuer_field
        if issuer is not None and not endpoints:
            found = run_async(
                workspace, workspace.environments.endpoints_from_issuer(fields[issuer])
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
    admin_token = workspace.providers.spec(args.key).admin_token
    if admin_token is not None and not workspace.providers.has_admin_token(args.key):
        output.info(f"next: credenza provider admin-token {args.key}   ({admin_token})")
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
    spec = workspace.providers.spec(key)
    return {
        "key": key,
        "record": output.record(record) if record is not None else None,
        "name": profile.name,
        "kind": spec.kind,
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
            if record is not None and spec.admin_token is not None
            else None
        ),
    }


def cmd_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    keys = list(workspace.config.providers)
    keys += [k for k in workspace.providers.shipped() if k not in keys]
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
    workspace = open_workspace(args)
    if args.key not in workspace.config.providers and args.key not in workspace.providers.shipped():
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
    workspace.providers.get(args.key)
    if workspace.providers.spec(args.key).admin_token is None:
        raise ValidationError(
            f"{args.key} is not a sandbox provider; only a sandbox has an admin token",
            hint=f"make it one: credenza provider edit {args.key} --sandbox URL",
        )
    value = read_secret(args, f"Admin token of the sandbox {args.key}: ")
    workspace.providers.set_admin_token(args.key, Secret(value.strip()))
    output.info(f"stored the admin token of {args.key} in the keyring")
    return 0
