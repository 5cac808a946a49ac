"""The sandbox's dynamic client registration (RFC 7591), optionally behind an initial access
token, and its management (RFC 7592: read and delete with the registration access token)."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox.core import Core
from credenza.sandbox.site import Site

REGISTER_PATH = "/oauth/register"
# The RFC 7591 metadata the sandbox takes from a registration request; the rest is ignored.
_ACCEPTED = ("grant_types", "token_endpoint_auth_method", "scope", "redirect_uris", "jwks")


class Registrations(Core):
    """The token a registration must carry (None: open registration), and each registered
    client's registration access token."""

    def __init__(self, initial_access_token: str | None) -> None:
        self.initial_access_token = initial_access_token
        self.registration_tokens: dict[str, str] = {}


def _error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{error}"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def routes(site: Site) -> list[Route]:
    """Registration, and reading and deleting a registration."""
    state, issuer, record = site.state, site.issuer, site.record

    def answer(client_id: str, status: int = 200) -> JSONResponse:
        client = state.clients[client_id]
        body: dict[str, Any] = {
            "client_id": client.client_id,
            "client_name": client.application,
            "grant_types": client.grant_types,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "scope": " ".join(client.scope),
            "redirect_uris": client.redirect_uris,
            "client_secret_expires_at": 0,
            "registration_access_token": state.registration_tokens[client_id],
            "registration_client_uri": f"{issuer()}{REGISTER_PATH}/{client_id}",
        }
        if client.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post"):
            body["client_secret"] = client.client_secret
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def register(request: Request) -> Response:
        record(request, {})
        wanted = state.initial_access_token
        if wanted is not None:
            given = _bearer(request) or ""
            if not hmac.compare_digest(given.encode(), wanted.encode()):
                return _error(401, "invalid_token", "an initial access token is required")
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(400, "invalid_client_metadata", "the body must be a JSON object")
        metadata = {key: data[key] for key in _ACCEPTED if key in data}
        metadata["application"] = data.get("client_name")
        try:
            client = state.add_client(metadata)
        except ValueError as exc:
            error = "invalid_redirect_uri" if "redirect" in str(exc) else "invalid_client_metadata"
            return _error(400, error, str(exc))
        with state.lock:
            state.registration_tokens[client.client_id] = "rat-" + state.random.urlsafe(40)
        return answer(client.client_id, 201)

    def authorised(request: Request) -> str | Response:
        """The client a registration access token manages (RFC 7592 §2: else 401)."""
        client_id = request.path_params["client_id"]
        expected = state.registration_tokens.get(client_id)
        given = _bearer(request) or ""
        if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "invalid_token", "bad registration access token")
        return str(client_id)

    async def read(request: Request) -> Response:
        record(request, {})
        client_id = authorised(request)
        return client_id if isinstance(client_id, Response) else answer(client_id)

    async def delete(request: Request) -> Response:
        record(request, {})
        client_id = authorised(request)
        if isinstance(client_id, Response):
            return client_id
        with state.lock:
            del state.registration_tokens[client_id]
            state.clients.pop(client_id, None)
            for issued in state.tokens.values():
                if issued.client_id == client_id:
                    issued.revoked = True
        return Response(status_code=204)

    return [
        Route(REGISTER_PATH, register, methods=["POST"]),
        Route(REGISTER_PATH + "/{client_id}", read, methods=["GET"]),
        Route(REGISTER_PATH + "/{client_id}", delete, methods=["DELETE"]),
    ]
