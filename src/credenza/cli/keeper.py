"""What the agent runs to keep tokens fresh: the keep file read, and each renewal made the way
`credenza token` makes one (services/tokens/), in the workspace the entry names.

The workspace (and with it httpx) is imported at the first renewal only: an agent with nothing
kept stays as light as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from credenza.config.keep import Kept, keep_path, read_kept

if TYPE_CHECKING:
    from credenza.services.tokens.records import SessionToken
    from credenza.workspace import Workspace


class RenewalFailed(Exception):
    """A renewal that did not work, with a message fit to show (cleaned, no secret)."""


class WorkspaceKeeper:
    """The agent's keeper: blocking calls, each run in one of the agent's worker threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or keep_path()
        self._entries: dict[str, Kept] = {}

    def entries(self) -> dict[str, dict[str, Any]]:
        self._entries = {entry.id: entry for entry in read_kept(self.path)}
        return {
            entry_id: {
                "config": entry.config,
                "workspace": entry.workspace,
                "application": entry.application,
                "environment": entry.environment,
                "scopes": list(entry.scopes),
            }
            for entry_id, entry in self._entries.items()
        }

    def renew(self, entry_id: str) -> dict[str, Any]:
        from credenza.errors import CredenzaError
        from credenza.oauth.untrusted import clean

        entry = self._entries.get(entry_id)
        if entry is None:
            raise RenewalFailed("no longer kept")
        try:
            workspace, session = _renew(entry)
            tokens = workspace.tokens
            puts = [tokens.agent_put(session, alias) for alias in tokens.agent_aliases(entry)]
            skew = workspace.config.settings.token_skew_seconds
        except CredenzaError as exc:
            raise RenewalFailed(clean(exc.message, limit=300)) from None
        except Exception as exc:  # never the text: it could hold anything
            raise RenewalFailed(f"unexpected error ({type(exc).__name__})") from None
        token = session.token
        return {
            "puts": puts,
            "expires": token.expires_at.timestamp() if token.expires_at else None,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "issued": token.issued_at.timestamp(),
            "skew": skew,
        }


def _renew(entry: Kept) -> tuple[Workspace, SessionToken]:
    import asyncio

    from credenza.errors import ConfigError
    from credenza.workspace import Workspace

    workspace = Workspace.open(Path(entry.config))
    if workspace.config.workspace != entry.workspace:
        raise ConfigError(
            f"{entry.config} holds another workspace now",
            hint="keep the token again from the workspace it belongs to",
        )

    async def renew() -> SessionToken:
        try:
            return await workspace.tokens.renew(entry)
        finally:
            await workspace.aclose()

    return workspace, asyncio.run(renew())
