"""Origins of URLs (scheme, host, port): what a secret is bound to, and what counts as loopback.

Kept apart from the HTTP client so that resolving an environment (on every `credenza token`)
does not import httpx.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# RFC 8252 §8.3: credenza itself connects to and listens on this for `localhost`, never asking
# a resolver (which may answer anything for it, or for a name under it).
LOOPBACK_LITERAL = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and exactly ``localhost`` (which credenza maps to 127.0.0.1 itself).

    A name under ``.localhost`` is not: it reaches whatever a resolver answers for it.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_localhost_subdomain(host: str) -> bool:
    """``cb.localhost``: looks like loopback, is resolved by DNS like any other name."""
    return host.lower().rstrip(".").endswith(".localhost")


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, for binding a secret to the endpoint it was stored for."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port_number = parts.port
    except ValueError:  # not a port: keep what was written, so it matches nothing else
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    port = f":{port_number}" if port_number and port_number != default else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host.lower()}{port}"
