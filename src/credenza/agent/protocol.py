"""The agent's wire format, shared by the server and its clients: stdlib only, no typing or json.

One line each way over a user-only Unix socket. The hot lookup is ``G<TAB>key``, answered by
``T<TAB>token<TAB>type<TAB>expires_at<TAB>scope`` or ``M`` (so that `credenza token` needs
neither json nor re); everything else is a JSON object (ops put, drop, stop, ping, key-put,
key-get, keep, unkeep, kept). A key names the config file as it is on disk, the application,
the environment and the scopes: a token never crosses any of them.
"""

from __future__ import annotations

# `_socket`, not `socket`: the Python module adds enum and selectors (~14 ms of the `credenza
# token` fast path, measured with -X importtime) and nothing the agent uses.
import _socket
import os
import sys

from credenza import locations

TYPE_CHECKING = False  # not `from typing import ...`: typing imports re
if TYPE_CHECKING:
    from typing import Any

MAX_REQUEST = 64 * 1024
LOOKUP = b"G\t"
MISS = b"M\n"


def cache_key(config: str, app: str, env: str | None, scopes: list[str]) -> str:
    """The agent's key: a token never crosses configs, applications, environments or scopes."""
    return "\x1f".join([config, app.strip().lower(), env or "", " ".join(sorted(scopes))])


def config_key(config: str | None) -> str:
    """The config part of a key: the file's real path and its identity on disk (inode, mtime,
    size). Every save replaces the file, so a token cached before any edit is never found again
    by this key, nor one cached for another workspace copied over it. Not the workspace id
    (the config's ``workspace`` key): reading it means parsing TOML, and this path stays
    standard-library only; two configs are two files, so the key is per workspace anyway."""
    path = os.path.realpath(os.path.expanduser(config or locations.config_file()))
    try:
        info = os.stat(path)
    except OSError:
        return path + "|-"
    return f"{path}|{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


def lookup_request(key: str) -> bytes | None:
    """The line asking for ``key``'s token; None for a key the line cannot carry."""
    if "\t" in key or "\n" in key:
        return None
    return LOOKUP + key.encode() + b"\n"


def lookup_answer(token: str, token_type: str, expires_at: str, scope: str) -> bytes:
    """The line giving a token, or MISS when a field would break the line."""
    fields = [token, token_type, expires_at, scope]
    if any("\t" in field or "\n" in field for field in fields):
        return MISS
    return ("T\t" + "\t".join(fields) + "\n").encode()


def read_lookup_answer(data: bytes | None) -> list[str] | None:
    """[token, type, expires_at, scope] from a lookup's answer; None for a miss."""
    if not data or not data.startswith(b"T\t"):
        return None
    fields = data.decode().rstrip("\n").split("\t")[1:]
    return fields if len(fields) == 4 else None


def encode(message: dict[str, Any]) -> bytes:
    """One JSON request or answer as its line."""
    import json

    return json.dumps(message).encode() + b"\n"


def decode(data: bytes) -> dict[str, Any] | None:
    """A JSON line as its object; None when it is not one."""
    import json

    try:
        message = json.loads(data)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def peer_is_us(connection: Any) -> bool:
    """True when the other end runs as this user (SO_PEERCRED; elsewhere the 0700 directory).
    ``connection``: a socket, or the transport socket asyncio hands the server."""
    if not hasattr(_socket, "SO_PEERCRED"):
        return True
    # struct ucred {pid_t pid; uid_t uid; gid_t gid;}: three C ints, the uid second.
    credentials = connection.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    uid = int.from_bytes(credentials[4:8], sys.byteorder, signed=True)
    return bool(uid == os.getuid())
