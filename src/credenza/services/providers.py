"""Providers: the user's provider records and the adapter that acts on each provider's side."""

from __future__ import annotations

from credenza.config.model import Application, Config, Provider
from credenza.providers.base import ProviderAdapter
from credenza.providers.profiles import resolve_profile
from credenza.providers.registry import AdapterInputs, build_adapter
from credenza.secrets import Secret, names
from credenza.services.context import Context


class Providers:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._adapters: dict[str, tuple[Provider | None, ProviderAdapter]] = {}

    def add(self, key: str, provider: Provider) -> Provider:
        def add(config: Config) -> Provider:
            config.providers[key] = provider
            return provider

        return self._context.mutate(add)

    def set_admin_token(self, key: str, token: Secret) -> None:
        self._context.secrets.set_raw(names.admin_token(key), token.reveal())

    def adapter_for(self, application: Application) -> ProviderAdapter:
        key = application.provider or ""
        provider = self._context.config.providers.get(key)
        cached = self._adapters.get(key)
        if cached is not None and cached[0] == provider:
            return cached[1]

        def admin_token() -> Secret | None:
            value = self._context.secrets.get_raw(names.admin_token(key))
            return None if value is None else Secret(value)

        adapter = build_adapter(
            AdapterInputs(
                key=key,
                provider=provider,
                profile=resolve_profile(key, provider),
                admin_token=admin_token,
                clock=self._context.clock,
            )
        )
        self._adapters[key] = (provider, adapter)
        return adapter

    async def aclose(self) -> None:
        for _, adapter in self._adapters.values():
            await adapter.aclose()
