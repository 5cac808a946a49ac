"""`credenza secret`: client secrets and keys in the keyring — set, public-key, reset, recover,
discard-pending, retire-previous, confirm-endpoint.

A little over 400 lines: one command group, each command a thin renderer of its service.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    confirm,
    env_argument,
    open_workspace,
    read_secret,
    yes_option,
)
from credenza.errors import ValidationError
from credenza.oauth.origins import origin_of
from credenza.oauth.untrusted import clean
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    group = commands.group(
        "secret",
        "client secrets in the OS keyring or the team store: set, reset, retire-previous, recover, "
        "history, confirm-endpoint",
    )
    secret_set = group.command(
        "set",
        "store a client secret from a hidden prompt, stdin or a named variable",
        cmd_set,
        "  credenza secret set telenor-sms production           # hidden prompt\n"
        "  pass show telenor | credenza secret set telenor-sms production\n"
        "  credenza secret set telenor-sms production --from-env TELENOR_SECRET",
    )
    app_argument(secret_set)
    env_argument(secret_set)
    secret_set.add_argument(
        "--from-env", metavar="VAR", help="read the secret from this environment variable"
    )
    secret_set.add_argument(
        "--private-key",
        action="store_true",
        help="store a private key instead (PEM, RSA/EC/Ed25519), for private_key_jwt or mTLS",
    )
    secret_set.add_argument("--key-id", help="with --private-key: the key's id (kid)")
    secret_set.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="the secret may also go to this origin (scheme://host[:port]) where an endpoint "
        "of the environment is on another origin than the token endpoint; repeatable",
    )
    public_key = group.command(
        "public-key",
        "print the public JWK of the stored private key, to register at the provider",
        cmd_public_key,
        "  credenza secret public-key bank-api production > jwks.json",
    )
    app_argument(public_key)
    env_argument(public_key)
    reset = group.command(
        "reset",
        "rotate a secret: verified before it replaces the old one",
        cmd_reset,
        "  credenza secret reset telenor-sms production\n"
        "  credenza secret reset chorus-lines production --no-owner   # the owners reset it\n"
        "  credenza secret reset my-app sandbox --from-env NEW_SECRET --yes",
    )
    app_argument(reset)
    env_argument(reset)
    reset.add_argument(
        "--from-env", metavar="VAR", help="portal providers: the new secret's variable"
    )
    reset.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (not for production)"
    )
    reset.add_argument(
        "--owner",
        action=argparse.BooleanOptionalAction,
        help="you are (or, --no-owner, are not) an application owner, where only owners may "
        "reset (Chorus); asked at a terminal when not given",
    )
    reset.add_argument(
        "--secret-expires",
        metavar="DATE",
        help="when the new secret expires, as the provider says (YYYY-MM-DD, UTC); without "
        "it the old secret's expiry is cleared, never carried over",
    )
    recover = group.command(
        "recover",
        "store a secret the provider issued during a reset that did not finish",
        cmd_recover,
        "  credenza secret recover telenor-sms production",
    )
    app_argument(recover)
    env_argument(recover)
    discard = group.command(
        "discard-pending",
        "throw away a pending secret that does not work (a mistyped paste); the current one stays",
        cmd_discard,
        "  credenza secret discard-pending nvm-insights production --yes",
    )
    app_argument(discard)
    env_argument(discard)
    yes_option(discard, "do not ask for confirmation")
    retire = group.command(
        "retire-previous",
        "overlap rotation: retire the previous secret once every consumer uses the new one",
        cmd_retire,
        "  credenza secret retire-previous azure-reports production",
    )
    app_argument(retire)
    env_argument(retire)
    history = group.command(
        "history",
        "the team store's versions of a secret: when, who (the store token's name) and what; "
        "never a value",
        cmd_history,
        "  credenza secret history telenor-sms production\n"
        "  credenza secret history telenor-sms production --json",
    )
    app_argument(history)
    env_argument(history)
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    confirm_endpoint = group.command(
        "confirm-endpoint",
        "allow the credential to go to endpoints on another origin (moved, discovered, edited)",
        cmd_confirm,
        "  credenza secret confirm-endpoint telenor-sms production      # every endpoint now\n"
        "  credenza secret confirm-endpoint my-app production --origin https://auth.example.com",
    )
    app_argument(confirm_endpoint)
    env_argument(confirm_endpoint)
    confirm_endpoint.add_argument(
        "--origin",
        action="append",
        metavar="ORIGIN",
        help="confirm only this origin (scheme://host[:port]); repeatable. Without it: the "
        "origins of every endpoint the environment has now",
    )


def cmd_set(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    if args.private_key:
        pem = read_secret(args, f"Private key (PEM) for {resolved.label}: ")
        jwk = workspace.credentials.set_private_key(
            resolved.application.id, resolved.name, Secret(pem), args.key_id
        )
        output.info(
            f"stored the {jwk['alg']} private key for {resolved.label} in the "
            f"{workspace.credentials.where()}; "
            f"register its public key: credenza secret public-key {resolved.application.id} "
            f"{resolved.name}"
        )
        return 0
    if args.key_id:
        raise ValidationError("--key-id goes with --private-key")
    if args.allow_origin:
        from credenza.services.binding import parse_origin

        for given in args.allow_origin:
            parse_origin(given)  # a typo refused before the secret is asked for
    value = read_secret(args, f"Client secret for {resolved.label}: ")
    checked = workspace.credentials.set(
        resolved.application.id, resolved.name, value, allow_origins=args.allow_origin
    )
    for warning in checked.warnings:
        output.warn(warning)
    where = workspace.credentials.where()
    output.info(
        f"stored the secret for {resolved.label} in the {where} ({checked.secret.masked()})"
    )
    _ask_for_other_origins(workspace, resolved.application.id, resolved.name)
    app_id = resolved.application.id
    if workspace.resets.pending(app_id, resolved.name) is not None:
        from credenza.cli.common import run_async

        # A reset left a secret pending: if the one just stored works, it is what the reset was
        # for (the right paste after a mistyped one), and the reset is finished.
        if run_async(workspace, workspace.resets.finish_with_current(app_id, resolved.name)):
            output.info("it works: the unfinished reset is finished and its pending secret gone")
        else:
            output.warn(
                "a reset of this secret is still unfinished and the stored secret did not get a "
                f"token; check it with `credenza verify {app_id} --env {resolved.name}`, or "
                f"throw the pending one away: credenza secret discard-pending {app_id} "
                f"{resolved.name}"
            )
    origins = workspace.credentials.bound_origins(resolved.application.id, resolved.name)
    if len(origins) > 1:
        output.info(f"it may be sent to the endpoints on {clean(', '.join(origins), limit=300)}")
    return 0


def _ask_for_other_origins(workspace: Workspace, app_id: str, env_name: str) -> None:
    """Endpoints on an origin the secret is not confirmed for: asked about at a terminal (y/N);
    off a terminal only said, with the command that confirms them (a pipe is never consent)."""
    unbound = workspace.credentials.unbound_endpoints(app_id, env_name)
    by_origin: dict[str, list[str]] = {}
    for name, url in unbound.items():
        by_origin.setdefault(origin_of(url), []).append(
            f"{name.replace('_', ' ')} {clean(url, limit=160)}"
        )
    for where, endpoints in sorted(by_origin.items()):
        shown = clean(where, limit=120)
        output.warn(f"on another origin than the token endpoint: {'; '.join(endpoints)}")
        if confirm(f"Send the secret (and sign-ins) to {shown} too? [y/N] "):
            workspace.credentials.confirm_endpoint(app_id, env_name, [where])
            output.info(f"confirmed {shown}")
        else:
            output.warn(
                f"nothing is sent to {shown} until you run `credenza secret confirm-endpoint "
                f"{app_id} {env_name} --origin {shown}`"
            )


def cmd_public_key(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    jwk = workspace.credentials.public_key(resolved.application.id, resolved.name)
    output.print_json({"keys": [jwk]})
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from credenza.cli.common import run_async
    from credenza.services.resets import UnstoredSecretError

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    adapter = workspace.providers.adapter_for(resolved.application)
    app_id = resolved.application.id
    policy = workspace.resets.reset_policy(app_id, resolved.name)
    owner: bool | None = args.owner
    if policy.asks_owner and owner is None and sys.stdin is not None and sys.stdin.isatty():
        owner = confirm(
            f"Are you an owner of {resolved.application.name} in {resolved.profile.name}'s "
            "portal? [y/N] "
        )
    # What the provider's own record says (the sandbox's client), not a profile's default.
    rotation = run_async(workspace, workspace.resets.rotation(app_id, resolved.name))
    plan = workspace.resets.reset_plan(app_id, resolved.name, owner=owner, rotation=rotation)
    output.info(plan.title)
    for item in plan.items:
        output.info(
            f"• {item.words} ({output.command(item.then)})" if item.then else f"• {item.words}"
        )
    # Production always takes the typed application name; other environments accept --yes.
    if resolved.name == "production" or not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise ValidationError(
                "a secret reset needs confirmation at a terminal",
                hint="non-production environments accept --yes",
            )
        typed = input(f"Type the application name ({resolved.application.name}) to reset: ")
        if typed.strip() != resolved.application.name:
            raise ValidationError("the name did not match; nothing was reset")
    expires_at = None
    if args.secret_expires:
        from credenza.cli.env import parse_date

        expires_at = parse_date(args.secret_expires)
    new_secret = None
    if not adapter.issues_secrets:
        source = (
            "from the one-time link"
            if policy.one_time
            else "from the owners"
            if policy.asks_owner and owner is False
            else "from the portal"
        )
        new_secret = read_secret(args, f"New client secret {source}: ")
    try:
        result = run_async(
            workspace,
            workspace.resets.reset(
                resolved.application.id, resolved.name, new_secret, expires_at=expires_at
            ),
        )
    except KeyboardInterrupt:
        if adapter.issues_secrets:
            output.error(
                "interrupted; if the provider already issued a new secret it is kept in the "
                f"keyring: credenza secret recover {resolved.application.id} {resolved.name}"
            )
        raise
    except UnstoredSecretError as exc:
        # The one copy of a provider-issued secret: shown now, whatever the terminal, since it
        # exists nowhere else. stdout, so it can be captured; the warning on stderr.
        output.error(output.problem(exc))
        output.info("the new secret, NOT stored anywhere — copy it now:")
        print(exc.secret.reveal(), flush=True)
        return exc.exit_code
    for warning in result.warnings:
        output.warn(warning)
    if result.new_secret is not None and sys.stdout.isatty():
        output.info("the provider issued this new secret; it is stored, and shown here once:")
        print(result.new_secret.reveal())
    output.info(
        f"secret rotated at {result.rotated_at:%Y-%m-%d %H:%M} UTC; "
        "update every system that used the old one"
    )
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from credenza.cli.common import run_async

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    pending = workspace.resets.pending(resolved.application.id, resolved.name)
    if pending is None:
        if workspace.resets.give_back_claim(resolved.application.id, resolved.name):
            output.info(
                f"your reset of {resolved.label} had stopped before the provider issued a "
                "secret; its claim in the team store is given back (the secret is unchanged)"
            )
            return 0
        output.info(f"no unfinished reset for {resolved.label}; nothing to recover")
        return 0
    result = run_async(workspace, workspace.resets.recover(resolved.application.id, resolved.name))
    if result is None:
        output.info(f"no unfinished reset for {resolved.label}; nothing to recover")
        return 0
    for warning in result.warnings:
        output.warn(warning)
    checked = "checked with a token call and " if result.verified else ""
    output.info(
        f"the secret the provider issued for {resolved.label} ({pending.masked()}) was "
        f"{checked}stored as the current one; the reset is finished"
    )
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    from credenza.cli.common import confirm_removal, run_async

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    pending = workspace.resets.pending(resolved.application.id, resolved.name)
    if pending is None:
        output.info(f"no pending secret for {resolved.label}; nothing to discard")
        return 0
    confirm_removal(
        args,
        f"Throw away the pending secret of {resolved.label} ({pending.masked()})? A secret "
        "shown once is not shown again; the current secret stays.",
    )
    run_async(workspace, workspace.resets.discard_pending(resolved.application.id, resolved.name))
    output.info(
        f"discarded the pending secret of {resolved.label}; the current one is unchanged and "
        "the reset no longer counts as unfinished"
    )
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    from credenza.cli.common import run_async

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    adapter = workspace.providers.adapter_for(resolved.application)
    rotation = run_async(workspace, workspace.resets.rotation(args.app, args.env))
    if rotation != "overlap":
        raise ValidationError(
            f"nothing to retire: {resolved.profile.name} replaces the secret at once "
            "(cut-over), so the previous one died at the reset"
        )
    if not adapter.issues_secrets:
        # A portal provider: the user deletes the old secret there; credenza cannot.
        output.info(
            f"delete the previous secret of {resolved.label} in the provider's portal"
            + (f" ({resolved.profile.portal_url})" if resolved.profile.portal_url else "")
            + "; the stored (new) secret stays as it is"
        )
        return 0
    run_async(workspace, workspace.resets.retire_previous(resolved.application.id, resolved.name))
    output.info(f"retired the previous secret of {resolved.label}; only the new one works now")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    team = workspace.credentials.team_store()
    if team is None:
        raise ValidationError(
            f"{resolved.label}'s secret is in your keyring, which keeps no history",
            hint="a team store keeps every version: credenza team use vault ADDRESS --path PATH",
        )
    from credenza.services.team_overview import history

    entries = history(team, resolved.application.id, resolved.name)
    if args.json:
        output.print_json([asdict(entry) for entry in entries])
        return 0
    rows = [
        [str(e.version), e.time[:19].replace("T", " "), e.who, e.action + " (deleted)" * e.deleted]
        for e in entries
    ]
    output.table(rows, ["VERSION", "TIME (UTC)", "WHO", "ACTION"])
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    from credenza.services.binding import credentialed_endpoints, parse_origin

    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    wanted = None if args.origin is None else [parse_origin(o) for o in args.origin]
    origins = workspace.credentials.confirm_endpoint(resolved.application.id, resolved.name, wanted)
    # What the confirmation covers, shown as the config and the server wrote it, cleaned.
    for name, url in credentialed_endpoints(resolved).items():
        state = "confirmed" if origin_of(url) in origins else "NOT confirmed"
        output.info(f"{name.replace('_', ' ')} endpoint {clean(url, limit=160)}: {state}")
    shown = clean(", ".join(origins), limit=300) or "no endpoint yet"
    output.info(f"the credential of {resolved.label} may now be sent to {shown}")
    return 0
