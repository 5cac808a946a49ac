"""Tokens kept fresh by the agent: this person's choices (their keep file), and what the agent
is handed (the fast path's keys a script may ask with)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from credenza.errors import CredenzaError
from credenza.services.context import Context
from credenza.services.credential_key import agent_tags
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.tokens.records import SessionToken, TokenEntry

if TYPE_CHECKING:
    from credenza.config.keep import Kept, KeptTokens


def requested_scopes(
    resolved: ResolvedEnvironment, scopes: Iterable[str] | None
) -> tuple[str, ...]:
    """The scopes a token is requested with: those named, else the environment's own."""
    requested = tuple(scopes) if scopes else tuple(resolved.environment.scopes)
    return tuple(sorted(set(requested)))


class KeptFresh:
    """Keep, unkeep, and what the agent is told."""

    def __init__(self, context: Context, environments: Environments) -> None:
        self._context = context
        self._environments = environments

    def keep(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> Kept:
        """Ask the agent to keep this token fresh, from now on and after any restart: the
        choice goes into this person's keep file, and a running agent is told."""
        from credenza.config.keep import Kept

        resolved = self._environments.resolve(app_ref, env_name)
        requested = requested_scopes(resolved, scopes)
        # The environment's own scopes are kept as "none named", as `credenza token APP` asks.
        named = () if requested == requested_scopes(resolved, None) else requested
        entry = Kept(
            self._context.config_path,
            self._context.workspace_id,
            resolved.application.id,
            resolved.name,
            named,
        )
        self._kept_file().add(entry)
        _tell_agent_kept("keep")
        return entry

    def unkeep(self, app_ref: str, env_name: str | None = None) -> list[Kept]:
        """Stop keeping an application's tokens (or one environment's); what was kept."""
        return self.stop_keeping(self._context.application(app_ref).id, env_name)

    def stop_keeping(self, app_id: str, environment: str | None) -> list[Kept]:
        """``unkeep`` by id: also for an application or environment being removed."""
        workspace = self._context.config.workspace
        if workspace is None:
            return []
        gone = self._kept_file().remove(workspace, app_id, environment)
        if gone:
            _tell_agent_kept("unkeep")
        return gone

    def kept(self) -> list[Kept]:
        """What this person keeps fresh in this workspace."""
        workspace = self._context.config.workspace  # none yet: nothing kept (and none given)
        if workspace is None:
            return []
        return [entry for entry in self._kept_file().all() if entry.workspace == workspace]

    def is_kept(self, session: SessionToken | TokenEntry, kept: list[Kept] | None = None) -> bool:
        """True when ``session`` is a token this person keeps fresh (``kept``: read already)."""
        for entry in self.kept() if kept is None else kept:
            if (entry.application, entry.environment) != (
                session.application_id,
                session.environment,
            ):
                continue
            try:
                resolved = self._environments.resolve(entry.application, entry.environment)
            except CredenzaError:
                continue
            if requested_scopes(resolved, entry.scopes) == session.requested_scopes:
                return True
        return False

    def agent_aliases(self, entry: Kept) -> list[str]:
        """The fast path's keys a script's `credenza token` for ``entry`` may ask with: the
        application by id or name, the environment named or (the default one) not, the scopes
        named or not."""
        from credenza.agent.protocol import cache_key, config_key

        resolved = self._environments.resolve(entry.application, entry.environment)
        application = resolved.application
        config = config_key(self._context.config_path)
        envs = [resolved.name]
        with contextlib.suppress(CredenzaError):  # `--env` left out: the default, if any
            if self._environments.resolve(application.id, None).name == resolved.name:
                envs.append("")
        scope_lists = [list(entry.scopes)]
        if not entry.scopes:
            scope_lists.append(list(requested_scopes(resolved, None)))
        aliases = {
            cache_key(config, app, env, scopes)
            for app in (application.id, application.name)
            for env in envs
            for scopes in scope_lists
        }
        return sorted(aliases)

    def share_with_agent(self, session: SessionToken, alias: str, read_at: float) -> None:
        """Hand a token to a running agent under the fast path's lookup key. ``read_at`` (the
        wall clock before the token was read or fetched): the agent refuses it when a change
        dropped its credential since, so a change racing this call never leaves it there."""
        from credenza.agent import client as agent

        if self._context.config.team is not None and not session.user:
            # The agent answers without asking the team store, so it would go on handing out a
            # token issued to a secret a teammate has since rotated: team tokens skip it.
            return
        agent.request({**self.agent_put(session, alias), "read_at": read_at})

    def agent_put(self, session: SessionToken, alias: str) -> dict[str, Any]:
        """The agent's ``put`` of ``session`` under the fast path's key ``alias``."""
        token = session.token
        return {
            "op": "put",
            "key": alias,
            "tags": agent_tags(
                self._context.config_path, session.application_id, session.environment
            ),
            "token": token.access_token.reveal(),
            "token_type": token.token_type,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "expires": token.expires_at.timestamp() if token.expires_at else None,
            "skew": self._context.config.settings.token_skew_seconds,
            "scope": " ".join(token.scopes),
        }

    def _kept_file(self) -> KeptTokens:
        assert self._context.kept is not None
        return self._context.kept


def _tell_agent_kept(op: str) -> None:
    from credenza.agent import client as agent

    agent.request({"op": op})
