"""The sandbox's contracts: the catalogue of API (group) instances with their SLA tiers and
terms, and an application's request for access, approved, rejected or revoked; the scopes an
approved contract grants; and the admin routes for all of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox.admin import admin, json_body
from credenza.sandbox.clients import Client
from credenza.sandbox.core import Core
from credenza.sandbox.site import Site


@dataclass
class ApiInstance:
    """An API instance or API group instance that applications request access to."""

    id: str
    name: str
    instance: str
    target: str = "api"  # or "api_group"
    apis: list[str] = field(default_factory=list)
    environment: str = "sandbox"
    terms: str | None = None
    # tier name -> {"auto_approve": bool, "scopes": [...], "rank": int}; a higher rank is less
    # restrictive (more requests per minute).
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Contract:
    id: str
    client_id: str
    api_id: str
    sla_tier: str | None
    scope: list[str]
    status: str
    requested_at: float
    decided_at: float | None = None
    terms_accepted_at: float | None = None


class Contracts(Core):
    """The API catalogue and the contracts between clients and its instances."""

    clients: dict[str, Client]  # the registered clients (clients.Clients)

    def __init__(self) -> None:
        self.apis: dict[str, ApiInstance] = {}
        self.contracts: dict[str, Contract] = {}

    def granted_scopes(self, client: Client) -> set[str]:
        """The client's own scopes plus those of its approved contracts."""
        scopes = set(client.scope)
        for contract in self.contracts.values():
            if contract.client_id == client.client_id and contract.status == "approved":
                scopes.update(contract.scope)
        return scopes

    def add_api(self, data: dict[str, Any]) -> ApiInstance:
        api = ApiInstance(
            id=str(data["id"]),
            name=str(data["name"]),
            instance=str(data.get("instance", data["id"])),
            target=str(data.get("target", "api")),
            apis=list(data.get("apis", [])),
            environment=str(data.get("environment", "sandbox")),
            terms=data.get("terms"),
            tiers=dict(data.get("tiers", {})),
        )
        with self.lock:
            self.apis[api.id] = api
            self._persist()
        return api

    def request_access(
        self, client_id: str, api_id: str, sla_tier: str | None, terms_accepted: bool
    ) -> Contract:
        with self.lock:
            if client_id not in self.clients:
                raise KeyError(f"unknown client_id {client_id}")
            api = self.apis.get(api_id)
            if api is None:
                raise KeyError(f"unknown API instance {api_id}")
            if api.terms and not terms_accepted:
                raise ValueError(f"the terms of {api.name} must be accepted to request access")
            tier: dict[str, Any] = {}
            if api.tiers:
                if sla_tier not in api.tiers:
                    raise ValueError(f"SLA tier must be one of {', '.join(api.tiers)}")
                tier = api.tiers[sla_tier]
            now = self.clock()
            approved = bool(tier.get("auto_approve", not api.tiers))
            contract = Contract(
                id="ct-" + self.random.hex(6),
                client_id=client_id,
                api_id=api_id,
                sla_tier=sla_tier,
                scope=list(tier.get("scopes", [])),
                status="approved" if approved else "pending",
                requested_at=now,
                decided_at=now if approved else None,
                terms_accepted_at=now if terms_accepted else None,
            )
            self.contracts[contract.id] = contract
            self._persist()
            return contract

    def decide(self, contract_id: str, status: str) -> Contract:
        allowed = {
            "approved": {"pending"},
            "rejected": {"pending"},
            "revoked": {"approved", "pending"},
        }
        with self.lock:
            contract = self.contracts[contract_id]
            if contract.status not in allowed[status]:
                raise ValueError(f"the contract is {contract.status}: it cannot become {status}")
            contract.status = status
            contract.decided_at = self.clock()
            self._persist()
            return contract


def routes(site: Site) -> list[Route]:
    """The admin routes of the catalogue and of contracts."""
    state = site.state

    async def list_apis(_: Request) -> Response:
        return JSONResponse([asdict(api) for api in state.apis.values()])

    async def add_api(request: Request) -> Response:
        return JSONResponse(asdict(state.add_api(await json_body(request))), status_code=201)

    async def request_access(request: Request) -> Response:
        data = await json_body(request)
        contract = state.request_access(
            str(data["client_id"]),
            str(data["api_id"]),
            data.get("sla_tier"),
            bool(data.get("terms_accepted", False)),
        )
        return JSONResponse(asdict(contract), status_code=201)

    async def list_contracts(request: Request) -> Response:
        client_id = request.query_params.get("client_id")
        return JSONResponse(
            [asdict(c) for c in state.contracts.values() if client_id in (None, c.client_id)]
        )

    async def decide(request: Request) -> Response:
        status = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[
            request.path_params["action"]
        ]
        return JSONResponse(asdict(state.decide(request.path_params["contract_id"], status)))

    return [
        Route("/admin/apis", admin(state, list_apis), methods=["GET"]),
        Route("/admin/apis", admin(state, add_api), methods=["POST"]),
        Route("/admin/contracts", admin(state, request_access), methods=["POST"]),
        Route("/admin/contracts", admin(state, list_contracts), methods=["GET"]),
        Route(
            "/admin/contracts/{contract_id}/{action:str}", admin(state, decide), methods=["POST"]
        ),
    ]
