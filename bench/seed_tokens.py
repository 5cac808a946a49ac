"""Cache a token for every application of a bench config, the way `credenza token` does, and
print the keyring entries that wrote as JSON (name → value): `python bench/seed_tokens.py CONFIG`.

Run with the bench world's environment (its HOME and XDG directories), so whatever credenza's
token store keeps outside the keyring lands where the measured processes look for it; the
keyring entries go to a keyring in a dict and are printed, for the bench to load into
gnome-keyring in one go (writing them one by one over D-Bus takes most of an hour at 5,000).
The entries are credenza's own: nothing here knows their names or format.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from credenza.config.store import ConfigStore
from credenza.oauth.tokens import Token
from credenza.secrets import Secret, SecretStore
from credenza.secrets.backend import Backend
from credenza.services.credential_key import fingerprint
from credenza.services.tokens.records import SessionToken
from credenza.workspace import Workspace


class Captured(Backend):
    """The entries written, in a dict. Not the memory keyring: with that, credenza keeps what
    it keeps beside the keyring (the token index) in memory too, and it would be lost."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.entries.get(name)

    def set(self, name: str, value: str) -> None:
        self.entries[name] = value

    def delete(self, name: str) -> None:
        self.entries.pop(name, None)


def main() -> None:
    config = Path(sys.argv[1])
    keyring = Captured()
    workspace = Workspace(ConfigStore(config), SecretStore(keyring))
    workspace_id = workspace.config.workspace
    assert workspace_id is not None, "the bench's configs name their workspace"
    now = datetime.now(UTC)
    sessions = []
    for number, application in enumerate(workspace.config.applications):
        for env_name in application.environments:
            resolved = workspace.environments.resolve(application.id, env_name)
            token = Token(
                access_token=Secret(f"bench-token-{number:05d}"),
                token_type="Bearer",
                issued_at=now,
                expires_at=now + timedelta(seconds=3000 + number),
                scopes=(),
            )
            key = fingerprint(workspace_id, resolved, ())
            sessions.append(SessionToken(application.id, env_name, token, (), key))
    workspace.tokens.store.cache_many(sessions)
    json.dump(keyring.entries, sys.stdout)


if __name__ == "__main__":
    main()
