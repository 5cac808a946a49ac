"""The Workspace: the one door the dashboard and the CLI use. It opens the config and wires the
services; everything it offers lives in ``credenza.services``. It never imports Textual.

The services a token needs are built with the workspace; the others when first used, so that a
one-shot `credenza token` imports none of them (api_calls, resets, registration, ...: ~40 ms).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credenza.config.keep import KeptTokens, keep_path
from credenza.config.local import (
    LocalState,
    machine_setting_sources,
    state_path,
    user_settings_path,
    with_user_settings,
)
from credenza.config.model import Config, Team
from credenza.config.store import ConfigStore
from credenza.errors import ConfigError
from credenza.secrets import SecretStore
from credenza.services.context import Clock, Context, utc_now
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments
from credenza.services.migration import move_legacy_entries
from credenza.services.preferences import Preferences, default_preferences_path
from credenza.services.providers import Providers
from credenza.services.tokens import Tokens

if TYPE_CHECKING:
    from collections.abc import Callable

    from credenza.oauth.transport import HttpSettings
    from credenza.services.api_calls import ApiCalls
    from credenza.services.applications import Applications
    from credenza.services.checklist import Checklist
    from credenza.services.contracts import Contracts
    from credenza.services.registration import Registrations
    from credenza.services.resets import Resets
    from credenza.services.sign_in import SignIn
    from credenza.services.status import Status
    from credenza.services.verification import Verification


def default_config_path() -> Path:
    """``--config``, then ``CREDENZA_CONFIG``, then the platform's user config directory."""
    from credenza import locations

    return Path(locations.config_file())


@dataclass(init=False)
class Workspace:
    """Applications, environments, contracts, secrets and tokens, one service each."""

    context: Context
    environments: Environments
    credentials: Credentials
    tokens: Tokens
    providers: Providers
    preferences: Preferences

    def __init__(
        self,
        store: ConfigStore,
        secrets: SecretStore,
        *,
        clock: Clock = utc_now,
        http_settings: HttpSettings | None = None,
        preloaded: Config | None = None,
        local: LocalState | None = None,
        user_settings: Path | None = None,
        preferences: Preferences | None = None,
        kept: KeptTokens | None = None,
    ) -> None:
        context = Context(
            store=store,
            secrets=secrets,
            clock=clock,
            http_settings=http_settings,
            local=local,
            user_settings=user_settings,
            kept=kept,
        )
        context.config = preloaded if preloaded is not None else store.load()
        # Every entry this workspace reads or writes is named within its id; the first one
        # touched moves its entries from the names before ids (once per machine).
        keyring = secrets.unscoped  # given another workspace's view (a test), its keyring
        context.secrets = keyring.within(
            lambda: context.workspace_id,
            prepare=lambda: move_legacy_entries(context, keyring, self.environments.resolve),
        )
        config = context.config
        if config.workspace is None and (
            store.path.exists() or config.applications or config.providers
        ):
            # At first use, not at the first keyring write: a config that cannot be saved
            # (read-only) still lists and shows; what needs its keyring entries says why not.
            with contextlib.suppress(ConfigError):
                context.ensure_workspace_id()
        self.context = context
        self.providers = Providers(context)
        self.environments = Environments(
            context, forget_tokens=self._forget_tokens, forget_all=self._forget
        )
        self.credentials = Credentials(
            context, self.environments, self.providers, self._forget_client_tokens
        )
        self.tokens = Tokens(context, self.environments, self.credentials)
        # One person's dashboard choices; in memory unless given a file (Workspace.open does).
        self.preferences = preferences or Preferences()

    # The services a token does not need, built (and imported) when first used.

    @cached_property
    def resets(self) -> Resets:
        from credenza.services.resets import Resets

        return Resets(
            self.context,
            self.environments,
            self.providers,
            self.credentials,
            self._forget_client_tokens,
        )

    @cached_property
    def sign_in(self) -> SignIn:
        from credenza.services.sign_in import SignIn

        return SignIn(self.context, self.environments, self.credentials, self.tokens)

    @cached_property
    def applications(self) -> Applications:
        from credenza.services.applications import Applications

        return Applications(self.context, self._forget)

    @cached_property
    def contracts(self) -> Contracts:
        from credenza.services.contracts import Contracts

        return Contracts(self.context, self.environments, self.providers)

    @cached_property
    def checklist(self) -> Checklist:
        from credenza.services.checklist import Checklist

        return Checklist(self.context)

    @cached_property
    def verification(self) -> Verification:
        from credenza.services.verification import Verification

        return Verification(self.context, self.environments, self.tokens, self.credentials)

    @cached_property
    def api(self) -> ApiCalls:
        from credenza.services.api_calls import ApiCalls

        return ApiCalls(self.context, self.environments, self.credentials, self.tokens)

    @cached_property
    def status(self) -> Status:
        from credenza.services.status import Status

        return Status(self.context, refresh_failures=self.tokens.refresh_failures)

    @cached_property
    def registrations(self) -> Registrations:
        from credenza.services.registration import Registrations

        return Registrations(self.context, self.environments, self.credentials, self.tokens)

    @classmethod
    def open(
        cls, path: Path | None = None, *, warn: Callable[[str], None] | None = None, **kwargs: Any
    ) -> Workspace:
        """Load the config once (a large one takes a while to parse) and build the services;
        ``warn`` receives the secret store's warnings (a plaintext keyring)."""
        store = ConfigStore(path or default_config_path())
        config = store.load()
        mine = user_settings_path()
        # The context applies this person's settings to every config it holds; the keyring,
        # built before it, needs them now.
        settings = with_user_settings(config.settings, mine)
        keyring = machine_setting_sources(config.settings, store.path, mine)["keyring"]
        secrets = kwargs.pop("secrets", None) or SecretStore(
            timeout=settings.keyring_timeout,
            allow_plaintext=settings.allow_plaintext_keyring,
            warn=warn,
            keyring=settings.keyring,
            keyring_from_config=str(store.path) if keyring.origin == "config" else None,
            memory_fallback=config.team is not None,
        )
        local = LocalState(state_path(), str(store.path))
        kwargs.setdefault("preferences", Preferences(default_preferences_path()))
        kwargs.setdefault("kept", KeptTokens(keep_path()))
        return cls(store, secrets, preloaded=config, local=local, user_settings=mine, **kwargs)

    @property
    def config(self) -> Config:
        return self.context.config

    @property
    def secrets(self) -> SecretStore:
        """The keyring as this workspace sees it: every name within its id."""
        return self.context.secrets

    @property
    def workspace_id(self) -> str:
        """This config's identity (``Context.workspace_id``)."""
        return self.context.workspace_id

    def new_id(self) -> tuple[str | None, str]:
        """Give the config an identity of its own (a copied config shares its original's):
        (the old id, the new one). Its keyring entries stay under the old id."""
        from credenza.config.model import new_workspace_id

        old, new = self.config.workspace, new_workspace_id()

        def renew(config: Config) -> None:
            config.workspace = new

        self.context.mutate(renew)
        return old, new

    def use_team(self, team: Team) -> None:
        """Record where the team keeps this config's secrets (`[team]` in the shared file)."""

        def use(config: Config) -> None:
            config.team = team

        self.context.mutate(use)

    @property
    def config_path(self) -> Path:
        return self.context.store.path

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @property
    def config_digest(self) -> str | None:
        """The config file as last read or written: a form hands it back with its edit, so a
        change made meanwhile elsewhere (the CLI) is a conflict, never undone."""
        return self.context.store.digest

    @property
    def warnings(self) -> list[str]:
        return list(self.context.store.warnings)

    def reload(self) -> Config:
        self.context.config = self.context.store.load()
        return self.context.config

    def close(self) -> None:
        """Close the blocking network client (a one-shot command's); ``aclose`` closes all."""
        self.context.close()
        self.credentials.close()

    async def aclose(self) -> None:
        """Close network clients; the workspace stays usable (they reopen on the next call)."""
        await self.context.aclose()
        await self.providers.aclose()
        self.credentials.close()

    def forget_all(self) -> int:
        """This workspace's keyring entries — every environment's secret, pending secret, cached
        tokens and sign-in, every provider's admin token — and this person's local state for it
        (`credenza forget --all`). The config stays as it is. Returns the environments forgotten."""
        count = 0
        for application in self.config.applications:
            self._forget(application.id, None)
            count += len(application.environments)
        self.providers.forget_admin_tokens()
        self.context.local_state.forget_all()
        return count

    def _forget(self, app_id: str, environment: str | None) -> None:
        """An environment (or an application) goes away: its secrets and tokens, everywhere.
        Called once the config no longer has it: a save that fails loses no secret."""
        if environment is None:
            app_id = self.context.application(app_id).id
        names = (
            [environment]
            if environment is not None
            else list(self.context.application(app_id).environments)
        )
        self.tokens.forget(app_id, environment)
        self.tokens.stop_keeping(app_id, environment)  # nothing left to keep fresh
        for name in names:
            self.credentials.remove(app_id, name)

    def _forget_client_tokens(self, app_id: str, environment: str | None) -> None:
        """A new secret (set, reset, a new key): the client's cached tokens go, a person's
        sign-in stays and refreshes with the new secret."""
        self.tokens.forget(app_id, environment, keep_sign_in=True)

    def _forget_tokens(self, app_id: str, environment: str | None) -> None:
        self.tokens.forget(app_id, environment)
