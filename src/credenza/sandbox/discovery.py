"""The sandbox's discovery: authorization server metadata (RFC 8414, and OpenID Connect
Discovery at its well-known name) and the JWK Set id_tokens are checked with."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox import registration
from credenza.sandbox.clients import AUTH_METHODS, GRANT_TYPES
from credenza.sandbox.id_tokens import ID_TOKEN_ALG
from credenza.sandbox.site import Site


def routes(site: Site) -> list[Route]:
    """The two metadata documents (one body) and the JWK Set."""
    state, issuer = site.state, site.issuer

    async def jwks(request: Request) -> Response:
        site.record(request, {})
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

    return [
        Route("/.well-known/oauth-authorization-server", metadata),
        Route("/.well-known/openid-configuration", metadata),
        Route("/oauth/jwks", jwks, methods=["GET"]),
    ]
