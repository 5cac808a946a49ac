"""What every service shares: the loaded config and its store, the keyring, the clock, HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from credenza.config.local import LocalState, with_user_settings
from credenza.config.model import Application, Config, Contract, Environment
from credenza.config.store import ConfigStore
from credenza.errors import NotFoundError
from credenza.secrets import SecretStore

if TYPE_CHECKING:
    # httpx loads only when a network call needs it: offline commands and cached tokens stay fast.
    from credenza.oauth.client import HttpSettings, OAuthClient

T = TypeVar("T")
Clock = Callable[[], datetime]


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
    _config: Config = field(init=False, repr=False, default_factory=Config)
    _index: dict[str, Application] = field(init=False, repr=False, default_factory=dict)
    _client: OAuthClient | None = field(init=False, default=None, repr=False)

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        # Every change goes through here (load, reload, mutate), so the index cannot go stale.
        config.settings = with_user_settings(config.settings, self.user_settings)
        self._config = config
        self._index = {}
        for application in config.applications:
            self._index[application.name.lower()] = application
        for application in config.applications:
            self._index[application.id] = application

    def __post_init__(self) -> None:
        if self.local is None:
            self.local = LocalState(None, str(self.store.path))

    @property
    def local_state(self) -> LocalState:
        assert self.local is not None
        return self.local

    @property
    def config_path(self) -> str:
        """The config file's resolved real path: part of every credential's fingerprint."""
        return os.path.realpath(self.store.path)

    def application(self, ref: str) -> Application:
        """By id or (case-insensitive) name, in constant time: screens look one up per row."""
        found = self._index.get(ref.strip().lower())
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
    def client(self) -> OAuthClient:
        if self._client is None:
            from credenza.oauth.client import HttpSettings, OAuthClient

            settings = self.config.settings
            self._client = OAuthClient(
                self.http_settings
                or HttpSettings(
                    connect_timeout=settings.connect_timeout,
                    read_timeout=settings.read_timeout,
                    deadline=settings.deadline,
                    retry_attempts=settings.retry_attempts,
                    ca_bundle=settings.ca_bundle,
                ),
                clock=lambda: self.clock(),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def find_application(config: Config, ref: str) -> Application:
    wanted = ref.strip().lower()
    for application in config.applications:
        if application.id == wanted or application.name.lower() == wanted:
            return application
    known = ", ".join(a.id for a in config.applications) or "none yet"
    raise NotFoundError(f"no application {ref!r} (known: {known})", hint="see `credenza app list`")


def find_environment(application: Application, name: str) -> Environment:
    try:
        return application.environments[name]
    except KeyError:
        known = ", ".join(application.environments) or "none yet"
        raise NotFoundError(
            f"{application.name} has no environment {name!r} (known: {known})",
            hint=f"add it with `credenza env add {application.id} {name} --client-id ID --token-url URL`",
        ) from None


def find_contract(application: Application, contract_id: str) -> Contract:
    for contract in application.contracts:
        if contract.id == contract_id:
            return contract
    raise NotFoundError(f"{application.name} has no contract {contract_id!r}")
