"""`credenza token`, `exec`, `verify` and `revoke`: using credentials from scripts.

Over 400 lines: the four commands share one way to name a credential, the token formats and
the shell quoting of what they print; `token` registers alone (the fast start of a script's call).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import (
    Group,
    app_argument,
    env_option,
    json_option,
    open_workspace,
    run_async,
)
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.services.tokens.records import SessionToken
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    token = commands.command(
        "token",
        "print an access token (cached until it nears expiry)",
        cmd_token,
        "  credenza token telenor-sms --env production\n"
        '  curl -H "$(credenza token telenor-sms --format header)" https://api.example.com/\n'
        '  eval "$(credenza token telenor-sms --format env)"',
    )
    app_argument(token)
    env_option(token)
    token.add_argument(
        "--scope", action="append", default=[], help="request this scope (repeatable)"
    )
    token.add_argument(
        "--format",
        choices=["raw", "json", "header", "env"],
        default="raw",
        help="raw (the token alone), json, an Authorization header, or shell exports",
    )
    token.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    token.add_argument("--no-cache", action="store_true", help="always fetch a new token")
    token.add_argument(
        "--dpop-for",
        nargs=2,
        metavar=("METHOD", "URL"),
        help="a DPoP-bound token with --format header: also print a DPoP proof for this one "
        "request (curl -H @<(credenza token APP --format header --dpop-for GET URL) URL)",
    )
    token.add_argument(
        "--keep-fresh",
        action="store_true",
        help="and have the agent keep this token fresh ahead of expiry from now on, after "
        "restarts too (credenza agent unkeep APP stops it)",
    )
    verbose_option(token)

    inspect = commands.command(
        "token-inspect",
        "show a token's JWT header and claims and what the introspection endpoint says; never "
        "the token itself (also: credenza token inspect APP)",
        cmd_inspect,
        "  credenza token inspect telenor-sms --env production\n"
        "  credenza token inspect telenor-sms --json | jq .jwt.claims",
    )
    inspect.prog = "credenza token inspect"
    app_argument(inspect)
    env_option(inspect)
    inspect.add_argument(
        "--scope", action="append", default=[], help="the token requested with this scope"
    )
    inspect.add_argument(
        "--no-introspect", action="store_true", help="do not ask the introspection endpoint"
    )
    json_option(inspect)
    verbose_option(inspect)

    exec_ = commands.command(
        "exec",
        "run a command with a token in its environment (never in argv)",
        cmd_exec,
        "  credenza exec telenor-sms -- sh -c 'curl -H \"Authorization: Bearer $CREDENZA_ACCESS_TOKEN\" ...'",
    )
    app_argument(exec_)
    env_option(exec_)
    exec_.add_argument(
        "--scope", action="append", default=[], help="request this scope (repeatable)"
    )
    exec_.add_argument(
        "--client-credentials",
        action="store_true",
        help="also set CREDENZA_CLIENT_ID and CREDENZA_CLIENT_SECRET (client-id enforcement APIs)",
    )
    # The command after `--` is split off before parsing (argparse.REMAINDER would swallow options).
    exec_.set_defaults(command=[])

    verify = commands.command(
        "verify",
        "check credentials with a live token call",
        cmd_verify,
        "  credenza verify --all\n  credenza verify telenor-sms pipedrive --env production --json",
    )
    verify.add_argument(
        "apps", metavar="APP", nargs="*", help="the applications' ids or names (default: all)"
    )
    env_option(verify)
    verify.add_argument(
        "--all",
        action="store_true",
        help="every application and environment (with APP: each of its environments)",
    )
    json_option(verify)
    verify.add_argument("--concurrency", type=int, default=16, help="token calls in flight at once")

    revoke = commands.command(
        "revoke",
        "revoke (or log out) the cached token of an environment",
        cmd_revoke,
        "  credenza revoke telenor-sms --env production",
    )
    app_argument(revoke)
    env_option(revoke)


def verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print each HTTP exchange on stderr, every secret masked, and the call as curl "
        "with a placeholder for the secret",
    )


def show_exchanges(workspace: Workspace) -> None:
    """--verbose: each exchange on stderr as it happens, masked, then as curl."""
    from credenza.oauth.transcript import Transcript

    def observe(exchange: Transcript) -> None:
        # The exchange cleans and masks its own lines; printed whole (output.info shortens).
        lines = [
            *exchange.request_lines(),
            *exchange.response_lines(),
            "# copy as curl (nothing secret is in it); set the variables first: in a shell that"
            " `credenza exec APP --client-credentials -- sh` starts, the secret is"
            " $CREDENZA_CLIENT_SECRET:",
            exchange.curl(),
        ]
        print("\n".join(lines), file=sys.stderr, flush=True)

    workspace.context.observe(observe)


def agent_alias(args: argparse.Namespace) -> str:
    """The key the fast path asks the agent for; it holds the config file's identity, so any
    change to the file (an edit anywhere, another workspace copied over it) misses."""
    from credenza.agent.protocol import cache_key, config_key

    return cache_key(config_key(getattr(args, "config", None)), args.app, args.env, args.scope)


def cmd_token(args: argparse.Namespace) -> int:
    from credenza.agent import client as agent

    # The fast path's key, taken before the config is read: an edit that lands while the token
    # is fetched makes the key miss, never files the old credential's token under the new file.
    alias = agent_alias(args)
    # And the time, before the token is read or fetched: the agent refuses the hand-over if a
    # change dropped the credential since (see Tokens.share_with_agent).
    read_at = time.time()
    workspace = open_workspace(args)
    agent.autostart(workspace.config.settings.agent)  # comes up while this call works
    if args.verbose:
        show_exchanges(workspace)
    session, cached = one_shot_token(workspace, args, use_cache=not args.no_cache)
    if args.verbose and cached:
        output.info("# from the cache: no HTTP exchange (--no-cache fetches a new token)")
    warn_wider_scopes(session)
    workspace.tokens.share_with_agent(session, alias, read_at)
    if session.token.token_type == "DPoP" and args.format == "header":
        if not args.dpop_for:
            refuse_dpop_bound(session, "an Authorization header alone")
        print(format_token(session, args.format))
        print(f"DPoP: {dpop_proof(workspace, session, *args.dpop_for)}")
        return 0
    if args.dpop_for:
        raise ValidationError(
            "--dpop-for goes with --format header, for a DPoP-bound token",
            hint="credenza token APP --format header --dpop-for GET https://api.example.com/me",
        )
    print(format_token(session, args.format))
    if args.keep_fresh:
        # Recorded in this person's keep file; the agent (started above) reads it when told.
        workspace.tokens.keep(session.application_id, session.environment, args.scope or None)
        output.info(f"kept fresh by the agent: {session.application_id} / {session.environment}")
    return 0


def refuse_dpop_bound(session: SessionToken, what: str) -> None:
    """A DPoP-bound token (RFC 9449) is refused by an API without a fresh proof per request."""
    app, env = session.application_id, session.environment
    raise ValidationError(
        f"the token of {app} / {env} is DPoP-bound: an API refuses it without a proof made for "
        f"each request, so {what} would not work",
        hint=f"call the API with `credenza api {app} --env {env} PATH`, or print a proof for one "
        "request: credenza token APP --format header --dpop-for METHOD URL",
    )


def dpop_proof(workspace: Workspace, session: SessionToken, method: str, url: str) -> str:
    """A proof for one request with this token (``ath`` bound), for --dpop-for."""
    from credenza.oauth.answers import check_endpoint

    check_endpoint(url, "URL")
    resolved = workspace.environments.resolve(session.application_id, session.environment)
    key = workspace.credentials.dpop_key(resolved)
    return key.proof(
        method,
        url,
        workspace.clock(),
        access_token=session.token.access_token.reveal(),
    )


def one_shot_token(
    workspace: Workspace, args: argparse.Namespace, *, use_cache: bool = True
) -> tuple[SessionToken, bool]:
    """Tokens.token for APP, --env and --scope; blocking, without asyncio, when it can (a
    client_credentials token): a one-shot command then ends ~40 ms sooner."""
    scopes = args.scope or None
    try:
        found = workspace.tokens.token_now(args.app, args.env, scopes, use_cache=use_cache)
    finally:
        workspace.close()
    return found or run_async(
        workspace, workspace.tokens.token(args.app, args.env, scopes, use_cache=use_cache)
    )


def warn_wider_scopes(session: SessionToken) -> None:
    """An unknown token type, and a grant wider or narrower than asked (least privilege)."""
    from credenza.oauth.tokens import token_warnings

    for warning in token_warnings(session.token, session.requested_scopes):
        output.warn(warning)


def format_token(session: SessionToken, style: str) -> str:
    from credenza.agent import client

    token = session.token
    return client.format_token(
        token.access_token.reveal(),
        token.token_type,
        token.expires_at.isoformat() if token.expires_at else None,
        style,
        " ".join(token.scopes),
    )


def cmd_inspect(args: argparse.Namespace) -> int:
    from credenza.oauth.tokens import decode_jwt

    workspace = open_workspace(args)
    if args.verbose:
        show_exchanges(workspace)
    session, cached = run_async(
        workspace, workspace.tokens.token(args.app, args.env, args.scope or None)
    )
    resolved = workspace.environments.resolve(session.application_id, session.environment)
    introspection: dict[str, Any] | None = None
    if not args.no_introspect and resolved.introspection_url:
        introspection = run_async(workspace, workspace.tokens.introspect(session))
    token = session.token
    parts = decode_jwt(token.access_token.reveal())
    data: dict[str, Any] = {
        "application": session.application_id,
        "environment": session.environment,
        "token_type": token.token_type,
        "issued_at": token.issued_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "expires_in": (
            int((token.expires_at - workspace.clock()).total_seconds())
            if token.expires_at
            else None
        ),
        "scopes": list(token.scopes),
        "from_cache": cached,
        "jwt": {"header": parts.header, "claims": parts.claims} if parts else None,
        "introspection": introspection,
    }
    id_parts = None
    if session.user:
        # Who signed in: the id_token's claims (checked when it was received), never the token.
        id_parts = decode_jwt(token.id_token.reveal()) if token.id_token else None
        data["account"] = session.account
        data["id_token"] = (
            {"header": id_parts.header, "claims": id_parts.claims} if id_parts else None
        )
    if args.json:
        output.print_json(data)
        return 0
    lines = [
        f"{resolved.label}: {token.token_type} token",
        f"  expires: {data['expires_at'] or 'not said'}"
        + (f" (in {data['expires_in']} s)" if data["expires_in"] is not None else ""),
        f"  scopes: {' '.join(token.scopes) or '-'}",
    ]
    if parts is None:
        lines.append("  not a JWT: an opaque token (introspection says what it is)")
    else:
        lines.append("JWT header:")
        lines += [f"  {k}: {v}" for k, v in parts.header.items()]
        lines.append("JWT claims (not verified):")
        lines += [f"  {k}: {_claim(k, v)}" for k, v in parts.claims.items()]
    if session.user:
        lines.append(f"signed in as: {session.account or 'not said'}")
        if id_parts is not None:
            lines.append("id_token claims (checked at sign-in):")
            lines += [f"  {k}: {_claim(k, v)}" for k, v in id_parts.claims.items()]
    if introspection is not None:
        lines.append("introspection:")
        lines += [f"  {k}: {_claim(k, v)}" for k, v in introspection.items()]
    elif not resolved.introspection_url and not args.no_introspect:
        lines.append("introspection: no endpoint (env edit ... --introspection-url URL)")
    for line in lines:
        print(output.shown(line))
    return 0


def _claim(key: str, value: Any) -> str:
    # Times in claims are seconds since the epoch: shown as dates as well.
    if key in ("exp", "iat", "nbf", "auth_time") and isinstance(value, int | float):
        from datetime import UTC, datetime

        try:
            return f"{value} ({datetime.fromtimestamp(value, UTC).isoformat()})"
        except (OverflowError, OSError, ValueError):
            return str(value)
    return str(value)


def cmd_exec(args: argparse.Namespace) -> int:
    """Run a command with the token in its environment (never in its argv), as aws-vault exec does."""
    import subprocess

    from credenza import children

    command = list(args.command)
    if not command:
        raise ValidationError(
            "give the command to run after --", hint="credenza exec APP -- curl ..."
        )
    workspace = open_workspace(args)
    session, _cached = one_shot_token(workspace, args)
    if session.token.token_type == "DPoP":
        refuse_dpop_bound(session, "a token in a child's environment")
    token = session.token
    promised = {
        children.ACCESS_TOKEN: token.access_token.reveal(),
        children.TOKEN_TYPE: token.token_type,
        children.TOKEN_EXPIRES_AT: token.expires_at.isoformat() if token.expires_at else "",
    }
    if args.client_credentials:
        # For APIs behind a client-id enforcement policy (Anypoint): asked for explicitly only.
        resolved = workspace.environments.resolve(session.application_id, session.environment)
        promised[children.CLIENT_ID] = resolved.environment.client_id
        promised[children.CLIENT_SECRET] = workspace.credentials.reveal(
            session.application_id, session.environment
        ).reveal()
    # The caller's environment minus every secret variable (the keyring passphrase, an outer
    # exec's client secret), then what this command was promised.
    environment = children.environment(promised)
    try:
        completed = subprocess.run(command, env=environment, check=False)  # noqa: S603
    except FileNotFoundError:
        output.error(f"command not found: {command[0]}")
        return 127  # as a shell says it
    except PermissionError:
        output.error(f"command not executable: {command[0]}")
        return 126
    return completed.returncode if completed.returncode >= 0 else 128 - completed.returncode


def cmd_verify(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    targets: list[tuple[str, str]] = []
    if args.apps:
        # Every name is resolved before any call: a typo checks nothing.
        for application in [workspace.applications.get(ref) for ref in args.apps]:
            default = application.default_environment
            if not args.env and not args.all and default in application.environments:
                names = [default]  # as token and exec do; --all checks every environment
            else:
                names = [args.env] if args.env else list(application.environments)
            targets += [
                (application.id, name) for name in names if (application.id, name) not in targets
            ]
    else:  # no application named: every one (what --all says explicitly)
        targets = [(a.id, name) for a in workspace.applications.all() for name in a.environments]
    if not targets:
        output.info("nothing to verify")
        return 0
    results = run_async(
        workspace, workspace.verification.verify_many(targets, concurrency=args.concurrency)
    )
    if args.json:
        output.print_json(
            [
                {
                    "application": r.application_id,
                    "environment": r.environment,
                    "status": r.status,
                    "message": output.shown(output.said(r.message, r.hint, r.next_steps)),
                    "warnings": [output.shown(w) for w in r.warnings],
                    "next": output.next_record(r.next_steps),
                }
                for r in results
            ]
        )
    else:
        output.table(
            [
                [
                    r.application_id,
                    r.environment,
                    r.status.upper() if not r.ok else "ok",
                    "" if r.ok else output.said(r.message, r.hint, r.next_steps),
                ]
                for r in results
            ],
            ["APPLICATION", "ENV", "STATUS", "DETAIL"],
        )
        for result in results:
            for warning in result.warnings:
                output.warn(f"{result.application_id} / {result.environment}: {warning}")
    return 0 if all(r.ok for r in results) else 1


def cmd_revoke(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    sessions = workspace.tokens.cached_sessions(resolved.application.id, resolved.name)
    if not sessions:
        output.info(f"no cached token for {resolved.label}; nothing to revoke")
        return 0
    outcomes = run_async(workspace, _revoke_all(workspace, sessions))
    output.info(f"{outcomes[-1]} {len(sessions)} token(s) of {resolved.label}")
    if any(session.user for session in sessions):
        output.info(
            "the person signed in is signed out (the refresh token went too): "
            f"credenza login {resolved.application.id} --env {resolved.name} signs in again"
        )
    return 0


async def _revoke_all(workspace: Workspace, sessions: list[SessionToken]) -> list[str]:
    return [await workspace.tokens.revoke(session) for session in sessions]
