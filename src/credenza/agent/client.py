"""The agent's client: the fast path `credenza token` tries first, and the requests and start-up
every other command makes. Standard library only (`_socket`, no typing, json only when asked).

Scripts call `credenza token` in loops. With an agent running and a token cached there, this
answers before anything heavy is imported; anything else falls through to the full CLI, which
fetches, caches in the keyring and hands the token to the agent.
"""

from __future__ import annotations

import _socket
import os
import sys
import time

from credenza import locations
from credenza.agent import protocol

TYPE_CHECKING = False  # not `from typing import ...`: typing imports re
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# An agent started by a command (not by hand) exits after an hour without a request.
AUTOSTART_IDLE_TIMEOUT = 3600.0
# How long a command that started the agent waits for it to listen before going on without it.
AUTOSTART_WAIT = 3.0
_starting: float | None = None  # the monotonic deadline while an agent we started comes up

# RFC 6749 Appendix A.12: access-token = 1*VSCHAR (%x20-7E); a token_type is an RFC 9110 token.
# Checked without `re` (this module runs before anything heavy is imported).
_VSCHAR = frozenset(chr(code) for code in range(0x20, 0x7F))
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# What a POSIX shell never treats specially: such words need no quotes (as shlex.quote decides).
_SHELL_SAFE = frozenset("%+,-./0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


def shell_quote(value: str) -> str:
    """``value`` as one POSIX shell word that expands to nothing else (shlex.quote's rule)."""
    if value and set(value) <= _SHELL_SAFE:
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def printable_token(token: str, token_type: str) -> bool:
    """True when neither the token nor its type could break a header, a terminal or a shell."""
    return bool(token) and set(token) <= _VSCHAR and bool(token_type) and set(token_type) <= _TCHAR


def check_printable_token(token: str, token_type: str) -> None:
    """Refuse a token or type that could break a header, a terminal or a shell."""
    if printable_token(token, token_type):
        return
    from credenza.errors import InvalidResponseError  # only now: the fast path stays light

    what = "token" if not token or not set(token) <= _VSCHAR else "token_type"
    raise InvalidResponseError(
        f"the {what} has characters outside what RFC 6749 (VSCHAR) and RFC 9110 allow; credenza "
        "refuses to print the token",
        hint="fetch a new one with --no-cache; if it persists, report it to the provider",
    )


def format_token(
    token: str, token_type: str, expires_at: str | None, style: str, scope: str = ""
) -> str:
    """raw, header, env or json; shared with the full CLI.

    `env` is meant for ``eval "$(credenza token APP --format env)"``: every value is quoted as
    one shell word, so `$(...)`, backticks or `;` from a server run nothing.
    """
    check_printable_token(token, token_type)
    if style == "header":
        return f"Authorization: {token_type} {token}"
    if style == "env":
        return (
            f"export CREDENZA_ACCESS_TOKEN={shell_quote(token)}\n"
            f"export CREDENZA_TOKEN_TYPE={shell_quote(token_type)}\n"
            f"export CREDENZA_TOKEN_EXPIRES_AT={shell_quote(expires_at or '')}"
        )
    if style == "json":
        import json
        from datetime import UTC, datetime

        left = None
        if expires_at:
            left = int((datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds())
        return json.dumps(
            {
                "access_token": token,
                "token_type": token_type,
                "expires_at": expires_at,
                "expires_in": left,
                "scope": scope,
            }
        )
    return token


def parse(argv: list[str]) -> tuple[str, str, str | None, list[str], str] | None:
    """(config, app, env, scopes, format) for a plain `token` call; None for anything else."""
    if not argv or argv[0] != "token":
        return None
    config = ""
    app: str | None = None
    env: str | None = None
    scopes: list[str] = []
    style = "raw"
    args = iter(argv[1:])
    for arg in args:
        name, eq, inline = arg.partition("=")
        if name in ("--config", "--env", "--scope", "--format") and not eq:
            inline = next(args, "")
        if name == "--config":
            config = inline
        elif name == "--env":
            env = inline
        elif name == "--scope":
            scopes.append(inline)
        elif name == "--format":
            style = inline
        elif arg == "--json":
            style = "json"
        elif arg.startswith("-") or app is not None:
            return None  # --no-cache, --help, or something unusual: the full CLI decides
        else:
            app = arg
    if app is None or style not in ("raw", "json", "header", "env"):
        return None
    return protocol.config_key(config), app, env, scopes, style


def try_agent(argv: list[str]) -> int | None:
    """Print a token from the agent and return 0, or None to fall through to the full CLI."""
    parsed = parse(argv)
    if parsed is None:
        return None
    config, app, env, scopes, style = parsed
    found = lookup(protocol.cache_key(config, app, env, scopes))
    if found is None:
        return None
    token, token_type, expires_at, scope = found
    if not printable_token(token, token_type):
        return None  # the full CLI explains it, with its exit code
    if style == "header" and token_type.lower() == "dpop":
        return None  # a header alone does not work with a DPoP-bound token: the CLI says why
    sys.stdout.write(format_token(token, token_type, expires_at or None, style, scope) + "\n")
    return 0


def _exchange(line: bytes, *, timeout: float, path: str | Path | None) -> bytes | None:
    """Send one line, read one back; None when no agent of ours answers."""
    try:
        connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        connection.settimeout(timeout)
        connection.connect(str(path or locations.agent_socket()))
        if not protocol.peer_is_us(connection):
            return None
        connection.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    finally:
        connection.close()
    return data


def lookup(key: str, *, timeout: float = 0.5, path: str | None = None) -> list[str] | None:
    """The hot path: [token, type, expires_at, scope] for ``key``, or None (miss or no agent)."""
    line = protocol.lookup_request(key)
    if line is None:
        return None
    return protocol.read_lookup_answer(_exchange(line, timeout=timeout, path=path))


def request(
    message: dict[str, Any],
    *,
    timeout: float = 0.5,
    path: str | Path | None = None,
    wait_for_start: bool = True,
) -> dict[str, Any] | None:
    """Ask the agent; None when no agent runs (or it is not ours, or it does not answer).

    If this process started the agent a moment ago (``autostart``), wait for it to listen.
    """
    line = protocol.encode(message)
    data = _exchange(line, timeout=timeout, path=path)
    while data is None and wait_for_start and _starting is not None:
        if time.monotonic() > _starting:
            break
        time.sleep(0.02)
        data = _exchange(line, timeout=timeout, path=path)
    return None if data is None else protocol.decode(data)


def autostart(mode: str, *, idle_timeout: float = AUTOSTART_IDLE_TIMEOUT) -> bool:
    """Start the agent in the background when ``mode`` is "auto" and none answers.

    Returns True when one was started; later ``request`` calls in this process wait for it.
    $CREDENZA_AGENT=off turns this off whatever the config says (CI, tests, shared machines).
    """
    global _starting
    if mode != "auto" or os.environ.get("CREDENZA_AGENT", "auto") == "off":
        return False
    if not hasattr(_socket, "AF_UNIX"):  # pragma: no cover - Windows
        return False
    if request({"op": "ping"}, timeout=0.2, wait_for_start=False) is not None:
        return False
    import subprocess

    from credenza.children import agent_environment

    # An allow-list, not the caller's environment: the file keyring's passphrase stays with
    # this command (the agent is handed the derived key instead), and so does whatever secret
    # the caller had (an `exec --client-credentials`, a `--from-env` variable) for the hour
    # the agent lives on.
    environment = agent_environment()
    try:
        subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [
                sys.executable,
                "-m",
                "credenza",
                "agent",
                "start",
                "--idle-timeout",
                f"{idle_timeout:g}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the terminal or by Ctrl-C in it
            close_fds=True,
            cwd="/",
            env=environment,
        )
    except OSError:
        return False
    _starting = time.monotonic() + AUTOSTART_WAIT
    return True
