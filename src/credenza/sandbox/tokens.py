"""The sandbox's tokens: issuing and signing them, the token endpoint (every grant, refresh
rotation), revocation (RFC 7009), introspection (RFC 7662) and logout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from credenza.sandbox.api import token_request_proof
from credenza.sandbox.client_auth import client_endpoint
from credenza.sandbox.clients import DEVICE_CODE_GRANT, GRANT_TYPES, Client
from credenza.sandbox.core import Core
from credenza.sandbox.password import resource_owner
from credenza.sandbox.site import (
    CODE_BAD_AUTH_HEADER,
    CODE_BAD_CREDENTIALS,
    CODE_BAD_GRANT,
    CODE_BAD_SCOPE,
    CODE_GRANT_NOT_ALLOWED,
    CODE_INVALID_REFRESH,
    Site,
    oauth_error,
)

DEVICE_ERRORS = {
    "invalid_grant": "unknown device_code, or one issued to another client",
    "expired_token": "the device code has expired; start again",
    "access_denied": "the user denied the request",
    "authorization_pending": "the user has not decided yet",
    "slow_down": "polling too fast; wait 5 seconds longer between polls",
}


@dataclass
class IssuedToken:
    token: str
    kind: str  # "access" or "refresh"
    client_id: str
    scope: list[str]
    issued_at: float
    expires_at: float
    audience: str | None = None
    revoked: bool = False
    subject: str | None = None  # the signed-in user, for tokens from a user grant
    auth_time: float | None = None  # when that user signed in (OIDC auth_time), for refreshes
    jkt: str | None = None  # RFC 9449: the thumbprint of the key the token is bound to


class Tokens(Core):
    """Every token issued, by its value; access tokens are JWTs signed with an HMAC key."""

    def __init__(self, token_ttl: int) -> None:
        self.token_ttl = token_ttl
        self.signing_key = self.random.key()
        self.tokens: dict[str, IssuedToken] = {}

    def issue(
        self,
        client: Client,
        scope: list[str],
        audience: str | None,
        issuer: str,
        subject: str | None = None,
        auth_time: float | None = None,
        jkt: str | None = None,
    ) -> tuple[IssuedToken, IssuedToken | None]:
        """An access token, and a refresh token when the client may use refresh_token.

        ``subject`` is the signed-in user for the user grants; a client_credentials token's
        subject is the client itself.
        """
        now = self.clock()
        ttl = client.token_ttl or self.token_ttl
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject or client.client_id,
            "client_id": client.client_id,
            "scope": " ".join(scope),
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": self.random.hex(8),
        }
        if audience:
            claims["aud"] = audience
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        access = IssuedToken(
            token=self._sign(claims),
            kind="access",
            client_id=client.client_id,
            scope=scope,
            issued_at=now,
            expires_at=now + ttl,
            audience=audience,
            subject=subject,
            jkt=jkt,
        )
        refresh = None
        if "refresh_token" in client.grant_types:
            refresh = IssuedToken(
                token="rt-" + self.random.urlsafe(43),
                kind="refresh",
                client_id=client.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + 30 * 24 * 3600,
                subject=subject,
                auth_time=auth_time,
            )
        with self.lock:
            self.tokens[access.token] = access
            if refresh:
                self.tokens[refresh.token] = refresh
        return access, refresh

    def lookup(self, token: str) -> IssuedToken | None:
        with self.lock:
            return self.tokens.get(token)

    def is_active(self, issued: IssuedToken) -> bool:
        return not issued.revoked and issued.expires_at > self.clock()

    def revoke(self, token: str) -> bool:
        with self.lock:
            issued = self.tokens.get(token)
            if issued is None:
                return False
            issued.revoked = True
            return True

    def _sign(self, claims: dict[str, Any]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.signing_key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64(signature.digest())}"


def routes(site: Site) -> list[Route]:
    """The token endpoint, revocation, introspection and logout."""
    state, issuer = site.state, site.issuer

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
        site.record(request, {})
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

    return [
        Route("/oauth/token", client_endpoint(site, token), methods=["POST"]),
        Route("/oauth/token/revocation", client_endpoint(site, revocation), methods=["POST"]),
        Route(
            "/oauth/token/introspection",
            client_endpoint(site, introspection),
            methods=["POST"],
        ),
        Route("/oauth/logout", logout, methods=["GET"]),
    ]
