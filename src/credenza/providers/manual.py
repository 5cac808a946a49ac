"""The manual adapter: a real provider's portal, where the user acts and credenza records it."""

from __future__ import annotations

import secrets as _random
from collections.abc import Callable
from datetime import UTC, datetime

from credenza.config.model import Contract, ContractStatus, Rotation
from credenza.providers.base import AccessRequest, CatalogueEntry
from credenza.secrets import Secret


class ManualAdapter:
    """A real provider's portal: credenza records what the user did there."""

    kind = "manual"
    can_decide = False
    issues_secrets = False

    def __init__(
        self, rotation: Rotation = "cutover", clock: Callable[[], datetime] | None = None
    ) -> None:
        self.rotation = rotation
        self.clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))

    async def reset_secret(self, client_id: str) -> Secret | None:
        return None

    async def retire_previous_secret(self, client_id: str) -> None:
        return None

    async def catalogue(self) -> list[CatalogueEntry]:
        return []

    async def request_access(self, request: AccessRequest) -> Contract:
        now = self.clock()
        return Contract(
            id="ct-" + _random.token_hex(6),
            api=request.api,
            instance=request.instance,
            environment=request.environment,
            target=request.target,
            apis=list(request.apis),
            sla_tier=request.sla_tier,
            scopes=list(request.scopes),
            status="pending",
            requested_at=now,
            terms_accepted_at=now if request.terms_accepted else None,
        )

    async def refresh_contract(self, contract: Contract, client_id: str) -> Contract:
        return contract

    async def aclose(self) -> None:
        return None

    async def decide(self, contract: Contract, status: ContractStatus) -> Contract:
        # In a portal, the user records the provider's decision (or their own revocation).
        contract.status = status
        contract.decided_at = self.clock()
        return contract
