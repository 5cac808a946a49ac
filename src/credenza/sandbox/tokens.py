"""The sandbox's HTTP surface (Starlette): OAuth endpoints, discovery, and the admin API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

import jwt
from cryptography import x509
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from credenza.sandbox import pages, registration
from credenza.sandbox.api import api_routes, token_request_proof
from credenza.sandbox.clients import (
    AUTH_METHODS,
    DEVICE_CODE_GRANT,
    GRANT_TYPES,
    ID_TOKEN_ALG,
    Client,
    Fault,
    SandboxState,
    certificate_thumbprints,
)
from credenza.sandbox.password import resource_owner

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

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_ERRORS = {
    "invalid_grant": "unknown device_code, or one issued to another client",
    "expired_token": "the device code has expired; start again",
    "access_denied": "the user denied the request",
    "authorization_pending": "the user has not decided yet",
    "slow_down": "polling too fast; wait 5 seconds longer between polls",
}


def oauth_error(status: int, error: str, description: str, code: int) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="credenza-sandbox"'
    return JSONResponse(
        {"error": error, "error_description": description, "error_code": code},
        status_code=status,
        headers=headers,
    )


def create_app(
    state: SandboxState,
    issuer: Callable[[], str],
    peer_certificate: Callable[[Request], bytes | None] = lambda _: None,
) -> Starlette:
    """The ASGI app; ``issuer`` gives the server's base URL once its port is known, and
    ``peer_certificate`` the TLS client certificate (DER) of a request, when there is one."""

    async def jwks(request: Request) -> Response:
        record(request, {})
        if state.jwks_down:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return JSONResponse(state.jwks(), headers={"Cache-Control": "max-age=300"})

    async def metadata(_: Request) -> Response:
        base = issuer()
        body = {
            "issuer": base,
            "token_endpoint": f"{base}/oauth/token",
            # Non-standard paths on purpose: real servers use them, so clients must discover them.
            "revocation_endpoint": f"{base}/oauth/token/revocation",
            "introspection_endpoint": f"{base}/oauth/token/introspection",
            "logout_endpoint": f"{base}/oauth/logout",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "device_authorization_endpoint": f"{base}/oauth/device_authorization",
            "registration_endpoint": f"{base}{registration.REGISTER_PATH}",
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
            "grant_types_supported": list(GRANT_TYPES),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            # OpenID Connect: an id_token for the user grants when `openid` is granted.
            "jwks_uri": f"{base}/oauth/jwks",
            "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "email",
                "name",
                "preferred_username",
            ],
            "tls_client_certificate_bound_access_tokens": False,
            "dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
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
        """RFC 6749 §2.3 and the methods after it: the one the request uses must be the one the
        client registered (RFC 7591 token_endpoint_auth_method)."""
        header = request.headers.get("authorization")
        if form.get("client_assertion_type") == JWT_BEARER:
            method, client_id = "private_key_jwt", _assertion_issuer(form)
        elif header:
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
            method, client_id = "client_secret_basic", unquote_plus(raw_id)
            secret = unquote_plus(raw_secret)
        elif "client_secret" in form:
            method, client_id = "client_secret_post", form.get("client_id", "")
            secret = form["client_secret"]
        else:
            # No secret: a certificate (RFC 8705) or a public client; which one the client
            # registered decides.
            method, client_id = "", form.get("client_id", "")
        if not client_id:
            return oauth_error(
                401, "invalid_client", "no client authentication", CODE_BAD_AUTH_HEADER
            )
        client = state.clients.get(client_id)
        if client is None:
            return oauth_error(401, "invalid_client", "unknown client_id", CODE_INVALID_CLIENT_ID)
        registered = client.token_endpoint_auth_method
        if not method and registered in ("tls_client_auth", "self_signed_tls_client_auth", "none"):
            method = registered
        if method != registered:
            return oauth_error(
                401,
                "invalid_client",
                f"this client is registered for {registered}, not {method or 'no authentication'}",
                CODE_BAD_AUTH_HEADER,
            )
        if method in ("client_secret_basic", "client_secret_post"):
            if not state.check_secret(client, secret):
                return oauth_error(
                    401, "invalid_client", "bad client_id or client_secret", CODE_BAD_CREDENTIALS
                )
        elif method == "private_key_jwt":
            problem = check_assertion(client, form.get("client_assertion", ""), request)
            if problem:
                return oauth_error(401, "invalid_client", problem, CODE_BAD_CREDENTIALS)
        elif method != "none":
            problem = check_certificate(client, peer_certificate(request))
            if problem:
                return oauth_error(401, "invalid_client", problem, CODE_BAD_CREDENTIALS)
        return client

    def check_assertion(client: Client, assertion: str, request: Request) -> str | None:
        """RFC 7523 §3: signed by a registered key, iss = sub = client_id, aud = this server,
        not expired, and a jti never seen before."""
        if client.jwks is None:
            return "this client has no registered keys"
        try:
            keys = jwt.PyJWKSet.from_dict(client.jwks)
            kid = jwt.get_unverified_header(assertion).get("kid")
            candidates = [key for key in keys.keys if kid is None or key.key_id == kid]
            claims: dict[str, Any] | None = None
            for key in candidates:
                try:
                    claims = jwt.decode(
                        assertion,
                        key,
                        algorithms=["RS256", "ES256", "PS256"],
                        audience=[issuer(), f"{issuer()}/oauth/token", str(request.url)],
                        # Time is checked below against the sandbox's own (injectable) clock.
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
                    )
                    break
                except jwt.InvalidSignatureError:
                    continue
        except jwt.InvalidAudienceError:
            return "client assertion has the wrong aud"
        except jwt.PyJWTError as exc:
            return f"client assertion rejected: {exc}"
        if claims is None:
            return "client assertion signature does not match any registered key"
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            return "client assertion iss and sub must both be the client_id"
        exp, jti, now = claims.get("exp"), claims.get("jti"), state.clock()
        if not isinstance(exp, int | float) or exp <= now:
            return "client assertion has expired"
        if exp > now + 3600:
            return "client assertion lives too long (exp over an hour ahead)"
        if not isinstance(jti, str) or not jti:
            return "client assertion has no jti"
        if not state.use_jti(jti, float(exp)):
            return "client assertion jti was already used (replay)"
        return None

    def check_certificate(client: Client, der: bytes | None) -> str | None:
        """RFC 8705 §2: the TLS client certificate is the one the client registered."""
        if der is None:
            return "no TLS client certificate was presented"
        if client.token_endpoint_auth_method == "self_signed_tls_client_auth":
            if hashlib.sha256(der).hexdigest() in certificate_thumbprints(client):
                return None
            return "the TLS client certificate is not one this client registered"
        cert = x509.load_der_x509_certificate(der)
        subject_dn = client.tls_client_auth_subject_dn
        if subject_dn is not None and cert.subject.rfc4514_string() == subject_dn:
            return None
        if client.tls_client_auth_san_dns is not None:
            try:
                names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            except x509.ExtensionNotFound:
                names = None
            if (
                names is not None
                and client.tls_client_auth_san_dns in names.value.get_values_for_type(x509.DNSName)
            ):
                return None
        return "the TLS client certificate does not match this client's registration"

    @client_endpoint
    async def token(request: Request, form: dict[str, str], client: Client) -> Response:
        grant = form.get("grant_type")
        if grant not in GRANT_TYPES:
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
        if client.token_endpoint_auth_method == "none" and grant == "client_credentials":
            return oauth_error(
                401, "invalid_client", "a public client cannot use client_credentials", 22
            )
        allowed = state.granted_scopes(client)
        requested = form.get("scope", "").split()
        subject: str | None = None
        auth_time: float | None = None
        nonce: str | None = None
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
            subject, auth_time = old.subject, old.auth_time
        elif grant == "authorization_code":
            code = state.redeem_code(
                form.get("code", ""),
                client.client_id,
                form.get("redirect_uri"),
                form.get("code_verifier", ""),
            )
            if code is None:
                return oauth_error(
                    400,
                    "invalid_grant",
                    "invalid, expired or used code, or a redirect_uri or code_verifier that does "
                    "not match",
                    CODE_BAD_GRANT,
                )
            allowed &= set(code.scope)
            requested = requested or code.scope
            subject, auth_time, nonce = code.subject, code.auth_time, code.nonce
        elif grant == DEVICE_CODE_GRANT:
            polled = state.poll_device(form.get("device_code", ""), client.client_id)
            if isinstance(polled, str):
                return oauth_error(400, polled, DEVICE_ERRORS[polled], CODE_BAD_GRANT)
            allowed &= set(polled.scope)
            requested = requested or polled.scope
            subject, auth_time = state.user, polled.decided_at
        elif grant == "password":
            subject = resource_owner(state, form)
            if subject is None:
                return oauth_error(
                    400, "invalid_grant", "bad username or password", CODE_BAD_CREDENTIALS
                )
            auth_time = state.clock()
        denied = [scope for scope in requested if scope not in allowed]
        if denied:
            return oauth_error(
                400,
                "invalid_scope",
                f"scope not granted to this client: {' '.join(denied)}",
                CODE_BAD_SCOPE,
            )
        scopes = requested or sorted(allowed)
        jkt = token_request_proof(state, request, client)
        if isinstance(jkt, Response):
            return jkt
        access, refresh = state.issue(
            client,
            scopes,
            form.get("audience") or form.get("resource"),
            issuer(),
            subject,
            auth_time,
            jkt,
        )
        body: dict[str, Any] = {
            "access_token": access.token,
            "token_type": "DPoP" if jkt else "Bearer",
            # A string, as Telenor sends it: clients must cope.
            "expires_in": str(int(access.expires_at - access.issued_at)),
            "scope": " ".join(scopes),
        }
        if refresh:
            body["refresh_token"] = refresh.token
        if subject is not None and "openid" in scopes:
            # OpenID Connect Core §3.1.3.3 (and §12.2 on refresh, without a nonce).
            body["id_token"] = state.id_token(client, issuer(), subject, auth_time, nonce)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @client_endpoint
    async def device_authorization(
        request: Request, form: dict[str, str], client: Client
    ) -> Response:
        """RFC 8628 §3.1-3.2."""
        if DEVICE_CODE_GRANT not in client.grant_types:
            return oauth_error(
                400, "unauthorized_client", "this client may not use the device flow", 21
            )
        requested = form.get("scope", "").split()
        allowed = state.granted_scopes(client)
        denied = [scope for scope in requested if scope not in allowed]
        if denied:
            return oauth_error(
                400, "invalid_scope", f"scope not granted: {' '.join(denied)}", CODE_BAD_SCOPE
            )
        grant = state.begin_device(client, requested or sorted(allowed))
        verification = f"{issuer()}/device"
        return JSONResponse(
            {
                "device_code": grant.device_code,
                "user_code": grant.user_code,
                "verification_uri": verification,
                "verification_uri_complete": f"{verification}?{urlencode({'user_code': grant.user_code})}",
                "expires_in": int(grant.expires_at - state.clock()),
                "interval": grant.interval,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def authorize(request: Request) -> Response:
        """RFC 6749 §4.1.1 with PKCE (RFC 7636, S256 only) and RFC 9207 ``iss`` on the way back."""
        record(request, {})
        params = request.query_params
        client = state.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        # §4.1.2.1: with an unknown client or a redirect_uri that does not match, tell the user
        # and never redirect (an open redirector otherwise).
        if client is None:
            return pages.error_page("Unknown application", "No application has this client_id.")
        if not client.accepts_redirect(redirect_uri):
            return pages.error_page(
                "Redirect URI not registered",
                "The redirect_uri does not match one registered for this application (on "
                "loopback, any port is accepted).",
            )
        state_param = params.get("state")

        def back(**values: str) -> Response:
            return redirect_back(redirect_uri, state_param, values)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "authorization_code" not in client.grant_types:
            return back(error="unauthorized_client")
        challenge, method = params.get("code_challenge", ""), params.get("code_challenge_method")
        if not challenge or method != "S256":
            return back(error="invalid_request", error_description="PKCE with S256 is required")
        requested = params.get("scope", "").split()
        denied = [scope for scope in requested if scope not in state.granted_scopes(client)]
        if denied:
            return back(error="invalid_scope")
        pending = state.begin_authorization(
            client,
            redirect_uri,
            requested or sorted(state.granted_scopes(client)),
            state_param,
            challenge,
            params.get("nonce"),
        )
        if state.auto_approve:
            return back(code=state.issue_code(pending).code)
        return pages.consent_page(client, pending, state.user)

    async def consent(request: Request) -> Response:
        form = await _form(request)
        pending = state.take_pending(form.get("request", ""))
        if pending is None:
            return pages.error_page("This sign-in has expired", "Start again from the application.")
        if form.get("decision") != "approve":
            return redirect_back(pending.redirect_uri, pending.state, {"error": "access_denied"})
        code = state.issue_code(pending)
        return redirect_back(pending.redirect_uri, pending.state, {"code": code.code})

    def redirect_back(uri: str, state_param: str | None, values: dict[str, str]) -> Response:
        query = dict(values)
        if state_param is not None:
            query["state"] = state_param
        query["iss"] = issuer()  # RFC 9207: lets the client detect a mix-up attack
        joiner = "&" if urlsplit(uri).query else "?"
        return RedirectResponse(f"{uri}{joiner}{urlencode(query)}", status_code=302)

    async def device_page(request: Request) -> Response:
        if request.method == "GET":
            return pages.device_page(request.query_params.get("user_code", ""))
        form = await _form(request)
        grant = state.device_by_user_code(form.get("user_code", ""))
        if grant is None:
            return pages.device_page(form.get("user_code", ""), "That code is unknown or expired.")
        approve = form.get("decision") == "approve"
        state.decide_device(grant, approve)
        return pages.device_done_page(approve)

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
                    "dpop": request.headers.get("dpop"),
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
                    "redirect_uris": data.get("redirect_uris"),
                    "jwks": data.get("jwks"),
                }
            )
            result["environments"][environment] = _client_json(client, with_secret=True)
        return JSONResponse(result, status_code=201)

    async def list_clients(_: Request) -> Response:
        return JSONResponse([_client_json(c) for c in state.clients.values()])

    async def show_client(request: Request) -> Response:
        # One client as the provider records it (its rotation among others), never its secret.
        client = state.clients.get(request.path_params["client_id"])
        if client is None:
            return JSONResponse({"error": "no such client"}, status_code=404)
        return JSONResponse(_client_json(client))

    async def reset_secret(request: Request) -> Response:
        # In a thread (the state takes its own lock): a slow reset, as a test holds one, must not
        # stall the provider's other endpoints, as it would not at a real provider.
        client = await asyncio.to_thread(state.reset_secret, request.path_params["client_id"])
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
        Route("/oauth/jwks", jwks, methods=["GET"]),
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/authorize", consent, methods=["POST"]),
        Route("/oauth/device_authorization", device_authorization, methods=["POST"]),
        Route("/device", device_page, methods=["GET", "POST"]),
        Route("/oauth/token/revocation", revocation, methods=["POST"]),
        Route("/oauth/token/introspection", introspection, methods=["POST"]),
        Route("/oauth/logout", logout, methods=["GET"]),
        Route("/admin/clients", admin(register_client), methods=["POST"]),
        Route("/admin/clients", admin(list_clients), methods=["GET"]),
        Route("/admin/clients/{client_id}", admin(show_client), methods=["GET"]),
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
        *api_routes(state, issuer, record),
        *registration.routes(state, issuer, record),
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
        "redirect_uris": client.redirect_uris,
    }
    if with_secret:
        data["client_secret"] = client.client_secret
    return data


def _assertion_issuer(form: dict[str, str]) -> str:
    """The client a private_key_jwt assertion claims to be (checked against its key later)."""
    if form.get("client_id"):
        return form["client_id"]
    try:
        issuer = jwt.decode(
            form.get("client_assertion", ""), options={"verify_signature": False}
        ).get("iss")
    except jwt.PyJWTError:
        return ""
    return issuer if isinstance(issuer, str) else ""


def _client_id_of(request: Request, form: dict[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(decoded.partition(":")[0])
    return form.get("client_id") or _assertion_issuer(form) or None


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
