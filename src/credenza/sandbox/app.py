"""The sandbox's HTTP surface (Starlette): OAuth endpoints, discovery, and the admin API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from credenza.sandbox.state import Client, Fault, SandboxState

Handler = Callable[[Request], Awaitable[Response]]
ClientHandler = Callable[[Request, dict[str, str], "Client"], Awaitable[Response]]

# Numbered codes in the style of Telenor's table (seed 004), added to RFC 6749 §5.2 errors.
CODE_INVALID_CLIENT_ID = 1
CODE_BAD_GRANT = 2
CODE_BAD_AUTH_HEADER = 6
CODE_INVALID_REFRESH = 7
CODE_BAD_SCOPE = 8
CODE_GRANT_NOT_ALLOWED = 21
CODE_BAD_CREDENTIALS = 22


def oauth_error(status: int, error: str, description: str, code: int) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="credenza-sandbox"'
    return JSONResponse(
        {"error": error, "error_description": description, "error_code": code},
        status_code=status,
        headers=headers,
    )


def create_app(state: SandboxState, issuer: Callable[[], str]) -> Starlette:
    """The ASGI app; ``issuer`` gives the server's base URL once its port is known."""

    async def metadata(_: Request) -> Response:
        base = issuer()
        body = {
            "issuer": base,
            "token_endpoint": f"{base}/oauth/token",
            # Non-standard paths on purpose: real servers use them, so clients must discover them.
            "revocation_endpoint": f"{base}/oauth/token/revocation",
            "introspection_endpoint": f"{base}/oauth/token/introspection",
            "logout_endpoint": f"{base}/oauth/logout",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials", "refresh_token"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
        return JSONResponse(body)

    def client_endpoint(handler: ClientHandler) -> Handler:
        """What every client-authenticated endpoint does first: read the form, record the
        request, apply an injected fault, authenticate the client."""

        async def endpoint(request: Request) -> Response:
            form = await _form(request)
            record(request, form)
            if (fault := await apply_fault(request, form)) is not None:
                return fault
            client = await authenticate(request, form)
            if isinstance(client, Response):
                return client
            return await handler(request, form, client)

        return endpoint

    async def authenticate(request: Request, form: dict[str, str]) -> Client | Response:
        header = request.headers.get("authorization")
        method = "client_secret_basic" if header else "client_secret_post"
        if header:
            scheme, _, value = header.partition(" ")
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
                raw_id, sep, raw_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if scheme.lower() != "basic" or not sep:
                return oauth_error(
                    401, "invalid_client", "malformed Basic authorization", CODE_BAD_AUTH_HEADER
                )
            # RFC 6749 §2.3.1: both parts are form-encoded before Base64.
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if not client_id:
                return oauth_error(
                    401, "invalid_client", "no client authentication", CODE_BAD_AUTH_HEADER
                )
        client = state.clients.get(client_id)
        if client is None:
            return oauth_error(401, "invalid_client", "unknown client_id", CODE_INVALID_CLIENT_ID)
        if method != client.token_endpoint_auth_method:
            return oauth_error(
                401,
                "invalid_client",
                f"this client is registered for {client.token_endpoint_auth_method}, not {method}",
                CODE_BAD_AUTH_HEADER,
            )
        if not state.check_secret(client, secret):
            return oauth_error(
                401, "invalid_client", "bad client_id or client_secret", CODE_BAD_CREDENTIALS
            )
        return client

    @client_endpoint
    async def token(request: Request, form: dict[str, str], client: Client) -> Response:
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return oauth_error(
                400, "unsupported_grant_type", "missing or invalid grant_type", CODE_BAD_GRANT
            )
        if grant not in client.grant_types:
            return oauth_error(
                400,
                "unauthorized_client",
                f"this client may not use {grant}",
                CODE_GRANT_NOT_ALLOWED,
            )
        allowed = state.granted_scopes(client)
        requested = form.get("scope", "").split()
        if grant == "refresh_token":
            old = state.lookup(form.get("refresh_token", ""))
            if (
                old is None
                or old.kind != "refresh"
                or old.client_id != client.client_id
                or not state.is_active(old)
            ):
                return oauth_error(
                    400, "invalid_grant", "invalid refresh_token", CODE_INVALID_REFRESH
                )
            state.revoke(old.token)  # rotation: a refresh token is used once
            allowed &= set(old.scope)
        denied = [scope for scope in requested if scope not in allowed]
        if denied:
            return oauth_error(
                400,
                "invalid_scope",
                f"scope not granted to this client: {' '.join(denied)}",
                CODE_BAD_SCOPE,
            )
        scopes = requested or sorted(allowed)
        access, refresh = state.issue(
            client, scopes, form.get("audience") or form.get("resource"), issuer()
        )
        body: dict[str, Any] = {
            "access_token": access.token,
            "token_type": "Bearer",
            # A string, as Telenor sends it: clients must cope.
            "expires_in": str(int(access.expires_at - access.issued_at)),
            "scope": " ".join(scopes),
        }
        if refresh:
            body["refresh_token"] = refresh.token
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @client_endpoint
    async def revocation(request: Request, form: dict[str, str], client: Client) -> Response:
        hint = form.get("token_type_hint")
        if hint and hint not in ("access_token", "refresh_token"):
            return oauth_error(
                400, "unsupported_token_type", f"cannot revoke {hint}", CODE_BAD_GRANT
            )
        issued = state.lookup(form.get("token", ""))
        if issued is not None and issued.client_id == client.client_id:
            state.revoke(issued.token)
        return Response(status_code=200)  # RFC 7009 §2.2: also for unknown tokens

    @client_endpoint
    async def introspection(request: Request, form: dict[str, str], client: Client) -> Response:
        issued = state.lookup(form.get("token", ""))
        if issued is None or not state.is_active(issued):
            return JSONResponse({"active": False})
        return JSONResponse(
            {
                "active": True,
                "client_id": issued.client_id,
                "scope": " ".join(issued.scope),
                "token_type": "Bearer" if issued.kind == "access" else "refresh_token",
                "iat": int(issued.issued_at),
                "exp": int(issued.expires_at),
                "iss": issuer(),
                "sub": issued.client_id,
                **({"aud": issued.audience} if issued.audience else {}),
            }
        )

    async def logout(request: Request) -> Response:
        record(request, {})
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return oauth_error(
                401, "invalid_request", "missing or bad Authorization header", CODE_BAD_AUTH_HEADER
            )
        issued = state.lookup(value.strip())
        if issued is None or not state.is_active(issued):
            return oauth_error(401, "invalid_token", "invalid access token", 2)
        state.revoke(issued.token)
        return PlainTextResponse("OK!")

    def record(request: Request, form: dict[str, str]) -> None:
        with state.lock:
            state.requests.append(
                {
                    "path": request.url.path,
                    "query": request.url.query,
                    "method": request.method,
                    "authorization": request.headers.get("authorization"),
                    "form": dict(form),
                }
            )

    async def apply_fault(request: Request, form: dict[str, str]) -> Response | None:
        fault = state.take_fault(_client_id_of(request, form))
        if fault is None:
            return None
        return await _fault_response(fault)

    # -- admin ---------------------------------------------------------------------------------

    def admin(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            if header != f"Bearer {state.admin_token}":
                return JSONResponse(
                    {"error": "unauthorized", "error_description": "admin token required"}, 401
                )
            try:
                return await handler(request)
            except KeyError as exc:
                return JSONResponse(
                    {"error": "not_found", "error_description": str(exc.args[0])}, 404
                )
            except (ValueError, TypeError) as exc:
                return JSONResponse(
                    {"error": "invalid_request", "error_description": str(exc)}, 400
                )

        return guarded

    async def register_client(request: Request) -> Response:
        client = state.add_client(await _json(request))
        return JSONResponse(_client_json(client, with_secret=True), status_code=201)

    async def register_application(request: Request) -> Response:
        data = await _json(request)
        name = str(data["name"])
        result: dict[str, Any] = {"application": name, "environments": {}}
        for environment in data.get("environments", ["sandbox", "production"]):
            client = state.add_client(
                {
                    "application": name,
                    "environment": environment,
                    "scope": data.get("scope", ""),
                    "token_endpoint_auth_method": data.get(
                        "token_endpoint_auth_method", "client_secret_basic"
                    ),
                    "grant_types": data.get("grant_types"),
                    "token_ttl": data.get("token_ttl"),
                    "rotation": data.get("rotation", "cutover"),
                }
            )
            result["environments"][environment] = _client_json(client, with_secret=True)
        return JSONResponse(result, status_code=201)

    async def list_clients(_: Request) -> Response:
        return JSONResponse([_client_json(c) for c in state.clients.values()])

    async def reset_secret(request: Request) -> Response:
        client = state.reset_secret(request.path_params["client_id"])
        return JSONResponse(_client_json(client, with_secret=True))

    async def retire_secret(request: Request) -> Response:
        client = state.retire_previous_secret(request.path_params["client_id"])
        return JSONResponse(_client_json(client))

    async def list_apis(_: Request) -> Response:
        return JSONResponse([asdict(api) for api in state.apis.values()])

    async def add_api(request: Request) -> Response:
        return JSONResponse(asdict(state.add_api(await _json(request))), status_code=201)

    async def request_access(request: Request) -> Response:
        data = await _json(request)
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

    async def add_fault(request: Request) -> Response:
        return JSONResponse(asdict(state.add_fault(await _json(request))), status_code=201)

    async def clear_faults(request: Request) -> Response:
        state.clear_faults(request.query_params.get("client_id"))
        return Response(status_code=204)

    routes = [
        Route("/.well-known/oauth-authorization-server", metadata),
        Route("/.well-known/openid-configuration", metadata),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/token/revocation", revocation, methods=["POST"]),
        Route("/oauth/token/introspection", introspection, methods=["POST"]),
        Route("/oauth/logout", logout, methods=["GET"]),
        Route("/admin/clients", admin(register_client), methods=["POST"]),
        Route("/admin/clients", admin(list_clients), methods=["GET"]),
        Route("/admin/applications", admin(register_application), methods=["POST"]),
        Route("/admin/clients/{client_id}/secret", admin(reset_secret), methods=["POST"]),
        Route(
            "/admin/clients/{client_id}/secret/previous", admin(retire_secret), methods=["DELETE"]
        ),
        Route("/admin/apis", admin(list_apis), methods=["GET"]),
        Route("/admin/apis", admin(add_api), methods=["POST"]),
        Route("/admin/contracts", admin(request_access), methods=["POST"]),
        Route("/admin/contracts", admin(list_contracts), methods=["GET"]),
        Route("/admin/contracts/{contract_id}/{action:str}", admin(decide), methods=["POST"]),
        Route("/admin/faults", admin(add_fault), methods=["POST"]),
        Route("/admin/faults", admin(clear_faults), methods=["DELETE"]),
    ]
    return Starlette(routes=routes)


async def _form(request: Request) -> dict[str, str]:
    # OAuth endpoints take application/x-www-form-urlencoded only (RFC 6749 §4.4.2).
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _client_json(client: Client, *, with_secret: bool = False) -> dict[str, Any]:
    data = {
        "client_id": client.client_id,
        "scope": " ".join(client.scope),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": client.grant_types,
        "application": client.application,
        "environment": client.environment,
        "rotation": client.rotation,
        "previous_secret_valid": client.previous_secret is not None,
    }
    if with_secret:
        data["client_secret"] = client.client_secret
    return data


def _client_id_of(request: Request, form: dict[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(decoded.partition(":")[0])
    return form.get("client_id")


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
