"""How the sandbox authenticates a client at its OAuth endpoints (RFC 6749 §2.3, RFC 7523
private_key_jwt, RFC 8705 certificates, public clients), and what every such endpoint does
first: read the form, record it, apply an injected fault, authenticate."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus

import jwt
from cryptography import x509
from starlette.requests import Request
from starlette.responses import Response

from credenza.sandbox.clients import Client, certificate_thumbprints
from credenza.sandbox.core import Core
from credenza.sandbox.faults import fault_answer
from credenza.sandbox.site import (
    CODE_BAD_AUTH_HEADER,
    CODE_BAD_CREDENTIALS,
    CODE_INVALID_CLIENT_ID,
    Handler,
    Site,
    oauth_error,
    read_form,
)

ClientHandler = Callable[[Request, dict[str, str], Client], Awaitable[Response]]
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class SeenAssertions(Core):
    """The ids of client assertions and DPoP proofs seen, until they expire (replays)."""

    def __init__(self) -> None:
        self.seen_jtis: dict[str, float] = {}

    def use_jti(self, jti: str, expires_at: float) -> bool:
        """Record a client assertion's id; False when it was seen before (a replay)."""
        now = self.clock()
        with self.lock:
            self.seen_jtis = {key: exp for key, exp in self.seen_jtis.items() if exp > now}
            if jti in self.seen_jtis:
                return False
            self.seen_jtis[jti] = expires_at
            return True


def client_endpoint(site: Site, handler: ClientHandler) -> Handler:
    """What every client-authenticated endpoint does first: read the form, record the
    request, apply an injected fault, authenticate the client."""

    async def endpoint(request: Request) -> Response:
        form = await read_form(request)
        site.record(request, form)
        fault = await fault_answer(site.state, _claimed_client_id(request, form))
        if fault is not None:
            return fault
        client = await _authenticate(site, request, form)
        if isinstance(client, Response):
            return client
        return await handler(request, form, client)

    return endpoint


async def _authenticate(site: Site, request: Request, form: dict[str, str]) -> Client | Response:
    """RFC 6749 §2.3 and the methods after it: the one the request uses must be the one the
    client registered (RFC 7591 token_endpoint_auth_method)."""
    state = site.state
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
        return oauth_error(401, "invalid_client", "no client authentication", CODE_BAD_AUTH_HEADER)
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
        problem = _check_assertion(site, client, form.get("client_assertion", ""), request)
        if problem:
            return oauth_error(401, "invalid_client", problem, CODE_BAD_CREDENTIALS)
    elif method != "none":
        problem = _check_certificate(client, site.peer_certificate(request))
        if problem:
            return oauth_error(401, "invalid_client", problem, CODE_BAD_CREDENTIALS)
    return client


def _check_assertion(site: Site, client: Client, assertion: str, request: Request) -> str | None:
    """RFC 7523 §3: signed by a registered key, iss = sub = client_id, aud = this server,
    not expired, and a jti never seen before."""
    if client.jwks is None:
        return "this client has no registered keys"
    issuer = site.issuer
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
    exp, jti, now = claims.get("exp"), claims.get("jti"), site.state.clock()
    if not isinstance(exp, int | float) or exp <= now:
        return "client assertion has expired"
    if exp > now + 3600:
        return "client assertion lives too long (exp over an hour ahead)"
    if not isinstance(jti, str) or not jti:
        return "client assertion has no jti"
    if not site.state.use_jti(jti, float(exp)):
        return "client assertion jti was already used (replay)"
    return None


def _check_certificate(client: Client, der: bytes | None) -> str | None:
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
        if names is not None and client.tls_client_auth_san_dns in names.value.get_values_for_type(
            x509.DNSName
        ):
            return None
    return "the TLS client certificate does not match this client's registration"


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


def _claimed_client_id(request: Request, form: dict[str, str]) -> str | None:
    """The client a request says it is, before it is authenticated (which faults apply)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(decoded.partition(":")[0])
    return form.get("client_id") or _assertion_issuer(form) or None
