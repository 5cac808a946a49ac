"""Contracts: access to API (group) instances per environment, and the effective one per API."""

from __future__ import annotations

from collections.abc import Iterable

from credenza.config.model import Config, Contract, ContractStatus, ContractTarget
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.providers.base import AccessRequest, CatalogueEntry
from credenza.services.context import Context, find_application, find_contract
from credenza.services.environments import Environments
from credenza.services.providers import Providers


class Contracts:
    def __init__(self, context: Context, environments: Environments, providers: Providers) -> None:
        self._context = context
        self._environments = environments
        self._providers = providers

    def of(self, app_ref: str) -> list[Contract]:
        return list(self._context.application(app_ref).contracts)

    def effective(self, app_ref: str) -> dict[tuple[str, str], Contract]:
        """Per (API, environment), the least restrictive approved contract that covers it."""
        application = self._context.application(app_ref)
        provider = self._context.config.providers.get(application.provider or "")
        catalogue = provider.catalogue if provider is not None else []

        def rank(contract: Contract) -> int:
            # A contract recorded without a rank takes its tier's rank from the catalogue.
            if contract.sla_rank is not None:
                return contract.sla_rank
            for api in catalogue:
                if api.name == contract.api and api.instance == contract.instance:
                    tier = api.tier(contract.sla_tier)
                    if tier is not None:
                        return tier.rank
            return 0

        best: dict[tuple[str, str], Contract] = {}
        for contract in application.contracts:
            if contract.status != "approved":
                continue
            for api in contract.covered_apis:
                key = (api, contract.environment)
                current = best.get(key)
                if current is None or rank(contract) > rank(current):
                    best[key] = contract
        return best

    async def catalogue(self, app_ref: str) -> list[CatalogueEntry]:
        """What the application may ask for: the provider's catalogue, less the instances that
        take clients from another client provider than the application's (Anypoint)."""
        application = self._context.application(app_ref)
        entries = await self._providers.adapter_for(application).catalogue()
        return [e for e in entries if _same_client_provider(application.client_provider, e)]

    async def request_access(
        self,
        app_ref: str,
        env_name: str,
        *,
        api: str,
        instance: str,
        sla_tier: str | None = None,
        terms_accepted: bool = False,
        target: ContractTarget = "api",
        apis: Iterable[str] = (),
        scopes: Iterable[str] = (),
        terms: str | None = None,
    ) -> Contract:
        """Ask for access; ``terms``: the terms accepted (URL or text) where the catalogue has
        none. An instance on another client provider than the application's is refused before
        anything is sent (Anypoint requires the same one)."""
        resolved = self._environments.resolve(app_ref, env_name)
        if terms is not None:
            if not terms_accepted:
                raise ValidationError(
                    "terms are recorded as the terms accepted: give --accept-terms with --terms",
                    hint="nothing was requested",
                )
            from credenza.config.checks import refuse_control_characters

            try:
                refuse_control_characters("terms", terms)
            except ValueError as exc:
                raise ValidationError(str(exc), hint="nothing was requested") from None
        adapter = self._providers.adapter_for(resolved.application)
        entry = self._recorded_entry(resolved.application.provider, api, instance)
        mine = resolved.application.client_provider
        if entry is not None and not _same_client_provider(mine, entry):
            raise ValidationError(
                f"{api} ({instance}) takes clients from the client provider "
                f"{entry.client_provider!r}, and {resolved.application.name} uses "
                f"{mine or 'none recorded'}: the provider needs the same one",
                hint="request access for an application of that client provider, or record "
                "the application's with `{0}`",
                next_steps=(step("edit_application", "APP", None, client_provider="NAME"),),
            )
        contract = await adapter.request_access(
            AccessRequest(
                api=api,
                instance=instance,
                environment=resolved.name,
                client_id=resolved.environment.client_id,
                sla_tier=sla_tier,
                terms_accepted=terms_accepted,
                target=target,
                apis=tuple(apis),
                scopes=tuple(scopes),
            )
        )

        if contract.terms is None and terms_accepted:
            contract.terms = terms or (entry.terms if entry is not None else None)

        def add(config: Config) -> Contract:
            application = find_application(config, resolved.application.id)
            application.contracts = (*application.contracts, contract)
            return contract

        return self._context.mutate(add)

    async def decide(self, app_ref: str, contract_id: str, status: ContractStatus) -> Contract:
        """Approve or reject (where the provider lets credenza), or revoke a contract."""
        application = self._context.application(app_ref)
        adapter = self._providers.adapter_for(application)
        if status in ("approved", "rejected") and not adapter.can_decide:
            raise ValidationError(
                "the provider decides on access requests in its portal",
                hint="record its decision with `{0}` once it answers",
                next_steps=(step("record_decision"),),
            )
        contract = find_contract(application, contract_id)
        updated = await adapter.decide(contract, status)
        return self._replace(application.id, updated)

    def record(self, app_ref: str, contract_id: str, status: ContractStatus) -> Contract:
        """Manual providers: record the decision the provider made in its portal."""

        def record(config: Config) -> Contract:
            contract = find_contract(find_application(config, app_ref), contract_id)
            contract.status = status
            contract.decided_at = self._context.clock()
            return contract

        return self._context.mutate(record)

    async def refresh(self, app_ref: str) -> list[Contract]:
        application = self._context.application(app_ref)
        adapter = self._providers.adapter_for(application)
        for contract in application.contracts:
            environment = application.environments.get(contract.environment)
            if environment is not None:
                updated = await adapter.refresh_contract(contract, environment.client_id)
                self._replace(application.id, updated)
        return self.of(application.id)

    def _recorded_entry(
        self, provider_key: str | None, api: str, instance: str
    ) -> CatalogueEntry | None:
        """The catalogue entry recorded in the config for this API instance, if any."""
        provider = self._context.config.providers.get(provider_key or "")
        for recorded in provider.catalogue if provider is not None else []:
            if recorded.id == instance or (recorded.name == api and recorded.instance == instance):
                return CatalogueEntry.of(recorded)
        return None

    def _replace(self, app_id: str, updated: Contract) -> Contract:
        def replace(config: Config) -> Contract:
            application = find_application(config, app_id)
            application.contracts = tuple(
                updated if contract.id == updated.id else contract
                for contract in application.contracts
            )
            return updated

        return self._context.mutate(replace)


def _same_client_provider(mine: str | None, entry: CatalogueEntry) -> bool:
    """An instance without a client provider takes any application; one with takes only the
    applications of the same one."""
    return entry.client_provider is None or entry.client_provider == mine
