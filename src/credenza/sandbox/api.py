"""The sandbox's protected API (`/api/...`): Bearer and DPoP-bound tokens it issued, checked
with their proofs (RFC 9449), protected-resource metadata (RFC 9728), and the DPoP check of
token requests at its token endpoint."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox.clients import Client
from credenza.sandbox.dpop import PROOF_ALGS, ProofProblem, check_proof
from credenza.sandbox.site import Site

if TYPE_CHECKING:
    from credenza.sandbox.state import SandboxState
    from credenza.sandbox.tokens import IssuedToken

API_PATH = "/api"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class ProtectedApi:
    """The DPoP nonces the sandbox hands out, and a test knob: the API refuses every token."""

    def __init__(self) -> None:
        # RFC 9449 nonces, one for the token endpoint and one for the API (separate servers in
        # real deployments). (Not drawn from the seeded randomness: the demo's ids and secrets
        # stay what they were.)
        self.dpop_nonces = {"token": secrets.token_urlsafe(16), "api": secrets.token_urlsafe(16)}
        self.api_rejects_tokens = False


def resource_of(base: str) -> str:
    """The API's resource identifier (RFC 9728 §1.2, RFC 8707): its base URL."""
    return f"{base}{API_PATH}"


def metadata_url(base: str) -> str:
    """RFC 9728 §3: the well-known URI with the resource's path after it."""
    return f"{base}/.well-known/oauth-protected-resource{API_PATH}"


def token_request_proof(
    state: SandboxState, request: Request, client: Client
) -> str | Response | None:
    """The key a token request's DPoP proof binds the token to (None: a Bearer token), or the
    error answer: ``use_dpop_nonce`` with the nonce, ``invalid_dpop_proof`` (RFC 9449 §5, §8)."""
    proof = request.headers.get("dpop")
    if proof is None:
        if client.dpop_bound_access_tokens:
            return _token_error(
                "invalid_dpop_proof", "this client's tokens are DPoP-bound: send a proof"
            )
        return None
    nonce = state.dpop_nonces["token"] if client.use_dpop_nonce else None
    checked = check_proof(state, proof, "POST", str(request.url), nonce=nonce)
    if isinstance(checked, ProofProblem):
        return _token_error(checked.error, checked.description, state.dpop_nonces["token"])
    return checked


def _token_error(error: str, description: str, nonce: str | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if error == "use_dpop_nonce" and nonce is not None:
        headers["DPoP-Nonce"] = nonce
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers=headers
    )


def routes(site: Site) -> list[Route]:
    """The routes of the protected API and its metadata, for the sandbox app's route list."""
    state, issuer, record = site.state, site.issuer, site.record

    def refuse(
        scheme: str, error: str | None, description: str = "", *, nonce: str | None = None
    ) -> Response:
        """401 with the challenges RFC 6750 §3, RFC 9449 §7.1 and RFC 9728 §5.1 describe."""
        where = f'resource_metadata="{metadata_url(issuer())}"'
        detail = f', error="{error}", error_description="{description}"' if error else ""
        algs = f'algs="{" ".join(PROOF_ALGS)}"'
        bearer = f"Bearer {where}" + (detail if scheme == "bearer" else "")
        dpop = f"DPoP {algs}, {where}" + (detail if scheme == "dpop" else "")
        headers = {
            "WWW-Authenticate": f"{dpop}, {bearer}" if scheme == "dpop" else f"{bearer}, {dpop}"
        }
        if nonce is not None:
            headers["DPoP-Nonce"] = nonce
        body = {
            "error": error or "unauthorized",
            "error_description": description or "a token is required",
        }
        return JSONResponse(body, status_code=401, headers=headers)

    def authorized(request: Request) -> IssuedToken | Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme not in ("bearer", "dpop") or not value:
            return refuse("bearer", None)
        issued = state.lookup(value)
        if issued is None or issued.kind != "access" or not state.is_active(issued):
            return refuse(
                scheme, "invalid_token", "the access token is unknown, revoked or expired"
            )
        if state.api_rejects_tokens:
            return refuse(scheme, "invalid_token", "the access token is refused")
        if issued.audience and issued.audience not in (resource_of(issuer()), issuer()):
            return refuse(scheme, "invalid_token", "the token is for another resource")
        if scheme == "bearer":
            if issued.jkt is not None:
                return refuse("dpop", "invalid_token", "a DPoP-bound token needs the DPoP scheme")
            return issued
        if issued.jkt is None:
            return refuse("bearer", "invalid_token", "a Bearer token sent with the DPoP scheme")
        client = state.clients.get(issued.client_id)
        proof = request.headers.get("dpop")
        if proof is None:
            return refuse("dpop", "invalid_dpop_proof", "a DPoP proof is required")
        nonce = state.dpop_nonces["api"] if client is not None and client.use_dpop_nonce else None
        checked = check_proof(
            state, proof, request.method, str(request.url), nonce=nonce, access_token=value
        )
        if isinstance(checked, ProofProblem):
            return refuse(
                "dpop",
                checked.error,
                checked.description,
                nonce=state.dpop_nonces["api"] if checked.error == "use_dpop_nonce" else None,
            )
        if checked != issued.jkt:
            return refuse(
                "dpop", "invalid_token", "the proof's key is not the one the token is bound to"
            )
        return issued

    def whoami(issued: IssuedToken) -> dict[str, Any]:
        return {
            "client_id": issued.client_id,
            "sub": issued.subject or issued.client_id,
            "scope": issued.scope,
            "token_type": "DPoP" if issued.jkt else "Bearer",
            **({"cnf": {"jkt": issued.jkt}} if issued.jkt else {}),
            **({"aud": issued.audience} if issued.audience else {}),
        }

    async def api(request: Request) -> Response:
        body = await request.body()
        record(request, {})
        issued = authorized(request)
        if isinstance(issued, Response):
            return issued
        path = request.path_params.get("path", "")
        if path == "me" and request.method == "GET":
            return JSONResponse(whoami(issued))
        if path == "echo":
            try:
                parsed: Any = json.loads(body) if body else None
            except ValueError:
                parsed = None
            return JSONResponse(
                {
                    "method": request.method,
                    "query": dict(request.query_params),
                    "content_type": request.headers.get("content-type"),
                    "json": parsed,
                    "text": None if parsed is not None else body.decode("utf-8", "replace"),
                    "client_id": issued.client_id,
                }
            )
        return JSONResponse(
            {"error": "not_found", "error_description": f"no such resource: /api/{path}"},
            status_code=404,
        )

    async def metadata(request: Request) -> Response:
        record(request, {})
        base = issuer()
        # RFC 9728 §3.3: the resource is the URL the metadata's address was made from.
        whole = request.url.path.rstrip("/") == "/.well-known/oauth-protected-resource"
        return JSONResponse(
            {
                "resource": base if whole else resource_of(base),
                "authorization_servers": [base],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": list(PROOF_ALGS),
                "scopes_supported": sorted({s for c in state.clients.values() for s in c.scope}),
                "resource_name": "credenza sandbox API",
            }
        )

    return [
        Route(f"{API_PATH}/{{path:path}}", api, methods=_METHODS),
        Route(f"/.well-known/oauth-protected-resource{API_PATH}", metadata, methods=["GET"]),
        Route("/.well-known/oauth-protected-resource", metadata, methods=["GET"]),
    ]
