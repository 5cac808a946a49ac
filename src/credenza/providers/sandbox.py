"""The sandbox adapter: the built-in sandbox provider, reached through its admin API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from credenza.config.model import CatalogueApi, Contract, ContractStatus, Provider, Rotation
from credenza.errors import CredenzaError, OAuthError, ValidationError
from credenza.next_steps import step
from credenza.providers.base import (
    AccessRequest,
    AdapterInputs,
    AdapterOption,
    AdapterSpec,
    CatalogueEntry,
    ProviderAdapter,
)
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient


class SandboxAdapter:
    """The built-in sandbox provider, reached through its admin API."""

    kind = "sandbox"
    can_decide = True
    issues_secrets = True

    def __init__(
        self,
        admin_url: str,
        admin_token: Secret,
        rotation: Rotation = "cutover",
        *,
        client: Callable[[], OAuthClient],
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.admin_token = admin_token
        self.rotation = rotation
        self._client = client

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One admin call, through the workspace's one hardened client (SECURITY.md promise 33):
        its deadline, body cap, TLS settings (ca_bundle), redirect refusal and redaction."""
        from credenza.oauth.transport import ConnectFailure

        try:
            return await self._client().admin(
                method, f"{self.admin_url}{path}", self.admin_token, body
            )
        except ConnectFailure as exc:
            raise OAuthError(
                f"cannot reach the sandbox admin API: {exc}",
                hint="is the sandbox running? `{0}` or `{1}` starts one",
                next_steps=(step("start_demo"), step("start_sandbox")),
            ) from None

    async def aclose(self) -> None:
        """The client is the workspace's: it closes it."""

    async def reset_secret(self, client_id: str) -> Secret | None:
        data = await self._call("POST", f"/admin/clients/{client_id}/secret")
        return Secret(str(data["client_secret"]))

    async def rotation_of(self, client_id: str) -> Rotation:
        """The sandbox's record of the client, not the provider profile's default."""
        data = await self._call("GET", f"/admin/clients/{client_id}")
        rotation = data.get("rotation") if isinstance(data, dict) else None
        return "overlap" if rotation == "overlap" else "cutover"

    async def retire_previous_secret(self, client_id: str) -> None:
        await self._call("DELETE", f"/admin/clients/{client_id}/secret/previous")

    async def add_api(self, api: CatalogueApi) -> CatalogueEntry:
        """Add an API (group) instance to the sandbox's catalogue through its admin API."""
        data = await self._call(
            "POST",
            "/admin/apis",
            {
                "id": api.id,
                "name": api.name,
                "instance": api.instance,
                "target": api.target,
                "apis": list(api.apis),
                "environment": api.environment,
                "terms": api.terms,
                "tiers": {
                    t.name: {"auto_approve": t.auto_approve, "rank": t.rank} for t in api.tiers
                },
            },
        )
        return _entry_from(data)

    async def catalogue(self) -> list[CatalogueEntry]:
        data = await self._call("GET", "/admin/apis")
        return [_entry_from(item) for item in data]

    async def request_access(self, request: AccessRequest) -> Contract:
        entries = {entry.id: entry for entry in await self.catalogue()}
        entry = entries.get(request.instance) or next(
            (
                e
                for e in entries.values()
                if e.name == request.api and e.environment == request.environment
            ),
            None,
        )
        if entry is None:
            raise ValidationError(
                f"the sandbox has no instance {request.instance!r} of {request.api!r}",
                hint="pick one from the catalogue ({0})",
                next_steps=(step("catalogue", "APP"),),
            )
        data = await self._call(
            "POST",
            "/admin/contracts",
            {
                "client_id": request.client_id,
                "api_id": entry.id,
                "sla_tier": request.sla_tier,
                "terms_accepted": request.terms_accepted,
            },
        )
        return _contract_from(data, entry)

    async def refresh_contract(self, contract: Contract, client_id: str) -> Contract:
        data = await self._call("GET", f"/admin/contracts?client_id={client_id}")
        for item in data:
            if item["id"] == contract.id:
                _apply(contract, item)
        return contract

    async def decide(self, contract: Contract, status: ContractStatus) -> Contract:
        action = {"approved": "approve", "rejected": "reject", "revoked": "revoke"}.get(status)
        if action is None:
            raise ValidationError(f"a contract cannot be set to {status!r}")
        try:
            data = await self._call("POST", f"/admin/contracts/{contract.id}/{action}")
        except CredenzaError as exc:
            raise ValidationError(str(exc)) from None
        _apply(contract, data)
        return contract


def _entry_from(item: dict[str, Any]) -> CatalogueEntry:
    return CatalogueEntry(
        id=item["id"],
        name=item["name"],
        instance=item["instance"],
        target=item["target"],
        environment=item["environment"],
        apis=tuple(item.get("apis", [])),
        terms=item.get("terms"),
        tiers=tuple(
            (name, bool(tier.get("auto_approve")), int(tier.get("rank", 0)))
            for name, tier in item.get("tiers", {}).items()
        ),
    )


def _timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).replace(microsecond=0)


def _apply(contract: Contract, item: dict[str, Any]) -> None:
    contract.status = item["status"]
    contract.decided_at = _timestamp(item.get("decided_at"))
    contract.scopes = list(item.get("scope", contract.scopes))


def _contract_from(item: dict[str, Any], entry: CatalogueEntry) -> Contract:
    rank = next((r for name, _, r in entry.tiers if name == item.get("sla_tier")), None)
    return Contract(
        id=item["id"],
        api=entry.name,
        instance=entry.instance,
        environment=entry.environment,
        target="api_group" if entry.target == "api_group" else "api",
        apis=list(entry.apis),
        sla_tier=item.get("sla_tier"),
        sla_rank=rank,
        scopes=list(item.get("scope", [])),
        status=item["status"],
        requested_at=_timestamp(item.get("requested_at")),
        decided_at=_timestamp(item.get("decided_at")),
        terms_accepted_at=_timestamp(item.get("terms_accepted_at")),
    )


def build(inputs: AdapterInputs) -> ProviderAdapter:
    from credenza.providers import manual

    provider = inputs.provider
    if provider is None or not provider.admin_url:
        return manual.build(inputs)
    token = inputs.admin_token()
    if token is None:
        raise ValidationError(
            f"no admin token is stored for the sandbox provider {inputs.key!r}",
            hint="store the admin token `{0}` printed: {1}",
            next_steps=(
                step("start_sandbox"),
                step("admin_token", None, None, inputs.key),
            ),
        )
    return SandboxAdapter(
        provider.admin_url, token, rotation=inputs.profile.rotation, client=inputs.client
    )


def check(provider: Provider) -> None:
    if not provider.admin_url:
        raise ValidationError(
            "a sandbox provider needs its URL",
            hint="{0}",
            next_steps=(step("add_provider", None, None, "NAME", sandbox="URL"),),
        )


ADAPTER = AdapterSpec(
    kind="sandbox",
    summary="a `credenza sandbox serve`: credenza resets secrets and decides contracts there",
    build=build,
    can_decide=SandboxAdapter.can_decide,
    issues_secrets=SandboxAdapter.issues_secrets,
    rotation_record=True,
    own_catalogue="the sandbox keeps its own catalogue; restart it (or give it a fresh --state)",
    admin_token="the token `credenza sandbox serve` printed",
    option=AdapterOption(
        flag="--sandbox",
        metavar="URL",
        help="a `credenza sandbox serve` at URL: credenza resets secrets and decides contracts "
        "there (store its admin token with `credenza provider admin-token KEY`)",
        edit_help="make it (or move it to) a sandbox at URL",
        fields=lambda url: {"kind": "sandbox", "admin_url": url.rstrip("/")},
        environment="sandbox",
        # The sandbox says where its endpoints are (RFC 8414), so a wrong URL adds nothing.
        issuer_field="admin_url",
    ),
    check=check,
)
