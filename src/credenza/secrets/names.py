"""Every keyring entry name credenza uses: one builder per kind, so no caller spells one by hand.

All entries live under the keyring service ``credenza``; the username is a path:

- ``{app}/{env}/client_secret``       the client secret (JSON: secret and the origin it is bound to)
- ``{app}/{env}/token:{scopes}``      a cached token for the sorted, space-joined requested scopes
- ``{app}/{env}/token-index``         the token entries of one environment, one per line
- ``providers/{key}/admin_token``     a sandbox provider's admin token
- ``{name}#{generation}.{number}``    one chunk of a value too long for the keyring (see store.py)
"""

from __future__ import annotations

from collections.abc import Iterable

SERVICE = "credenza"
_TOKEN = "token:"


def entry_name(application_id: str, environment: str, kind: str) -> str:
    """The keyring username of one entry: ``app/env/kind``."""
    return f"{application_id}/{environment}/{kind}"


def client_secret(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "client_secret")


def token(application_id: str, environment: str, scopes: Iterable[str]) -> str:
    """A cached token: keyed by application, environment and requested scopes (in any order)."""
    return entry_name(application_id, environment, _TOKEN + " ".join(sorted(scopes)))


def token_scopes(name: str) -> tuple[str, ...]:
    """The requested scopes a token entry name was built from (``token`` in reverse)."""
    return tuple(name.rpartition(_TOKEN)[2].split()) if _TOKEN in name else ()


def token_index(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "token-index")


def admin_token(provider_key: str) -> str:
    return f"providers/{provider_key}/admin_token"


def chunk(name: str, generation: str, number: int) -> str:
    """One chunk of a split value; generation "" is the old, unversioned layout (``name#1``)."""
    return f"{name}#{generation}.{number}" if generation else f"{name}#{number}"
