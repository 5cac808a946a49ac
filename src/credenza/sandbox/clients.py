"""The sandbox's clients: registration (per environment of an application), secrets and their
reset and retirement, loading clients from a file, and the admin routes for all of it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.config.auth_methods import AUTH_METHODS as AUTH_METHODS
from credenza.errors import ValidationError
from credenza.sandbox.admin import admin, json_body
from credenza.sandbox.core import Core
from credenza.sandbox.site import Site

GRANT_TYPES = (
    "client_credentials",
    "refresh_token",
    "authorization_code",
    "urn:ietf:params:oauth:grant-type:device_code",
    "password",  # RFC 6749 §4.3, for the demo user (sandbox/password.py)
)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Client:
    """A registered client (RFC 7591 metadata names), in one environment of one application."""

    client_id: str
    client_secret: str
    scope: list[str] = field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: list[str] = field(default_factory=lambda: ["client_credentials"])
    token_ttl: int | None = None
    application: str | None = None
    environment: str = "sandbox"
    rotation: str = "cutover"
    previous_secret: str | None = None
    secret_rotated_at: float | None = None
    # RFC 7591 / RFC 8705 metadata for the user grants and the key- and certificate-based methods.
    redirect_uris: list[str] = field(default_factory=list)
    jwks: dict[str, Any] | None = None
    tls_client_auth_subject_dn: str | None = None
    tls_client_auth_san_dns: str | None = None
    # RFC 9449: every token of this client is DPoP-bound (§5.2 dpop_bound_access_tokens), and
    # every proof must carry the server's current nonce (§8, §9: use_dpop_nonce).
    dpop_bound_access_tokens: bool = False
    use_dpop_nonce: bool = False

    def accepts_redirect(self, uri: str) -> bool:
        """An exact match, or (RFC 8252 §7.3) a registered loopback redirect on any port."""
        if uri in self.redirect_uris:
            return True
        given = urlsplit(uri)
        if given.scheme != "http" or not _loopback_name(given.hostname):
            return False
        try:
            given.port  # noqa: B018 - a port that is not one raises here
        except ValueError:
            return False
        return any(
            (parts := urlsplit(registered)).scheme == "http"
            and _loopback_name(parts.hostname)
            and (parts.hostname, parts.path, parts.query, parts.fragment)
            == (given.hostname, given.path, given.query, given.fragment)
            for registered in self.redirect_uris
        )


def _loopback_name(host: str | None) -> bool:
    """127.0.0.0/8, ::1, or localhost: where a native app listens on a port of its choosing."""
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Clients(Core):
    """The registered clients and their secrets."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.listeners: list[Callable[[Client], None]] = []  # told of each new client (TLS trust)

    def add_client(self, metadata: dict[str, Any]) -> Client:
        """Register a client from RFC 7591 metadata; a missing id or secret is generated."""
        scope = metadata.get("scope", "")
        method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in AUTH_METHODS:
            raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        ttl = metadata.get("token_ttl", metadata.get("token_lifetime"))
        grant_types = list(metadata.get("grant_types") or ["client_credentials"])
        unknown = [grant for grant in grant_types if grant not in GRANT_TYPES]
        if unknown:
            raise ValueError(f"grant_types may hold only {', '.join(GRANT_TYPES)}")
        redirect_uris = [str(uri) for uri in metadata.get("redirect_uris") or []]
        if "authorization_code" in grant_types and not redirect_uris:
            raise ValueError("a client using authorization_code needs redirect_uris")
        jwks = metadata.get("jwks")
        if method == "private_key_jwt" and not (isinstance(jwks, dict) and jwks.get("keys")):
            raise ValueError("a private_key_jwt client needs jwks with at least one public key")
        if method == "self_signed_tls_client_auth" and not _x5c_thumbprints(jwks):
            raise ValueError(
                "a self_signed_tls_client_auth client needs jwks with x5c certificates"
            )
        if method == "tls_client_auth" and not (
            metadata.get("tls_client_auth_subject_dn") or metadata.get("tls_client_auth_san_dns")
        ):
            raise ValueError(
                "a tls_client_auth client needs tls_client_auth_subject_dn or tls_client_auth_san_dns"
            )
        client = Client(
            client_id=str(metadata.get("client_id") or "c-" + self.random.hex(8)),
            client_secret=str(metadata.get("client_secret") or self.random.urlsafe(40)),
            scope=scope.split() if isinstance(scope, str) else list(scope),
            token_endpoint_auth_method=method,
            grant_types=grant_types,
            token_ttl=int(ttl) if ttl is not None else None,
            application=metadata.get("application"),
            environment=str(metadata.get("environment", "sandbox")),
            rotation=str(metadata.get("rotation", "cutover")),
            redirect_uris=redirect_uris,
            jwks=jwks if isinstance(jwks, dict) else None,
            tls_client_auth_subject_dn=metadata.get("tls_client_auth_subject_dn"),
            tls_client_auth_san_dns=metadata.get("tls_client_auth_san_dns"),
            dpop_bound_access_tokens=bool(metadata.get("dpop_bound_access_tokens", False)),
            use_dpop_nonce=bool(metadata.get("use_dpop_nonce", False)),
        )
        with self.lock:
            if client.client_id in self.clients:
                raise ValueError(f"client_id {client.client_id} is already registered")
            self.clients[client.client_id] = client
            self._persist()
        for listener in self.listeners:
            listener(client)
        return client

    def reset_secret(self, client_id: str) -> Client:
        """Cut-over: the old secret dies now. Overlap: it stays valid until retired."""
        with self.lock:
            client = self.clients[client_id]
            client.previous_secret = client.client_secret if client.rotation == "overlap" else None
            client.client_secret = self.random.urlsafe(40)
            client.secret_rotated_at = self.clock()
            self._persist()
            return client

    def retire_previous_secret(self, client_id: str) -> Client:
        with self.lock:
            client = self.clients[client_id]
            client.previous_secret = None
            self._persist()
            return client

    def check_secret(self, client: Client, secret: str) -> bool:
        candidates = [client.client_secret]
        if client.previous_secret:
            candidates.append(client.previous_secret)
        return any(hmac.compare_digest(secret.encode(), c.encode()) for c in candidates)


def _x5c_thumbprints(jwks: Any) -> list[str]:
    """SHA-256 of each certificate a JWKS carries in x5c (RFC 8705 §2.2 self-signed clients)."""
    if not isinstance(jwks, dict):
        return []
    prints = []
    for key in jwks.get("keys") or []:
        chain = key.get("x5c") if isinstance(key, dict) else None
        if isinstance(chain, list) and chain and isinstance(chain[0], str):
            prints.append(hashlib.sha256(base64.b64decode(chain[0])).hexdigest())
    return prints


def certificate_thumbprints(client: Client) -> list[str]:
    return _x5c_thumbprints(client.jwks)


def load_clients(path: Path) -> list[dict[str, Any]]:
    """RFC 7591 client metadata objects, from JSON or TOML ([[clients]]); a clear error when
    malformed."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text).get("clients", [])
        else:
            data = json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(
            f"{path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}"
        ) from None
    if isinstance(data, dict):
        data = data.get("clients", [data])
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValidationError(f"{path} must hold client objects (a list, or [[clients]] in TOML)")
    for number, item in enumerate(data):
        if not item.get("client_id"):
            raise ValidationError(f"{path}: client {number} has no client_id")
    return data


def client_json(client: Client, *, with_secret: bool = False) -> dict[str, Any]:
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


def routes(site: Site) -> list[Route]:
    """The admin routes that register clients and applications and reset their secrets."""
    state = site.state

    async def register_client(request: Request) -> Response:
        client = state.add_client(await json_body(request))
        return JSONResponse(client_json(client, with_secret=True), status_code=201)

    async def register_application(request: Request) -> Response:
        data = await json_body(request)
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
            result["environments"][environment] = client_json(client, with_secret=True)
        return JSONResponse(result, status_code=201)

    async def list_clients(_: Request) -> Response:
        return JSONResponse([client_json(c) for c in state.clients.values()])

    async def show_client(request: Request) -> Response:
        # One client as the provider records it (its rotation among others), never its secret.
        client = state.clients.get(request.path_params["client_id"])
        if client is None:
            return JSONResponse({"error": "no such client"}, status_code=404)
        return JSONResponse(client_json(client))

    async def reset_secret(request: Request) -> Response:
        # In a thread (the state takes its own lock): a slow reset, as a test holds one, must not
        # stall the provider's other endpoints, as it would not at a real provider.
        client = await asyncio.to_thread(state.reset_secret, request.path_params["client_id"])
        return JSONResponse(client_json(client, with_secret=True))

    async def retire_secret(request: Request) -> Response:
        client = state.retire_previous_secret(request.path_params["client_id"])
        return JSONResponse(client_json(client))

    return [
        Route("/admin/clients", admin(state, register_client), methods=["POST"]),
        Route("/admin/clients", admin(state, list_clients), methods=["GET"]),
        Route("/admin/clients/{client_id}", admin(state, show_client), methods=["GET"]),
        Route("/admin/applications", admin(state, register_application), methods=["POST"]),
        Route("/admin/clients/{client_id}/secret", admin(state, reset_secret), methods=["POST"]),
        Route(
            "/admin/clients/{client_id}/secret/previous",
            admin(state, retire_secret),
            methods=["DELETE"],
        ),
    ]
