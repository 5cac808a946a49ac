"""Where client secrets live (the team store or this person's keyring): read, pending, removed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from credenza.errors import SecretStoreError, TeamStoreUnreachableError
from credenza.secrets import Secret, StoredSecret, names
from credenza.services.context import Context
from credenza.services.credential_lock import credential_lock
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.providers import Providers

if TYPE_CHECKING:
    from credenza.services.team import TeamStore

Where = Literal["team store", "keyring"]


class StoredCredentials:
    """The stored half of ``Credentials``: every read and write of a secret goes through here."""

    def __init__(
        self,
        context: Context,
        environments: Environments,
        providers: Providers,
        forget_tokens: Callable[[str, str | None], None],
    ) -> None:
        self._context = context
        self._environments = environments
        self._providers = providers
        self._forget_tokens = forget_tokens
        self._team: TeamStore | None = None
        # Client secrets read in one batch ahead of many calls (``read_ahead``), each used once.
        self._ahead: dict[tuple[str, str], StoredSecret] = {}

    def reveal(self, app_ref: str, env_name: str) -> Secret:
        resolved = self._environments.resolve(app_ref, env_name)
        stored = self.stored_secret(resolved.application.id, resolved.name)
        return stored.secret

    # -- where secrets live: the team store when [team] is set, else this person's keyring ------
    # The one switch: every read and write of a client secret, key or pending secret below (and
    # in credential_origins, resets and tokens) goes through these.

    def team_store(self) -> TeamStore | None:
        team = self._context.config.team
        if team is None:
            return None
        if self._team is None or self._team.team != team:
            from credenza.services.team import TeamStore

            if self._team is not None:
                self._team.close()
            self._team = TeamStore(self._context, team)
        return self._team

    def close(self) -> None:
        """Close the team store's connections (they reopen on the next call)."""
        if self._team is not None:
            self._team.close()

    def where(self) -> Where:
        return "team store" if self._context.config.team is not None else "keyring"

    def place(self, app_id: str, environment: str) -> str | None:
        """Where the secret is, as the dashboard says it without a network call: "keyring",
        "team store v3" (the version last seen), or None when it is not there (or not seen)."""
        team = self.team_store()
        if team is None:
            return "keyring" if self.stored_at(app_id, environment) is not None else None
        version = team.known(app_id, environment)[0]
        return None if version is None else f"team store v{version}"

    def look_in_team_store(self, environments: list[tuple[str, str]]) -> None:
        """Read each environment's record once, so that ``place`` says what the store has now
        (blocking: for a worker). Stops at the first failure to reach the store."""
        team = self.team_store()
        if team is None:
            return
        for app_id, environment in environments:
            try:
                team.read(app_id, environment)
            except TeamStoreUnreachableError:
                raise
            except SecretStoreError:
                continue  # a path this person may not read: said when they use it

    def stored_secret(self, app_id: str, environment: str, *, ahead: bool = False) -> StoredSecret:
        """The client secret (or key) and the origins it is bound to. ``ahead``: take the copy
        the last ``read_ahead`` batch read, if it holds one (each copy is taken once)."""
        team = self.team_store()
        if team is not None:
            return team.secret(app_id, environment)
        if ahead and (stored := self._ahead.pop((app_id, environment), None)) is not None:
            return stored
        return self._context.secrets.get_client_secret(app_id, environment)

    def read_ahead(self, environments: Iterable[tuple[str, str]]) -> None:
        """Read the keyring's client secrets of ``environments`` in one batch (a few keyring
        calls, not one each: on gnome-keyring every read is a D-Bus round trip and a search of
        the whole collection, one at a time), each then handed out once, to ``for_call``;
        what an earlier call read ahead and nothing used is dropped (``read_ahead([])``: all of
        it). Only the first read of each comes from the batch: the read after a token call that
        makes sure the secret is still the stored one is a live one, as ever (after many calls,
        a batch read after them all: ``Issuing.settle_many``). Blocking."""
        wanted = list(environments)
        if not wanted or self.team_store() is not None:
            self._ahead = {}
            return
        self._ahead = self._context.secrets.get_client_secrets(wanted)

    def secret_version(self, app_id: str, environment: str, *, offline: bool = False) -> int | None:
        """The team store's version of the secret (part of the fingerprint); None: keyring.
        ``offline``: as last seen, without a network call (for the dashboard's event loop)."""
        team = self.team_store()
        if team is None:
            return None
        if offline:
            return team.known(app_id, environment)[0]
        return team.secret_version(app_id, environment)

    def pending_secret(self, app_id: str, environment: str) -> Secret | None:
        """A secret a provider issued (or a one-time link showed) during an unfinished reset."""
        team = self.team_store()
        if team is not None:
            return team.pending(app_id, environment)
        value = self._context.secrets.get_raw(names.pending_secret(app_id, environment))
        return None if value is None else Secret(value)

    def keep_pending(self, app_id: str, environment: str, secret: Secret) -> None:
        team = self.team_store()
        if team is not None:
            team.keep_issued(app_id, environment, secret)
        else:
            self._context.secrets.set_raw(
                names.pending_secret(app_id, environment), secret.reveal()
            )

    def drop_pending(self, app_id: str, environment: str) -> None:
        """Throw the pending secret away (in the team store, with the reset's claim)."""
        team = self.team_store()
        if team is not None:
            team.discard_pending(app_id, environment)
        else:
            self._context.secrets.delete_raw(names.pending_secret(app_id, environment))

    def _write_secret(
        self, app_id: str, environment: str, secret: Secret, origin: str | None, *, new: bool
    ) -> None:
        # What was read ahead of this write is no longer the stored secret.
        self._ahead.pop((app_id, environment), None)
        team = self.team_store()
        if team is not None:
            team.set_secret(app_id, environment, secret, origin, new=new)
        else:
            self._context.secrets.set_client_secret(app_id, environment, secret, origin=origin)

    def remove(self, app_id: str, environment: str) -> None:
        secrets = self._context.secrets
        self._ahead.pop((app_id, environment), None)
        # A reset finishing elsewhere would store its secret (and pending copy) back after this.
        with credential_lock(self._context, app_id, environment):
            if self.team_store() is None:
                # A team store's record is the team's: a teammate whose config still has the
                # environment keeps using it; it is deleted in the store by whoever administers it.
                secrets.delete_client_secret(app_id, environment)
                secrets.delete_raw(names.pending_secret(app_id, environment))
            secrets.delete_raw(names.confirmed_origins(app_id, environment))
            secrets.delete_raw(names.dpop_key(app_id, environment))
            # A client credenza registered: the token that manages it goes with its secret.
            secrets.delete_raw(names.registration_token(app_id, environment))
        self._context.local_state.forget_secret(app_id, environment)
        self._context.local_state.reset_finished(app_id, environment)
        # An environment added again later under this name starts with nothing failed.
        self._context.local_state.refresh_worked(app_id, environment)

    def stored_at(
        self, app_ref: str, env_name: str, *, check_keyring: bool = False
    ) -> datetime | None:
        """When this person stored the secret (None: not in their keyring). Kept on this machine,
        not in the shared config, so that a teammate's view is their own. ``check_keyring``
        looks in the keyring when nothing is recorded (a secret stored before this was kept)."""
        resolved = self._environments.resolve(app_ref, env_name)
        app_id, name = resolved.application.id, resolved.name
        local = self._context.local_state
        team = self.team_store()
        if team is not None:
            # The team's secret: when it was written to the store, by whoever wrote it; from the
            # store only when asked (check_keyring), else as last seen (the dashboard's rows).
            if check_keyring:
                return team.secret_at(app_id, name)
            version, at = team.known(app_id, name)
            if version is None:
                return None
            environment = resolved.environment
            return (
                at
                or environment.secret_rotated_at
                or environment.secret_set_at
                or local.secret_set_at(app_id, name)
                or self._context.clock()
            )
        when = local.secret_set_at(app_id, name)
        secrets = self._context.secrets
        if when is None and check_keyring and secrets.get_raw(names.client_secret(app_id, name)):
            when = resolved.environment.secret_set_at or self._context.clock()
            local.record_secret(app_id, name, when)
        return when

    def has_secret(self, resolved: ResolvedEnvironment) -> bool:
        app_id, name = resolved.application.id, resolved.name
        team = self.team_store()
        if team is not None:
            return team.has_secret(app_id, name)
        return self.stored_at(app_id, name, check_keyring=True) is not None

    def age(self, app_ref: str, env_name: str, *, check_keyring: bool = False) -> timedelta | None:
        """How old this person's secret is: since it was rotated, or since they stored it."""
        stored = self.stored_at(app_ref, env_name, check_keyring=check_keyring)
        if stored is None:
            return None
        rotated = self._environments.resolve(app_ref, env_name).environment.secret_rotated_at
        since = max(stored, rotated) if rotated is not None else stored
        return self._context.clock() - since
