"""What every provider adapter declares and does: the interface, its records, and the registry
entry (``AdapterSpec``) each adapter module declares about itself, its CLI option included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from credenza.config.model import (
    CatalogueApi,
    Contract,
    ContractStatus,
    ContractTarget,
    Provider,
    ProviderKind,
    Rotation,
)
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.providers.profiles import Profile


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

    async def add_api(self, api: CatalogueApi) -> CatalogueEntry:
        """Add to the catalogue the provider keeps itself (``AdapterSpec.own_catalogue``)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class AdapterInputs:
    """What an adapter may be built from: the provider record, its profile, and lookups."""

    key: str
    provider: Provider | None
    profile: Profile
    admin_token: Callable[[], Secret | None]
    clock: Callable[[], datetime]
    # The workspace's one hardened HTTP client: every admin call goes through it.
    client: Callable[[], OAuthClient]


@dataclass(frozen=True)
class AdapterOption:
    """The command-line option that makes a provider record this kind (`provider add|edit`):
    the CLI builds it from this, as harlequin's adapters declare their own options."""

    flag: str  # "--sandbox"
    metavar: str
    help: str  # on `provider add`
    edit_help: str  # on `provider edit`
    #: The record fields its value sets (the kind itself included).
    fields: Callable[[str], dict[str, str]]
    #: The environment the endpoint options are for when it is given (instead of production).
    environment: str
    #: The field whose URL is an issuer (RFC 8414): endpoints not given are found there.
    issuer_field: str | None = None


@dataclass(frozen=True)
class AdapterSpec:
    """A provider adapter as its module declares it (``ADAPTER``); providers/registry.py registers
    the module. Everything that depends on a provider's kind reads this instead of naming one."""

    kind: ProviderKind
    summary: str
    build: Callable[[AdapterInputs], ProviderAdapter]
    # What it can do:
    #: Approve or reject a contract itself (else the user records the provider's decision).
    can_decide: bool
    #: Issue a new secret at a reset (else the user resets it in the portal and pastes it).
    issues_secrets: bool
    #: Read how a client's secret rotates from the provider's own record (else the profile's).
    rotation_record: bool
    #: The provider keeps its own catalogue (adds go there); the sentence that refuses a removal
    #: from it. None: the config holds the catalogue.
    own_catalogue: str | None = None
    #: Where its admin token comes from (stored with `provider admin-token`); None: it has none.
    admin_token: str | None = None
    #: The option that makes a record this kind; None: the default kind, no option.
    option: AdapterOption | None = None
    #: What the record's types cannot say (a field this kind needs); raises ValidationError.
    check: Callable[[Provider], None] = lambda provider: None
