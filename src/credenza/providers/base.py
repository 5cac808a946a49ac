"""What every provider adapter declares and does: the interface and its records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from credenza.config.model import CatalogueApi, Contract, ContractStatus, ContractTarget, Rotation
from credenza.secrets import Secret


@dataclass(frozen=True)
class AccessRequest:
    api: str
    instance: str
    environment: str
    client_id: str
    sla_tier: str | None
    terms_accepted: bool
    target: ContractTarget = "api"
    apis: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogueEntry:
    """An API instance or API group instance one may request access to, with its SLA tiers."""

    id: str
    name: str
    instance: str
    target: str
    environment: str
    apis: tuple[str, ...]
    terms: str | None
    tiers: tuple[tuple[str, bool, int], ...]  # (name, auto-approved, rank)
    client_provider: str | None = None  # Anypoint: applications must use the same one

    @classmethod
    def of(cls, api: CatalogueApi) -> CatalogueEntry:
        """The entry for an API recorded in the config (a portal's catalogue)."""
        return cls(
            id=api.id,
            name=api.name,
            instance=api.instance,
            target=api.target,
            environment=api.environment,
            apis=tuple(api.apis),
            terms=api.terms,
            tiers=tuple((t.name, t.auto_approve, t.rank) for t in api.tiers),
            client_provider=api.client_provider,
        )


class ProviderAdapter(Protocol):
    """What differs between providers when credenza acts on the provider's side."""

    kind: str
    rotation: Rotation  # "cutover": the old secret dies at once; "overlap": both work until retired
    can_decide: bool  # True where credenza may approve or reject (the sandbox)
    # True where the provider hands out the new secret itself (credenza must keep it: shown once);
    # False where the user resets it in a portal and pastes it.
    issues_secrets: bool

    async def reset_secret(self, client_id: str) -> Secret | None:
        """Ask for a new secret; None means the user does it in the portal and pastes it."""
        ...

    async def retire_previous_secret(self, client_id: str) -> None: ...

    async def rotation_of(self, client_id: str) -> Rotation:
        """How this client's secret really rotates: the provider's own record where credenza
        can read it (the sandbox's client), else what the provider record or profile says."""
        ...

    async def catalogue(self) -> list[CatalogueEntry]: ...

    async def request_access(self, request: AccessRequest) -> Contract: ...

    async def refresh_contract(self, contract: Contract, client_id: str) -> Contract: ...

    async def decide(self, contract: Contract, status: ContractStatus) -> Contract: ...

    async def aclose(self) -> None: ...
