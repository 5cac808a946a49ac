"""`credenza env`: an application's environments — add, edit, list, discover, remove.

A little over 400 lines: one command group whose add and edit share every option of the record.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    confirm_removal,
    env_argument,
    given,
    json_option,
    missing_secret,
    open_workspace,
    run_async,
    yes_option,
)
from credenza.config.auth_methods import AUTH_METHODS
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.config.changes import EnvironmentChange
    from credenza.services.environments import ResolvedEnvironment
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    group = commands.group(
        "env", "environments of an application: add, edit, list, discover, remove"
    )
    add = group.command(
        "add",
        "add an environment (sandbox, production, ...)",
        cmd_add,
        "  credenza env add telenor-sms production --client-id ID --token-url URL\n"
        "  credenza env add telenor-sms production --client-id ID --issuer https://id.example.com\n"
        "  credenza env add telenor-sms production --client-id ID --api-url https://api.example.com",
    )
    app_argument(add)
    env_argument(add)
    add.add_argument("--client-id", required=True, help="the client_id the provider gave you")
    # Neither is needed when the application's provider records the environment's endpoints.
    where = add.add_mutually_exclusive_group()
    where.add_argument("--token-url", help="the token endpoint")
    where.add_argument("--issuer", help="discover the endpoints from this issuer (RFC 8414 / OIDC)")
    _options(add)
    edit = group.command(
        "edit",
        "change an environment's fields; an empty value clears an optional field",
        cmd_edit,
        "  credenza env edit telenor-sms production --add-scope sms:read\n"
        "  credenza env edit telenor-sms production --introspection-url ''   # clear it",
    )
    app_argument(edit)
    env_argument(edit)
    edit.add_argument("--client-id", help="a new client_id")
    edit.add_argument("--token-url", help="the token endpoint")
    edit.add_argument(
        "--issuer",
        help="a new issuer: its endpoints are discovered again (URLs given here win)",
    )
    edit.add_argument("--add-scope", action="append", default=[], help="add a scope (repeatable)")
    edit.add_argument(
        "--remove-scope",
        action="append",
        default=[],
        help="remove a scope, granted or requested (repeatable)",
    )
    edit.add_argument(
        "--request-scope",
        action="append",
        default=[],
        help="a scope asked of the provider, not granted yet: listed by status, never sent "
        "(repeatable)",
    )
    edit.add_argument(
        "--grant-scope",
        action="append",
        default=[],
        help="a requested scope the provider has granted: sent from now on (repeatable)",
    )
    _options(edit)
    listing = group.command(
        "list", "list an application's environments", cmd_list, "  credenza env list telenor-sms"
    )
    app_argument(listing)
    json_option(listing)
    discover = group.command(
        "discover",
        "fill the endpoints from the issuer's metadata",
        cmd_discover,
        "  credenza env discover telenor-sms production",
    )
    app_argument(discover)
    env_argument(discover)
    discover.add_argument("--issuer", help="the issuer (default: the environment's)")
    remove = group.command(
        "remove",
        "remove an environment and its keyring entries",
        cmd_remove,
        "  credenza env remove telenor-sms sandbox --yes",
    )
    app_argument(remove)
    env_argument(remove)
    yes_option(remove)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope", dest="scopes", action="append", help="a scope (repeatable; replaces the list)"
    )
    parser.add_argument(
        "--auth-method",
        choices=[*AUTH_METHODS, ""],
        help="how the client authenticates at the token endpoint (private_key_jwt: a key from "
        "`secret set --private-key`; tls_client_auth: --certificate and its key; none: a public "
        "client)",
    )
    parser.add_argument(
        "--authorization-url", help="where a person signs in (authorization code grant)"
    )
    parser.add_argument("--device-authorization-url", help="RFC 8628 device authorization endpoint")
    parser.add_argument(
        "--certificate", help="mTLS: the client certificate file (PEM); its key goes in the keyring"
    )
    parser.add_argument("--key-id", help="private_key_jwt: the key's id (kid) at the provider")
    parser.add_argument(
        "--assertion-audience",
        help="private_key_jwt: the assertion's aud when the provider wants its issuer",
    )
    parser.add_argument("--audience", help="the audience parameter some providers need")
    parser.add_argument("--resource", help="RFC 8707 resource indicator")
    parser.add_argument("--revocation-url", help="RFC 7009 revocation endpoint")
    parser.add_argument("--introspection-url", help="RFC 7662 introspection endpoint")
    parser.add_argument("--logout-url", help="logout endpoint (GET + Bearer, as Telenor does)")
    parser.add_argument(
        "--api-url",
        help="the API's base URL: `credenza api APP PATH` calls PATH on it with the token "
        "(https, or http to loopback)",
    )
    dpop = parser.add_mutually_exclusive_group()
    dpop.add_argument(
        "--dpop",
        action="store_const",
        const=True,
        dest="dpop",
        help="RFC 9449: bind tokens to a key of this environment (kept in the keyring); "
        "every token request and API call carries a proof",
    )
    dpop.add_argument(
        "--no-dpop", action="store_const", const=False, dest="dpop", help="plain Bearer tokens"
    )
    parser.add_argument(
        "--secret-expires",
        metavar="DATE",
        help="when the provider says the secret expires (YYYY-MM-DD, UTC); '' clears it",
    )
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        metavar="KEY=VALUE",
        help="add an extra form parameter (repeatable); KEY= removes one",
    )


def change_from(args: argparse.Namespace) -> EnvironmentChange:
    """The typed change the options describe: absent = unchanged, '' = cleared."""
    from credenza.config.changes import EnvironmentChange

    fields = given(
        args,
        "client_id",
        "token_url",
        "issuer",
        "auth_method",
        "audience",
        "resource",
        "revocation_url",
        "introspection_url",
        "logout_url",
        "authorization_url",
        "device_authorization_url",
        "certificate",
        "key_id",
        "assertion_audience",
        "api_url",
        "scopes",
    )
    if getattr(args, "dpop", None) is not None:
        fields["dpop"] = args.dpop
    if fields.get("certificate"):
        # Given on the command line: relative to where the person is, so stored absolute (a
        # relative path in the file is taken from the config's directory).
        import os

        fields["certificate"] = os.path.abspath(os.path.expanduser(fields["certificate"]))
    expires = getattr(args, "secret_expires", None)
    if expires is not None:
        fields["secret_expires_at"] = parse_date(expires) if expires.strip() else None
    # "a b" is two scopes, as in the dashboard's form and the OAuth `scope` parameter itself.
    if isinstance(fields.get("scopes"), list):
        fields["scopes"] = [scope for given_ in fields["scopes"] for scope in given_.split()]
    fields["add_scopes"] = [s for given_ in getattr(args, "add_scope", []) for s in given_.split()]
    for option in ("remove_scope", "request_scope", "grant_scope"):
        fields[option + "s"] = [s for given_ in getattr(args, option, []) for s in given_.split()]
    from credenza.oauth.params import split_param_edits

    setting, removing = split_param_edits(args.params or [])
    fields["set_params"], fields["remove_params"] = setting, removing
    return EnvironmentChange(**fields)


def parse_date(value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time; a time without a zone is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a date", hint="use YYYY-MM-DD, e.g. 2027-05-01"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def with_discovered(
    workspace: Workspace, issuer: str, change: EnvironmentChange
) -> EnvironmentChange:
    """``change`` with the endpoints the issuer's metadata gives. Discovered first, so a wrong
    issuer changes nothing; URLs given on the command line win over discovered ones."""
    found = run_async(workspace, workspace.environments.endpoints_from_issuer(issuer))
    return _given_wins(change, found)


def with_discovered_from_api(
    workspace: Workspace, api_url: str, change: EnvironmentChange
) -> EnvironmentChange:
    """``change`` with what the API's protected-resource metadata (RFC 9728) leads to: its
    authorization server's endpoints and its resource identifier (RFC 8707); given wins."""
    found, source = run_async(workspace, workspace.api.endpoints_from_api(api_url))
    output.info(
        f"the API's metadata ({source}) names the authorization server {found.issuer}; "
        f"tokens are requested for the resource {found.resource}"
    )
    return _given_wins(change, found)


def _given_wins(change: EnvironmentChange, found: EnvironmentChange) -> EnvironmentChange:
    """``change`` with every field ``found`` has and the command line did not give."""
    import msgspec

    merged = {
        key: value
        for key, value in msgspec.structs.asdict(found).items()
        if value is not None
        and value is not msgspec.UNSET
        and getattr(change, key) is msgspec.UNSET
    }
    return msgspec.structs.replace(change, **merged)


def cmd_add(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    change = change_from(args)
    from_api = False
    if not args.token_url and not args.issuer:
        application = workspace.applications.get(args.app)
        profile = workspace.providers.profile(application.provider or "")
        defaults = profile.environments.get(args.env, {})
        from_api = bool(args.api_url) and not defaults.get("token_url")
        if not defaults.get("token_url") and not from_api:
            raise ValidationError(
                f"give the token endpoint (--token-url), the issuer (--issuer) or the API "
                f"(--api-url) of {args.env}",
                hint="or record it once for the provider: credenza provider edit PROVIDER "
                f"--env {args.env} --token-url URL",
            )
    if args.issuer:
        change = with_discovered(workspace, args.issuer, change)
    if from_api:
        change = with_discovered_from_api(workspace, args.api_url, change)
    warnings = workspace.environments.client_id_warnings(args.app, args.env, args.client_id)
    workspace.environments.add(args.app, args.env, change)
    for warning in warnings:
        output.warn(output.advised(warning))
    resolved = workspace.environments.resolve(args.app, args.env)
    output.info(f"added {resolved.label}; token endpoint {resolved.token_url}")
    plain_http_warnings(resolved)
    if resolved.name == "production":
        from credenza.cli.app import production_warnings

        production_warnings(workspace, resolved.application.id)
    output.info(f"next: credenza secret set {resolved.application.id} {resolved.name}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    warnings = (
        workspace.environments.client_id_warnings(args.app, args.env, args.client_id)
        if args.client_id
        else []
    )
    change = change_from(args)
    if args.issuer:
        # A new issuer means new endpoints: rediscovered, as `env add --issuer` does.
        change = with_discovered(workspace, args.issuer, change)
    workspace.environments.edit(args.app, args.env, change)
    resolved = workspace.environments.resolve(args.app, args.env)
    output.info(f"updated {resolved.label}")
    for warning in warnings:
        output.warn(output.advised(warning))
    plain_http_warnings(resolved)
    if args.issuer:
        foreign_endpoint_warnings(workspace, args.app, args.env)
    return 0


def plain_http_warnings(resolved: ResolvedEnvironment) -> None:
    """Said when the endpoint is saved, not first at the token call that refuses it."""
    from urllib.parse import urlsplit

    from credenza.oauth.origins import is_loopback
    from credenza.services.binding import credentialed_endpoints

    for name, url in credentialed_endpoints(resolved).items():
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            output.warn(
                f"the {name.replace('_', ' ')} URL {url} is plain http: credenza sends no "
                "credential there (https only, except to loopback); use its https:// URL"
            )


def cmd_list(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    application = workspace.applications.get(args.app)
    rows = []
    data = []
    for name in application.environments:
        resolved = workspace.environments.resolve(application.id, name)
        age = workspace.credentials.age(application.id, name, check_keyring=True)
        rows.append(
            [
                name,
                resolved.environment.client_id,
                resolved.token_url or "-",
                resolved.auth_method,
                " ".join(
                    [
                        *resolved.environment.scopes,
                        *(f"({s}?)" for s in resolved.environment.requested_scopes),
                    ]
                )
                or "-",
                output.age(age) if age is not None else missing_secret(workspace),
                output.expiry(resolved.environment.secret_expires_at, workspace.clock()),
                (resolved.api_url or "-") + (" (DPoP)" if resolved.environment.dpop else ""),
            ]
        )
        data.append(
            {
                "name": name,
                "client_id": resolved.environment.client_id,
                "token_url": resolved.token_url,
                "auth_method": resolved.auth_method,
                "scopes": list(resolved.environment.scopes),
                "requested_scopes": list(resolved.environment.requested_scopes),
                "api_url": resolved.api_url,
                "dpop": resolved.environment.dpop,
                "secret_age_seconds": int(age.total_seconds()) if age is not None else None,
                "secret_set_at": output.iso(resolved.environment.secret_set_at),
                "secret_rotated_at": output.iso(resolved.environment.secret_rotated_at),
                "secret_expires_at": output.iso(resolved.environment.secret_expires_at),
            }
        )
    if args.json:
        output.print_json(data)
    else:
        output.table(
            rows,
            ["ENV", "CLIENT_ID", "TOKEN URL", "AUTH", "SCOPES", "SECRET AGE", "EXPIRES", "API URL"],
        )
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    environment = run_async(
        workspace, workspace.environments.discover(args.app, args.env, args.issuer)
    )
    output.info(f"token endpoint {environment.token_url}")
    for label, value in (
        ("revocation", environment.revocation_url),
        ("introspection", environment.introspection_url),
        ("logout", environment.logout_url),
        ("authorization", environment.authorization_url),
        ("device authorization", environment.device_authorization_url),
    ):
        if value:
            output.info(f"{label} endpoint {value}")
    foreign_endpoint_warnings(workspace, args.app, args.env)
    return 0


def foreign_endpoint_warnings(workspace: Workspace, app: str, env: str) -> None:
    """After a discovery: the endpoints on another origin than the secret was confirmed for."""
    from credenza.oauth.origins import origin_of

    for name, url in workspace.credentials.after_discovery(app, env).items():
        output.warn(
            f"the {name.replace('_', ' ')} endpoint {url} is on another origin than the "
            "credential was confirmed for; nothing is sent there until you run `credenza secret "
            f"confirm-endpoint {app} {env} --origin {origin_of(url)}`"
        )


def cmd_remove(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    confirm_removal(args, f"Remove {resolved.label} and its secret?")
    workspace.environments.remove(resolved.application.id, resolved.name)
    output.info(f"removed environment {resolved.label}")
    return 0
