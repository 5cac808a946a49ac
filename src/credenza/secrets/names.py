"""Every keyring entry name credenza uses: one builder per kind, so no caller spells one by hand.

All entries live under the keyring service ``credenza``; the username is a path, led by the id
of the workspace (the config file's ``workspace`` key) the entry belongs to, so that two configs
with the same application and environment names never share an entry:

- ``{workspace}/{name}``              every name below, in one workspace (``in_workspace``)

- ``{app}/{env}/client_secret``       the client secret (JSON: secret and the origin it is bound to)
- ``{app}/{env}/pending_secret``      a secret the provider issued, kept until a reset finishes
- ``{app}/{env}/token:{fingerprint}`` a cached token, keyed by its credential's fingerprint
- ``{app}/{env}/token-index``         the token entries of one environment, one per line, each
                                      followed by the scopes it was requested with
- ``{app}/{env}/user_token``          a signed-in user's tokens, the refresh token with them (one
                                      entry, so a rotated refresh token replaces the old at once)
- ``{app}/{env}/confirmed_origins``   a client without a secret (a public client signing people
                                      in): the origins its endpoints were confirmed on
- ``{app}/{env}/registration_token``  the RFC 7592 registration access token of a client
                                      credenza registered (JSON: token and the origin it is
                                      bound to)
- ``providers/{key}/admin_token``     a sandbox provider's admin token (JSON: token and origin)
- ``{name}#{generation}.{number}``    one chunk of a value too long for the keyring (see store.py)

Before workspace ids the names had no ``{workspace}/`` part; a workspace moves its own entries
from those names once (services/migration.py).
"""

from __future__ import annotations

SERVICE = "credenza"
_TOKEN = "token:"


def in_workspace(workspace_id: str, name: str) -> str:
    """The full keyring username of ``name`` in one workspace: ``workspace/app/env/kind``."""
    return f"{workspace_id}/{name}"


def entry_name(application_id: str, environment: str, kind: str) -> str:
    """The keyring username of one entry: ``app/env/kind``."""
    return f"{application_id}/{environment}/{kind}"


def client_secret(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "client_secret")


def pending_secret(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "pending_secret")


def confirmed_origins(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "confirmed_origins")


def token(application_id: str, environment: str, fingerprint: str) -> str:
    """A cached token, under the fingerprint of the credential it was issued to."""
    return entry_name(application_id, environment, _TOKEN + fingerprint)


def token_fingerprint(name: str) -> str:
    """The fingerprint a token entry name was built from (``token`` in reverse)."""
    return name.rpartition(_TOKEN)[2]


def user_token(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "user_token")


def token_index(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "token-index")


def registration_token(application_id: str, environment: str) -> str:
    return entry_name(application_id, environment, "registration_token")


def admin_token(provider_key: str) -> str:
    return f"providers/{provider_key}/admin_token"


def chunk(name: str, generation: str, number: int) -> str:
    """One chunk of a split value; generation "" is the old, unversioned layout (``name#1``)."""
    return f"{name}#{generation}.{number}" if generation else f"{name}#{number}"


#: An entry that never holds anything: `credenza doctor` reads it to check that the keyring is
#: unlocked and to time a read, without reading a secret.
DOCTOR_PROBE = "doctor/probe"
