"""Providers: the user's provider records, their catalogues, and the adapter that acts on each
provider's side (chosen and described by the registry, providers/registry.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from credenza.config.changes import ProviderChange, apply_change
from credenza.config.model import Application, CatalogueApi, Config, Provider, ProviderEnvironment
from credenza.errors import (
    EndpointChangedError,
    NotFoundError,
    SecretStoreError,
    ValidationError,
)
from credenza.next_steps import step
from credenza.oauth.origins import origin_of
from credenza.providers.profiles import Profile, load_error_table, resolve_profile, shipped_profiles
from credenza.secrets import Secret, names
from credenza.services.context import Context

if TYPE_CHECKING:
    # Imported where an adapter is used: a token's command never needs one (~4 ms of imports).
    from credenza.providers.base import AdapterSpec, CatalogueEntry, ProviderAdapter

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def admin_token_entry(key: str) -> str:
    return names.admin_token(key)


class Providers:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._adapters: dict[str, tuple[Provider | None, ProviderAdapter]] = {}

    # -- records --------------------------------------------------------------------------------

    def all(self) -> dict[str, Provider]:
        return dict(self._context.config.providers)

    def get(self, key: str) -> Provider:
        provider = self._context.config.providers.get(key)
        if provider is None:
            known = ", ".join(self._context.config.providers) or "none yet"
            raise NotFoundError(
                f"no provider {key!r} in the config (known: {known})",
                hint="add it: {0}",
                next_steps=(step("add_provider", None, None, key, profile="PROFILE"),),
            )
        return provider

    def profile(self, key: str) -> Profile:
        """What credenza knows about the provider: its shipped profile and the user's record."""
        return resolve_profile(
            key, self._context.config.providers.get(key), self._context.config_dir
        )

    def shipped(self) -> list[str]:
        """The keys of the provider profiles credenza ships (telenor, pipedrive, ...)."""
        return list(shipped_profiles())

    def spec(self, key: str) -> AdapterSpec:
        """What the provider's adapter declares: its kind, what it can do, its admin token."""
        from credenza.providers.registry import adapter_spec

        provider = self._context.config.providers.get(key)
        return adapter_spec(provider.kind if provider is not None else None)

    def users(self, key: str) -> list[Application]:
        return [a for a in self._context.config.applications if a.provider == key]

    def add(
        self, key: str, provider: Provider | ProviderChange, *, replace: bool | None = None
    ) -> Provider:
        """Add a provider record; a ``ProviderChange`` is checked as an edit of an empty one.

        A whole ``Provider`` record replaces one of the same key (the demo sets its own up);
        a change from a form or the CLI never does unless ``replace`` says so.
        """
        if replace is None:
            replace = isinstance(provider, Provider)
        if not _KEY.match(key):
            raise ValidationError(
                f"{key!r} is not a usable provider key",
                hint="use lowercase letters, digits, '.', '_' or '-'",
            )
        if isinstance(provider, ProviderChange):
            name = provider.name if isinstance(provider.name, str) else key
            provider = _apply(Provider(name=name), provider)
        _check(provider, key, self._context.config_dir)

        def add(config: Config) -> Provider:
            if key in config.providers and not replace:
                raise ValidationError(
                    f"a provider {key!r} already exists",
                    hint="change it with `{0}`",
                    next_steps=(step("edit_provider", None, None, key, "..."),),
                )
            config.providers[key] = provider
            return provider

        return self._context.mutate(add)

    def edit(self, key: str, change: ProviderChange) -> Provider:
        if change.is_empty():
            raise ValidationError("nothing to change; give at least one option")

        def edit(config: Config) -> Provider:
            current = config.providers.get(key)
            if current is None:
                self.get(key)  # raises the not-found error with the known keys
            assert current is not None
            updated = _apply(current, change)
            _check(updated, key, self._context.config_dir)
            config.providers[key] = updated
            return updated

        updated = self._context.mutate(edit)
        self._adapters.pop(key, None)
        return updated

    def remove(self, key: str) -> Provider:
        """Remove a provider record and its admin token; refused while applications use it."""
        provider = self.get(key)
        self.check_removable(key)

        def remove(config: Config) -> None:
            config.providers.pop(key, None)

        self._context.mutate(remove)
        self._context.secrets.delete_raw(admin_token_entry(key))
        self._adapters.pop(key, None)
        return provider

    def forget_admin_tokens(self) -> None:
        """Every provider's admin token leaves the keyring (`credenza forget --all`); the
        provider records stay in the config."""
        for key in self._context.config.providers:
            self._context.secrets.delete_raw(admin_token_entry(key))

    def check_removable(self, key: str) -> None:
        users = self.users(key)
        if users:
            raise ValidationError(
                f"{', '.join(a.id for a in users)} use(s) the provider {key!r}; nothing was removed",
                hint="move them first: {0} (or '')",
                next_steps=(step("edit_application", "APP", None, provider="OTHER"),),
            )

    # -- the sandbox's admin token --------------------------------------------------------------

    def set_admin_token(self, key: str, token: Secret) -> None:
        """Store the admin token bound to the origin of the provider's admin URL now: it is
        sent nowhere else (SECURITY.md promise 33), whatever a later edit of the URL says."""
        if not token.reveal().strip():
            raise ValidationError("the admin token is empty; nothing was stored")
        provider = self._context.config.providers.get(key)
        url = provider.admin_url if provider is not None else None
        self._context.secrets.set_bound(
            admin_token_entry(key), token, origin=origin_of(url) if url else None
        )
        self._adapters.pop(key, None)

    def _bound_admin_token(self, key: str, provider: Provider | None) -> Secret | None:
        """The admin token, if the provider's admin URL is on the origin it was stored for.

        One stored before tokens were bound is bound now, on first use; a URL moved to another
        origin since (an edit, a teammate's commit) gets nothing until the token is stored again
        for it."""
        stored = self._context.secrets.get_bound(admin_token_entry(key))
        if stored is None:
            return None
        url = provider.admin_url if provider is not None else None
        if not url:
            return stored.secret
        where = origin_of(url)
        if stored.origin is None:
            import contextlib

            # A keyring refusing the write (locked) binds it at the next use instead.
            with contextlib.suppress(SecretStoreError):
                self._context.secrets.set_bound(admin_token_entry(key), stored.secret, origin=where)
        elif where != stored.origin:
            from credenza.oauth.untrusted import clean

            raise EndpointChangedError(
                f"the admin URL of the provider {key!r} is on {clean(where, limit=120)}: it "
                f"moved from {clean(stored.origin, limit=120)}, where the admin token was "
                "stored; nothing was sent there",
                stored_origin=stored.origin,
                new_origin=where,
                hint="if you trust it, store the admin token for it again: {0}",
                next_steps=(step("admin_token", None, None, key),),
            )
        return stored.secret

    def has_admin_token(self, key: str) -> bool:
        return self._context.secrets.get_raw(admin_token_entry(key)) is not None

    # -- catalogues -----------------------------------------------------------------------------

    async def catalogue(self, key: str) -> list[CatalogueEntry]:
        """The APIs one may request access to: the sandbox's own, or the config's for a portal."""
        return await self.adapter_for_key(key).catalogue()

    async def add_api(self, key: str, api: CatalogueApi) -> CatalogueEntry:
        """Add an API (group) instance to the catalogue: at the sandbox through its admin API,
        in the config for a portal provider credenza cannot call."""
        from credenza.providers.base import CatalogueEntry
        from credenza.providers.registry import adapter_spec

        provider = self.get(key)
        if adapter_spec(provider.kind).own_catalogue is not None:
            return await self.adapter_for_key(key).add_api(api)

        def add(config: Config) -> None:
            record = config.providers[key]
            catalogue = [a for a in record.catalogue if a.id != api.id]
            config.providers[key] = _apply(record, ProviderChange(), catalogue=[*catalogue, api])

        self._context.mutate(add)
        self._adapters.pop(key, None)
        return CatalogueEntry.of(api)

    def remove_api(self, key: str, api_id: str) -> None:
        from credenza.providers.registry import adapter_spec

        provider = self.get(key)
        own_catalogue = adapter_spec(provider.kind).own_catalogue
        if own_catalogue is not None:
            raise ValidationError(own_catalogue)
        if not any(api.id == api_id for api in provider.catalogue):
            raise NotFoundError(f"the provider {key!r} has no API {api_id!r} in its catalogue")

        def remove(config: Config) -> None:
            record = config.providers[key]
            kept = [a for a in record.catalogue if a.id != api_id]
            config.providers[key] = _apply(record, ProviderChange(), catalogue=kept)

        self._context.mutate(remove)
        self._adapters.pop(key, None)

    # -- adapters -------------------------------------------------------------------------------

    def adapter_for(self, application: Application) -> ProviderAdapter:
        return self.adapter_for_key(application.provider or "")

    def adapter_for_key(self, key: str) -> ProviderAdapter:
        provider = self._context.config.providers.get(key)
        cached = self._adapters.get(key)
        if cached is not None and cached[0] == provider:
            return cached[1]

        from credenza.providers.base import AdapterInputs
        from credenza.providers.registry import build_adapter

        context = self._context
        adapter = build_adapter(
            AdapterInputs(
                key=key,
                provider=provider,
                profile=resolve_profile(key, provider, context.config_dir),
                admin_token=lambda: self._bound_admin_token(key, provider),
                clock=context.clock,
                client=lambda: context.client,
            )
        )
        self._adapters[key] = (provider, adapter)
        return adapter

    async def aclose(self) -> None:
        for _, adapter in self._adapters.values():
            await adapter.aclose()


def _apply(
    provider: Provider, change: ProviderChange, *, catalogue: list[CatalogueApi] | None = None
) -> Provider:
    import msgspec

    environments = dict(provider.environments)
    for name in change.remove_environments:
        environments.pop(name, None)
    try:
        for name, env_change in change.environments.items():
            environments[name] = apply_change(
                environments.get(name, ProviderEnvironment()), env_change
            )
        extra: dict[str, object] = {
            "environments": {
                name: msgspec.to_builtins(env)
                for name, env in environments.items()
                if env != ProviderEnvironment()
            }
        }
        if catalogue is not None:
            extra["catalogue"] = msgspec.to_builtins(catalogue)
        return apply_change(provider, change, extra=extra)
    except ValueError as exc:
        raise ValidationError(str(exc), hint="nothing was changed") from None


def _check(provider: Provider, key: str, base: str) -> None:
    """What the record's types cannot say: a known profile, a readable error table."""
    if provider.profile and provider.profile not in shipped_profiles():
        known = ", ".join(sorted(shipped_profiles()))
        raise ValidationError(
            f"there is no provider profile {provider.profile!r}", hint=f"profiles: {known}"
        )
    if provider.errors_file:
        load_error_table(provider.errors_file, base, key=f"providers.{key}.errors_file")
    from credenza.providers.registry import adapter_spec

    adapter_spec(provider.kind).check(provider)
