"""The manual adapter: a real provider's portal, where the user acts and credenza records it."""

from __future__ import annotations

import secrets as _random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from credenza.config.model import CatalogueApi, Contract, ContractStatus, Rotation
from credenza.providers.base import (
    AccessRequest,
    AdapterInputs,
    AdapterSpec,
    CatalogueEntry,
    ProviderAdapter,
)
from credenza.secrets import Secret


class ManualAdapter:
    """A real provider's portal: credenza records what the user did there."""

    kind = "manual"
    can_decide = False
    issues_secrets = False

    def __init__(
        self,
        rotation: Rotation = "cutover",
        clock: Callable[[], datetime] | None = None,
        catalogue: Sequence[CatalogueApi] = (),
    ) -> None:
        self.rotation = rotation
        self.clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        # What the user recorded of the portal's catalogue (APIs, groups, tiers with ranks).
        self._catalogue = tuple(catalogue)

    async def reset_secret(self, client_id: str) -> Secret | None:
        return None

    async def rotation_of(self, client_id: str) -> Rotation:
        return self.rotation  # the provider record's, or its profile's: nothing else to ask

    async def retire_previous_secret(self, client_id: str) -> None:
        return None

    async def catalogue(self) -> list[CatalogueEntry]:
        return [CatalogueEntry.of(api) for api in self._catalogue]

    def _find(self, request: AccessRequest) -> CatalogueApi | None:
        return next((a for a in self._catalogue if a.id == request.instance), None) or next(
            (
                a
                for a in self._catalogue
                if a.name == request.api
                and a.instance == request.instance
                and a.environment == request.environment
            ),
            None,
        )

    async def request_access(self, request: AccessRequest) -> Contract:
        now = self.clock()
        api = self._find(request)
        if (
            api is not None
            and request.sla_tier
            and api.tiers
            and api.tier(request.sla_tier) is None
        ):
            from credenza.errors import ValidationError

            raise ValidationError(
                f"{api.name} {api.instance} has no SLA tier {request.sla_tier!r}",
                hint="tiers: " + ", ".join(t.name for t in api.tiers),
            )
        tier = api.tier(request.sla_tier) if api is not None else None
        return Contract(
            id="ct-" + _random.token_hex(6),
            api=api.name if api is not None else request.api,
            instance=api.instance if api is not None else request.instance,
            environment=request.environment,
            target=api.target if api is not None else request.target,
            apis=list(api.apis) if api is not None else list(request.apis),
            sla_tier=request.sla_tier,
            sla_rank=tier.rank if tier is not None else None,
            scopes=list(request.scopes),
            status="pending",
            requested_at=now,
            terms_accepted_at=now if request.terms_accepted else None,
        )

    async def refresh_contract(self, contract: Contract, client_id: str) -> Contract:
        return contract

    async def add_api(self, api: CatalogueApi) -> CatalogueEntry:
        # Never asked (the spec has no own_catalogue): a portal's catalogue is the config's.
        from credenza.errors import ValidationError

        raise ValidationError("a portal's catalogue is kept in the config, not at the provider")

    async def aclose(self) -> None:
        return None

    async def decide(self, contract: Contract, status: ContractStatus) -> Contract:
        # In a portal, the user records the provider's decision (or their own revocation).
        contract.status = status
        contract.decided_at = self.clock()
        return contract


def build(inputs: AdapterInputs) -> ProviderAdapter:
    catalogue = inputs.provider.catalogue if inputs.provider is not None else []
    return ManualAdapter(rotation=inputs.profile.rotation, clock=inputs.clock, catalogue=catalogue)


ADAPTER = AdapterSpec(
    kind="manual",
    summary="a real provider's portal: the user acts there and credenza records the outcome",
    build=build,
    can_decide=ManualAdapter.can_decide,
    issues_secrets=ManualAdapter.issues_secrets,
    rotation_record=False,
)
