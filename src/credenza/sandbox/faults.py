"""Injected failures at the sandbox's OAuth endpoints: latency, 5xx, Retry-After, an HTML page,
malformed JSON, a slow body, a dropped connection; for one client or all, ``times`` or until
cleared; and the admin routes that add and clear them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from credenza.sandbox.admin import admin, json_body
from credenza.sandbox.core import Core
from credenza.sandbox.site import Site, oauth_error

FAULT_MODES = ("latency", "error", "unavailable", "html", "malformed_json", "slow_body", "drop")


@dataclass
class Fault:
    """An injected failure at the OAuth endpoints, for one client or for all (client_id None)."""

    mode: str
    client_id: str | None = None
    status: int = 500
    retry_after: int | None = None
    latency_ms: int = 0
    times: int | None = None  # applies this many times, then disappears; None: until cleared
    drip_interval: float = 0.5


class Faults(Core):
    """The faults in force, in the order they were added."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add_fault(self, data: dict[str, Any]) -> Fault:
        if data.get("mode") not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        fault = Fault(
            mode=str(data["mode"]),
            client_id=data.get("client_id"),
            status=int(data.get("status", 503 if data["mode"] == "unavailable" else 500)),
            retry_after=data.get("retry_after"),
            latency_ms=int(data.get("latency_ms", 0)),
            times=data.get("times"),
            drip_interval=float(data.get("drip_interval", 0.5)),
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, client_id: str | None) -> Fault | None:
        """The first fault that applies to this client, counting one use of it."""
        with self.lock:
            for fault in self.faults:
                if fault.client_id is None or fault.client_id == client_id:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def clear_faults(self, client_id: str | None = None) -> None:
        with self.lock:
            self.faults = [
                f for f in self.faults if client_id is not None and f.client_id != client_id
            ]


async def fault_answer(faults: Faults, client_id: str | None) -> Response | None:
    """The answer a fault in force for this client gives instead of the endpoint's (None: carry
    on, after any latency it adds)."""
    fault = faults.take_fault(client_id)
    if fault is None:
        return None
    return await _fault_response(fault)


async def _fault_response(fault: Fault) -> Response | None:
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.mode == "latency":
        return None
    if fault.mode == "error":
        return oauth_error(fault.status, "server_error", "injected server error", 2)
    if fault.mode == "unavailable":
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": "injected outage"},
            status_code=fault.status,
            headers=headers,
        )
    if fault.mode == "html":
        return Response(
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
            "<body><h1>Bad Gateway</h1></body></html>",
            status_code=502,
            media_type="text/html",
        )
    if fault.mode == "malformed_json":
        return Response('{"access_token": "abc", "expires_in": ', media_type="application/json")
    if fault.mode == "slow_body":

        async def drip() -> AsyncIterator[bytes]:
            for char in '{"access_token": "slow", "expires_in": 60, "padding": "' + "x" * 200:
                yield char.encode()
                await asyncio.sleep(fault.drip_interval)

        return StreamingResponse(drip(), media_type="application/json")
    if fault.mode == "drop":
        return _DroppedConnection()
    raise ValueError(fault.mode)  # pragma: no cover


class _DroppedConnection(Response):
    """Starts a response that promises a body and then hangs up."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"500")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"access', "more_body": True})
        raise ConnectionAbortedError("sandbox fault: dropped connection")


def routes(site: Site) -> list[Route]:
    """The admin routes that add faults and clear them."""
    state = site.state

    async def add_fault(request: Request) -> Response:
        return JSONResponse(asdict(state.add_fault(await json_body(request))), status_code=201)

    async def clear_faults(request: Request) -> Response:
        state.clear_faults(request.query_params.get("client_id"))
        return Response(status_code=204)

    return [
        Route("/admin/faults", admin(state, add_fault), methods=["POST"]),
        Route("/admin/faults", admin(state, clear_faults), methods=["DELETE"]),
    ]
