"""`credenza demo`, `credenza ui` and `credenza sandbox serve`: the dashboard and the sandbox."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from credenza.cli import output
from credenza.cli.common import Group, open_workspace
from credenza.errors import ValidationError


def register(commands: Group) -> None:
    demo = commands.command(
        "demo",
        "open the dashboard on a throwaway workspace and a local sandbox provider",
        cmd_demo,
        "  credenza demo\n  credenza demo --no-ui",
    )
    demo.add_argument(
        "--no-ui",
        action="store_true",
        help="print the workspace and issuer, keep the sandbox running",
    )
    commands.command("ui", "open the dashboard on your workspace", cmd_ui, "  credenza ui")
    group = commands.group("sandbox", "the built-in sandbox provider")
    serve = group.command(
        "serve",
        "run a local OAuth2 authorization server on 127.0.0.1",
        cmd_serve,
        "  credenza sandbox serve --port 8400 --clients clients.toml",
    )
    serve.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    serve.add_argument(
        "--clients", type=Path, help="preload clients (JSON or TOML, RFC 7591 names)"
    )
    serve.add_argument(
        "--token-ttl", type=_positive, default=3600, help="token lifetime in seconds"
    )
    serve.add_argument("--state", type=Path, help="keep state in this JSON file across restarts")
    serve.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve sign-ins without showing the consent page (scripts, CI)",
    )
    serve.add_argument(
        "--initial-access-token-env",
        metavar="VAR",
        help="require the initial access token in this environment variable for dynamic client "
        "registration (RFC 7591; default: open registration)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from credenza.sandbox.demo import Demo, run_demo

    def dashboard(demo: Demo) -> int:
        from credenza.services.preferences import Preferences, default_preferences_path
        from credenza.tui.app import run_dashboard

        # The demo's workspace is thrown away; the person's chosen theme is theirs and stays.
        demo.workspace.preferences = Preferences(default_preferences_path())
        label = f"demo workspace · sandbox provider at {demo.server.issuer}"
        return run_dashboard(demo.workspace, demo_label=label)

    return run_demo(no_ui=args.no_ui, dashboard=dashboard)


def cmd_ui(args: argparse.Namespace) -> int:
    from credenza.agent import client as agent
    from credenza.tui.app import run_dashboard

    workspace = open_workspace(args)
    agent.autostart(workspace.config.settings.agent)
    if workspace.config.settings.keyring == "file":
        # The passphrase prompt needs the terminal, which the dashboard is about to take over.
        _ = workspace.secrets.backend
    return run_dashboard(workspace)


def cmd_serve(args: argparse.Namespace) -> int:
    from credenza.sandbox.clients import load_clients
    from credenza.sandbox.server import SandboxServer
    from credenza.sandbox.state import SandboxState

    initial: str | None = None
    if args.initial_access_token_env:
        from credenza.cli.common import secret_from_env

        initial = secret_from_env(
            args.initial_access_token_env, "the initial access token registrations must carry"
        )
    state = SandboxState(
        token_ttl=args.token_ttl,
        state_file=args.state,
        auto_approve=args.auto_approve,
        initial_access_token=initial,
    )
    if args.clients:
        for metadata in load_clients(args.clients):
            if metadata.get("client_id") not in state.clients:
                state.add_client(metadata)
    try:
        server = SandboxServer(state, port=args.port)
    except OSError as exc:
        raise ValidationError(
            f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
            hint="choose another --port, or leave it out for a free one",
        ) from None
    print(f"issuer: {server.issuer}", flush=True)
    print(f"admin token: {server.admin_token}", flush=True)
    output.info("serving on 127.0.0.1 until interrupted (Ctrl+C)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give 1-65535, or 0 for a free one"
        )
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value
