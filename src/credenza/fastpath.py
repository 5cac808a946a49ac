"""The fast path of `credenza token`: ask a running agent before importing anything heavy.

Scripts call `credenza token` in loops. With an agent running and a token cached there, this
answers with the standard library's socket and json only; anything else falls through to the
full CLI, which fetches, caches in the keyring and hands the token to the agent.
"""

from __future__ import annotations

import os
import sys


def cache_key(config: str, app: str, env: str | None, scopes: list[str]) -> str:
    """The agent's key: a token never crosses configs, applications, environments or scopes."""
    return "\x1f".join([config, app.strip().lower(), env or "", " ".join(sorted(scopes))])


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


def config_key(config: str | None) -> str:
    """The config part of a key: the file's real path and its identity on disk (inode, mtime,
    size). Every save replaces the file, so a token cached before any edit is never found again
    by this key, nor one cached for another workspace copied over it. Not the workspace id
    (the config's ``workspace`` key): reading it means parsing TOML, and this path stays
    standard-library only; two configs are two files, so the key is per workspace anyway."""
    config = config or os.environ.get("CREDENZA_CONFIG", "") or default_config()
    path = os.path.realpath(os.path.expanduser(config))
    try:
        info = os.stat(path)
    except OSError:
        return path + "|-"
    return f"{path}|{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


def default_config() -> str:
    """The default config path as platformdirs computes it (imported only off Linux: 15 ms)."""
    platform: str = sys.platform  # a variable, so that type checkers keep both branches
    if platform.startswith("linux"):
        base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
        return os.path.join(base, "credenza", "credenza.toml")
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("credenza", appauthor=False), "credenza.toml")


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
    return config_key(config), app, env, scopes, style


def try_agent(argv: list[str]) -> int | None:
    """Print a token from the agent and return 0, or None to fall through to the full CLI."""
    parsed = parse(argv)
    if parsed is None:
        return None
    from credenza.agent import lookup

    config, app, env, scopes, style = parsed
    found = lookup(cache_key(config, app, env, scopes))
    if found is None:
        return None
    token, token_type, expires_at, scope = found
    if not printable_token(token, token_type):
        return None  # the full CLI explains it, with its exit code
    sys.stdout.write(format_token(token, token_type, expires_at or None, style, scope) + "\n")
    return 0
