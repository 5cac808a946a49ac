"""What every service shares: the loaded config and its store, the keyring, the clock, HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from credenza.config.keep import KeptTokens
from credenza.config.local import LocalState, check_ca_bundle, with_user_settings
from credenza.config.model import Application, Config, Contract, Environment, new_workspace_id
from credenza.config.store import ConfigStore
from credenza.errors import ConfigWriteError, NotFoundError
from credenza.next_steps import step
from credenza.secrets import SecretStore

if TYPE_CHECKING:
    # httpx loads only when a network call needs it: offline commands and cached tokens stay fast.
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.id_token import KeySets
    from credenza.oauth.plan import ClientProtocol
    from credenza.oauth.sync_client import SyncOAuthClient
    from credenza.oauth.transcript import Transcript
    from credenza.oauth.transport import HttpSettings

T = TypeVar("T")
P = ParamSpec("P")
C = TypeVar("C", bound="ClientProtocol")
Clock = Callable[[], datetime]


async def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread`` for a blocking (keyring) step of an async service call. asyncio is
    imported here, by the async paths only: a one-shot CLI call that never awaits (the blocking
    `credenza token`) never loads it (~30 ms)."""
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Context:
    """The config as last read or written, and the stores every service writes through."""

    store: ConfigStore
    secrets: SecretStore
    clock: Clock = utc_now
    http_settings: HttpSettings | None = None
    # This person's own state and settings (never in the shared file); None: in memory only.
    local: LocalState | None = None
    user_settings: Path | None = None
    # The tokens this person asked the agent to keep fresh (their own file); None: in memory.
    kept: KeptTokens | None = None
    _config: Config = field(init=False, repr=False, default_factory=Config)
    _index: dict[str, Application] = field(init=False, repr=False, default_factory=dict)
    _names: dict[str, Application] | None = field(init=False, repr=False, default=None)
    _client: OAuthClient | None = field(init=False, default=None, repr=False)
    _blocking: SyncOAuthClient | None = field(init=False, default=None, repr=False)
    _key_sets: KeySets | None = field(init=False, default=None, repr=False)
    # `--verbose`: told of every HTTP exchange of either client.
    _observer: Callable[[Transcript], None] | None = field(init=False, default=None, repr=False)

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        # Every change goes through here (load, reload, mutate), so the index cannot go stale.
        config.settings = with_user_settings(config.settings, self.user_settings)
        self._config = config
        if config.workspace is not None and self.local is not None:
            self.local.join_workspace(config.workspace)
        self._index = {application.id: application for application in config.applications}
        self._names = None  # built on the first lookup by name: screens look up by id

    def __post_init__(self) -> None:
        if self.local is None:
            self.local = LocalState(None, str(self.store.path))
        if self.kept is None:
            self.kept = KeptTokens(None)

    @property
    def local_state(self) -> LocalState:
        assert self.local is not None
        return self.local

    @property
    def config_path(self) -> str:
        """The config file's resolved real path (the agent's key; the save lock's)."""
        return os.path.realpath(self.store.path)

    @property
    def config_dir(self) -> str:
        """Where relative paths in the config (errors_file, ca_bundle, certificate) are taken
        from: the config file's own directory, never the current one."""
        from credenza.config.files import config_directory

        return config_directory(self.store.path)

    @property
    def workspace_id(self) -> str:
        """This config's identity: the id every keyring entry, cached token fingerprint, local
        state and per-credential lock of it is keyed by. A config without one (every config
        before ids, a new one) is given one now, saved into the file before anything is
        written under it; one that cannot be saved (read-only) is a clear error."""
        found = self.config.workspace
        return found if found is not None else self.ensure_workspace_id()

    def ensure_workspace_id(self) -> str:
        """Give the config its id and save it (under the lock, the file read afresh: another
        process that gave it one first wins, and this one uses that)."""

        def give(config: Config) -> str:
            if config.workspace is None:
                config.workspace = new_workspace_id()
            return config.workspace

        try:
            return self.mutate(give)
        except ConfigWriteError as exc:
            raise ConfigWriteError(
                f"{self.store.path} has no workspace id yet and cannot be saved to get one "
                f"({exc.message}); its secrets are kept under that id",
                hint=f"make it writable once, or add the line workspace = "
                f'"{new_workspace_id()}" at its top',
            ) from None

    def application(self, ref: str) -> Application:
        """By id or (case-insensitive) name, in constant time: screens look one up per row."""
        wanted = ref.strip().lower()
        found = self._index.get(wanted)
        if found is None:
            if self._names is None:
                # Reversed: the first of two alike wins, as in find_application.
                self._names = {a.name.lower(): a for a in reversed(self.config.applications)}
            found = self._names.get(wanted)
        return found if found is not None else find_application(self.config, ref)

    def mutate(self, change: Callable[[Config], T], *, expected: str | None = None) -> T:
        """Apply ``change`` to the config as it is on disk now, under the lock, and save it.

        ``expected`` is the content hash a form was opened with: a file changed since is a
        conflict, not a silent overwrite of someone else's edit.
        """
        with self.store.edit(expected=expected) as config:
            result = change(config)
        self.config = config
        return result

    @property
    def key_sets(self) -> KeySets:
        """The issuers' id_token keys this workspace fetched (PyJWT loads with the first)."""
        if self._key_sets is None:
            from credenza.oauth.id_token import KeySets

            self._key_sets = KeySets()
        return self._key_sets

    @property
    def client(self) -> OAuthClient:
        """The async OAuth client (the dashboard, `verify --all`, every awaited call)."""
        if self._client is None:
            from credenza.oauth.client import OAuthClient

            self._client = self._made(OAuthClient)
        return self._client

    @property
    def blocking_client(self) -> SyncOAuthClient:
        """The blocking OAuth client, for a one-shot CLI call that need not load asyncio."""
        if self._blocking is None:
            from credenza.oauth.sync_client import SyncOAuthClient

            self._blocking = self._made(SyncOAuthClient)
        return self._blocking

    def observe(self, observer: Callable[[Transcript], None]) -> None:
        """Tell ``observer`` of every HTTP exchange from now on, whichever client makes it."""
        self._observer = observer
        for client in (self._client, self._blocking):
            if client is not None:
                client.observer = observer

    def close(self) -> None:
        """Close the blocking client (the async one closes in ``aclose``)."""
        if self._blocking is not None:
            self._blocking.close()
            self._blocking = None

    async def aclose(self) -> None:
        self.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def http(self) -> HttpSettings:
        """The network settings every client of this context is built with."""
        settings = self.http_settings
        if settings is None:
            from credenza.config.files import resolve_path
            from credenza.oauth.transport import HttpSettings

            mine = self.config.settings
            check_ca_bundle(mine, self.store.path, self.user_settings)
            settings = HttpSettings(
                connect_timeout=mine.connect_timeout,
                read_timeout=mine.read_timeout,
                deadline=mine.deadline,
                retry_attempts=mine.retry_attempts,
                ca_bundle=resolve_path(mine.ca_bundle, self.config_dir) if mine.ca_bundle else None,
            )
        return settings

    def _made(self, kind: Callable[..., C]) -> C:
        """An OAuth client of either kind, with the settings and observer of this context."""
        client = kind(self.http(), clock=lambda: self.clock())
        client.observer = self._observer
        return client


def find_application(config: Config, ref: str) -> Application:
    wanted = ref.strip().lower()
    for application in config.applications:
        if application.id == wanted or application.name.lower() == wanted:
            return application
    known = ", ".join(a.id for a in config.applications) or "none yet"
    raise NotFoundError(
        f"no application {ref!r} (known: {known})",
        hint="see `{0}`",
        next_steps=(step("list_applications"),),
    )


def find_environment(application: Application, name: str) -> Environment:
    try:
        return application.environments[name]
    except KeyError:
        known = ", ".join(application.environments) or "none yet"
        raise NotFoundError(
            f"{application.name} has no environment {name!r} (known: {known})",
            hint="add it with `{0}`",
            next_steps=(
                step("add_environment", application.id, name, client_id="ID", token_url="URL"),
            ),
        ) from None


def find_contract(application: Application, contract_id: str) -> Contract:
    for contract in application.contracts:
        if contract.id == contract_id:
            return contract
    raise NotFoundError(f"{application.name} has no contract {contract_id!r}")
