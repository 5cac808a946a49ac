"""The sandbox's HTTP surface (Starlette): each area's routes, registered on one app."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request

from credenza.sandbox import (
    api,
    clients,
    contracts,
    discovery,
    faults,
    registration,
    tokens,
    user_grants,
)
from credenza.sandbox.site import Site
from credenza.sandbox.state import SandboxState

# Each area's routes; a new area adds its module here.
AREAS = (discovery, tokens, user_grants, clients, contracts, faults, api, registration)


def create_app(
    state: SandboxState,
    issuer: Callable[[], str],
    peer_certificate: Callable[[Request], bytes | None] = lambda _: None,
) -> Starlette:
    """The ASGI app; ``issuer`` gives the server's base URL once its port is known, and
    ``peer_certificate`` the TLS client certificate (DER) of a request, when there is one."""
    site = Site(state, issuer, peer_certificate)
    return Starlette(routes=[route for area in AREAS for route in area.routes(site)])
