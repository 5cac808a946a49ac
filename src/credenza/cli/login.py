"""`credenza login` and `logout`: a person signs in (browser or device code) and out."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from credenza.cli import output
from credenza.cli.common import Group, app_argument, env_option, open_workspace, run_async

if TYPE_CHECKING:
    from credenza.services.tokens.records import SessionToken
    from credenza.workspace import Workspace


def register(commands: Group) -> None:
    login = commands.command(
        "login",
        "sign in as a user (authorization code + PKCE in a browser, or the device flow)",
        cmd_login,
        "  credenza login pipedrive-crm\n"
        "  credenza login pipedrive-crm --no-browser      # print the URL, open it yourself\n"
        "  credenza login anypoint-app --device           # over SSH: a code to enter elsewhere\n"
        "  credenza login telenor-app --password          # username and password (deprecated)\n"
        '  printf \'%s\\n%s\\n\' "$USER_NAME" "$USER_PASSWORD" | '
        "credenza login telenor-app --password-stdin",
    )
    app_argument(login)
    env_option(login)
    login.add_argument(
        "--scope", action="append", default=[], help="request this scope (repeatable)"
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the sign-in URL, do not open a browser"
    )
    login.add_argument(
        "--redirect-uri",
        help="the loopback redirect URI registered at the provider (default: the application's "
        "callback URL when it is http://127.0.0.1:PORT/…, else a free port)",
    )
    login.add_argument(
        "--device",
        action="store_true",
        help="sign in with a code on another device (RFC 8628), e.g. over SSH",
    )
    login.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the browser (300)"
    )
    login.add_argument(
        "--password",
        action="store_true",
        help="the password grant (RFC 6749 §4.3, deprecated by RFC 9700): username and hidden "
        "password at the terminal; only the tokens are kept",
    )
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="the password grant with the username and the password on two lines of stdin",
    )

    logout = commands.command(
        "logout",
        "sign out: revoke the user's refresh and access tokens and forget them",
        cmd_logout,
        "  credenza logout pipedrive-crm",
    )
    app_argument(logout)
    env_option(logout)


def cmd_login(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    scopes = tuple(args.scope) or None
    if args.password or args.password_stdin:
        return _with_password(workspace, args, scopes)
    method = workspace.sign_in.method(args.app, args.env, args.device)
    if method == "device":
        session = run_async(workspace, _device(workspace, args, scopes))
    else:
        session = run_async(
            workspace,
            workspace.sign_in.with_browser(
                args.app,
                args.env,
                scopes,
                show=lambda url: _show_url(url, open_browser=not args.no_browser),
                redirect_uri=args.redirect_uri,
                timeout=args.timeout,
            ),
        )
    _signed_in(workspace, session)
    return 0


async def _device(
    workspace: Workspace, args: argparse.Namespace, scopes: tuple[str, ...] | None
) -> SessionToken:
    from credenza.oauth.untrusted import clean

    pending = await workspace.sign_in.start_device(args.app, args.env, scopes)
    device = pending.device
    minutes = max(1, int((device.expires_at - workspace.clock()).total_seconds() // 60))
    # The server chose these strings: each is cleaned before it reaches the terminal.
    lines = [
        "To sign in, open this URL on any device:",
        f"  {clean(device.verification_uri, limit=None)}",
        f"and enter the code:  {clean(device.user_code, limit=40)}",
    ]
    if device.verification_uri_complete:
        lines += [
            "or open (code included):",
            f"  {clean(device.verification_uri_complete, limit=None)}",
        ]
    lines.append(f"Waiting for approval (the code expires in {minutes} min; Ctrl-C to stop)…")
    print("\n".join(lines), file=sys.stderr, flush=True)
    return await workspace.sign_in.finish_device(pending)


def _with_password(
    workspace: Workspace, args: argparse.Namespace, scopes: tuple[str, ...] | None
) -> int:
    from credenza.errors import ValidationError
    from credenza.next_steps import fill
    from credenza.oauth.grants.password import DEPRECATED, DEPRECATED_STEPS, resource_owner

    if args.device or (args.password and args.password_stdin):
        raise ValidationError(
            "--password, --password-stdin and --device are different ways to sign in",
            hint="give one of them",
        )
    workspace.sign_in.check_password_grant(args.app, args.env)  # before anyone types a password
    output.warn(fill(DEPRECATED, DEPRECATED_STEPS, output.command, backticks=True))
    username, password = _read_stdin() if args.password_stdin else _prompt()
    owner = resource_owner(username, password)
    del password
    session = run_async(
        workspace, workspace.sign_in.with_password(args.app, args.env, scopes, owner)
    )
    _signed_in(workspace, session)
    return 0


def _read_stdin() -> tuple[str, str]:
    """Two lines: the username, then the password (a final newline is optional)."""
    from credenza.errors import ValidationError

    data = sys.stdin.read(64 * 1024) if sys.stdin is not None else ""
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if len(lines) != 2:
        raise ValidationError(
            f"--password-stdin reads two lines, the username then the password; got {len(lines)}",
            hint='printf \'%s\\n%s\\n\' "$USER_NAME" "$USER_PASSWORD" | credenza login APP '
            "--password-stdin",
        )
    return lines[0], lines[1]


def _prompt() -> tuple[str, str]:
    """The username at a visible prompt, the password at a hidden one (both on stderr)."""
    from credenza.errors import ValidationError

    if sys.stdin is None or not sys.stdin.isatty():
        raise ValidationError(
            "--password asks at a terminal, and stdin is not one",
            hint="pipe the username and password on two lines to --password-stdin",
        )
    import getpass

    print("Username: ", end="", file=sys.stderr, flush=True)
    username = sys.stdin.readline().rstrip("\r\n")
    return username, getpass.getpass("Password: ", stream=sys.stderr)


def _show_url(url: str, *, open_browser: bool) -> None:
    from credenza.oauth.untrusted import clean

    print("Open this URL to sign in:", file=sys.stderr)
    print(f"  {clean(url, limit=None)}", file=sys.stderr, flush=True)
    from credenza.oauth.grants.authorization_code import browser_available

    if open_browser and browser_available():
        from credenza import children

        children.open_browser(url)  # with no secret variable of this process
    print("Waiting for the browser to come back…", file=sys.stderr, flush=True)


def _signed_in(workspace: Workspace, session: SessionToken) -> None:
    resolved = workspace.environments.resolve(session.application_id, session.environment)
    who = f" as {session.account}" if session.account else ""
    left = session.token.seconds_left(workspace.clock())
    lifetime = f"; the access token lasts {output.age_seconds(left)}" if left else ""
    upkeep = (
        "; `credenza token` keeps it fresh with the refresh token"
        if session.token.refresh_token is not None
        else "; no refresh token was issued, so sign in again when it expires"
    )
    output.info(f"Signed in to {resolved.label}{who}{lifetime}{upkeep}")


def cmd_logout(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    resolved = workspace.environments.resolve(args.app, args.env)
    outcome = run_async(
        workspace, workspace.sign_in.sign_out(resolved.application.id, resolved.name)
    )
    output.info(f"{resolved.label}: {outcome}")
    return 0
