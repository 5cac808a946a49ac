"""The OAuth2 client over httpx: client_credentials, refresh, revoke, logout, introspect, discover.

Every call is bounded (connect and read timeouts plus an overall deadline, and a body cap while it
streams), never follows a redirect, refuses plain http except to loopback, and retries only
transient failures (connection errors, 429/503) with stamina's bounded, jittered backoff.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import stamina

from credenza.errors import (
    CredenzaError,
    DiscoveryError,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
    TokenEndpointError,
    TransportError,
)
from credenza.oauth.auth import OutgoingRequest, method_for
from credenza.oauth.auth.basic import basic_authorization as basic_authorization  # its old home
from credenza.oauth.grants import client_credentials, refresh
from credenza.oauth.tokens import Token, parse_token_response
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

Endpoint = Literal[
    "token", "revocation", "introspection", "logout", "discovery", "device_authorization"
]
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class HttpSettings:
    """Every network default, explicit."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_body_bytes: int = 1024 * 1024
    retry_attempts: int = 3
    wait_initial: float = 0.5
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    retry_after_cap: float = 30.0
    ca_bundle: str | None = None


@dataclass(frozen=True)
class ClientCredentials:
    """What one token request needs: where, who, how to authenticate, and what to ask for."""

    token_url: str
    client_id: str
    secret: Secret
    auth_method: str = "client_secret_basic"
    basic_auth_encoding: str = "rfc6749"
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    resource: str | None = None
    extra_params: Mapping[str, str] = field(default_factory=dict)
    profile: Profile = GENERIC
    # private_key_jwt: the key's id at the provider, and the assertion's aud when the server
    # wants its issuer rather than the token endpoint URL.
    key_id: str | None = None
    assertion_audience: str | None = None
    # tls_client_auth / self_signed_tls_client_auth: the certificate file (its key is `secret`).
    certificate: str | None = None


@dataclass(frozen=True)
class ServerMetadata:
    """Authorization-server metadata (RFC 8414 / OpenID Connect discovery)."""

    issuer: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    logout_endpoint: str | None = None
    source: str = ""
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    # RFC 9207: the server puts `iss` in every authorization response, so one without it is forged.
    authorization_response_iss: bool = False


@dataclass(frozen=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, what: str = "endpoint") -> None:
    """Refuse a URL that would carry credentials in the clear, before any byte is sent."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise InsecureEndpointError(
            f"refusing to send credentials to {url} over plain http",
            hint="use the https:// URL; plain http is allowed only to loopback (127.0.0.1, localhost)",
        )
    raise InsecureEndpointError(f"the {what} {url!r} is not an http(s) URL")


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, for binding a secret to the endpoint it was stored for."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{port}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class OAuthClient:
    """Async OAuth2 client. One per workspace; safe to share between concurrent calls."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.clock = clock or (lambda: datetime.now(UTC))
        # stamina logs every scheduled retry; credenza reports outcomes itself, on its own terms.
        stamina.instrumentation.set_on_retry_hooks([])
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tls_clients: dict[str, httpx.AsyncClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for client in self._tls_clients.values():
            await client.aclose()
        self._tls_clients = {}

    # -- grants --------------------------------------------------------------------------------

    async def fetch_token(self, credentials: ClientCredentials) -> Token:
        """client_credentials grant (RFC 6749 §4.4)."""
        return await self.request_token(credentials, client_credentials.form(credentials))

    async def refresh(self, credentials: ClientCredentials, refresh_token: Secret) -> Token:
        """refresh_token grant (RFC 6749 §6); the caller keeps a rotated refresh_token."""
        token = await self.request_token(credentials, refresh.form(credentials, refresh_token))
        return refresh.keep_refresh_token(token, refresh_token)

    async def request_token(self, credentials: ClientCredentials, form: dict[str, str]) -> Token:
        """A token request with the form a grant built (oauth/grants/), client-authenticated."""
        return await self._token_call(credentials, form)

    async def post_form(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, form: dict[str, str]
    ) -> dict[str, Any]:
        """A client-authenticated POST whose 200 answer is a JSON object (RFC 8628 §3.1)."""
        response = await self._call(endpoint, url, credentials, form=form)
        if response.status != 200:
            raise self._error(endpoint, url, response, credentials.profile)
        data = _json_object(response.body)
        if data is None:
            raise InvalidResponseError(
                f"the {endpoint.replace('_', ' ')} endpoint {url} did not answer with a JSON object"
            )
        return data

    async def revoke(
        self, credentials: ClientCredentials, url: str, token: Secret, hint: str = "access_token"
    ) -> None:
        """RFC 7009 revocation with client authentication; 200 means done (even if unknown)."""
        form = {"token": token.reveal(), "token_type_hint": hint}
        response = await self._call("revocation", url, credentials, form=form)
        if response.status != 200:
            raise self._error("revocation", url, response, credentials.profile)

    async def logout(self, url: str, token: Secret, profile: Profile = GENERIC) -> None:
        """Logout by GET with a Bearer header, answered by plain text (Telenor: ``OK!``)."""
        check_endpoint(url, "logout endpoint")
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        response = await self._send("logout", "GET", url, headers=headers)
        if response.status != 200:
            raise self._error("logout", url, response, profile)

    async def introspect(
        self, credentials: ClientCredentials, url: str, token: Secret
    ) -> dict[str, Any]:
        """RFC 7662 introspection, authenticated as the client."""
        form = {"token": token.reveal(), "token_type_hint": "access_token"}
        response = await self._call("introspection", url, credentials, form=form)
        if response.status != 200:
            raise self._error("introspection", url, response, credentials.profile)
        data = _json_object(response.body)
        if data is None or not isinstance(data.get("active"), bool):
            raise InvalidResponseError(
                f"the introspection endpoint {url} did not answer with an RFC 7662 object"
            )
        return data

    async def discover(self, issuer: str) -> ServerMetadata:
        """Find endpoints from an issuer: RFC 8414 first, then OpenID Connect discovery."""
        check_endpoint(issuer, "issuer")
        base = issuer.rstrip("/")
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        candidates = [
            f"{origin}/.well-known/oauth-authorization-server{parts.path}",
            f"{base}/.well-known/openid-configuration",
        ]
        if parts.path:
            candidates.append(f"{base}/.well-known/oauth-authorization-server")
        failures: list[str] = []
        for url in dict.fromkeys(candidates):
            try:
                response = await self._send("discovery", "GET", url, headers={})
            except RedirectRefusedError:
                failures.append(f"{url}: redirect")
                continue
            if response.status != 200:
                failures.append(f"{url}: HTTP {response.status}")
                continue
            data = _json_object(response.body)
            if data is None:
                failures.append(f"{url}: not JSON")
                continue
            return _metadata(issuer, url, data)
        raise DiscoveryError(
            f"no authorization-server metadata found for issuer {issuer}",
            hint="check the issuer URL, or give --token-url instead (" + "; ".join(failures) + ")",
        )

    # -- internals -----------------------------------------------------------------------------

    async def _token_call(self, credentials: ClientCredentials, form: dict[str, str]) -> Token:
        response = await self._call("token", credentials.token_url, credentials, form=form)
        if response.status != 200:
            raise self._error("token", credentials.token_url, response, credentials.profile)
        try:
            body = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponseError(
                f"the token endpoint {credentials.token_url} answered 200 with something that is "
                f"not JSON ({_content_type(response)})",
                hint="check that the token URL is the provider's token endpoint",
            ) from None
        return parse_token_response(body, issued_at=self.clock())

    async def _call(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, *, form: dict[str, str]
    ) -> _Response:
        check_endpoint(url, f"{endpoint} endpoint")
        method = method_for(credentials.auth_method)
        request = OutgoingRequest(url, dict(form), {"Accept": "application/json"})
        method.apply(credentials, request, self.clock())
        tls: _TlsIdentity | None = None
        if (identity := method.tls_identity(credentials)) is not None:
            tls = (identity, lambda: method.ssl_context(credentials, self.settings.ca_bundle))
        return await self._send(
            endpoint,
            "POST",
            url,
            headers=request.headers,
            form=request.form,
            profile=credentials.profile,
            tls=tls,
        )

    async def _send(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        form: dict[str, str] | None = None,
        profile: Profile = GENERIC,
        tls: _TlsIdentity | None = None,
    ) -> _Response:
        """One call with retries on transient failures, all inside one overall deadline."""
        settings = self.settings
        try:
            async with asyncio.timeout(settings.deadline):
                async for attempt in stamina.retry_context(
                    on=self._backoff,
                    attempts=max(1, settings.retry_attempts),
                    timeout=None,
                    wait_initial=settings.wait_initial,
                    wait_max=settings.wait_max,
                    wait_jitter=settings.wait_jitter,
                ):
                    with attempt:
                        response = await self._once(method, url, headers, form, tls)
                        if response.status in (429, 503):
                            raise self._error(endpoint, url, response, profile)
                        return response
        except TimeoutError:
            raise TransportError(
                f"{_host(url)} did not finish answering within the {settings.deadline:g} s deadline",
                hint="the server is too slow or dripping its answer; try again later, or raise "
                "deadline under [settings]",
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _backoff(self, error: Exception) -> bool | float:
        """Which failures are transient, and how long the server asked us to wait."""
        if isinstance(error, _ConnectFailure):
            return True
        if isinstance(error, TokenEndpointError) and error.status in (429, 503):
            if error.retry_after is not None:
                return min(error.retry_after, self.settings.retry_after_cap)
            return True
        return False

    async def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        form: dict[str, str] | None,
        tls: _TlsIdentity | None = None,
    ) -> _Response:
        client = self._http(tls)
        limit = self.settings.max_body_bytes
        try:
            request = client.build_request(method, url, headers=headers, data=form)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    raise RedirectRefusedError(
                        f"{_host(url)} answered with a redirect (HTTP {response.status_code}) to "
                        f"{_redirect_target(response)}; credenza never follows redirects with "
                        "credentials",
                        hint="set the endpoint to the final URL if you trust it",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise TransportError(
                            f"{_host(url)} sent more than {limit // 1024} KiB; the answer was cut off",
                            hint="the URL probably does not point at an OAuth endpoint",
                        )
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except httpx.ConnectTimeout:
            raise _ConnectFailure(
                f"cannot connect to {_host(url)}: no answer within {self.settings.connect_timeout:g} s",
                hint="check the URL, your network, a VPN or a proxy",
            ) from None
        except httpx.ConnectError as exc:
            raise _connect_error(url, exc) from None
        except httpx.ReadTimeout:
            raise TransportError(
                f"{_host(url)} accepted the connection but sent nothing for "
                f"{self.settings.read_timeout:g} s",
                hint="the provider may be down; try again later",
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise TransportError(
                f"{_host(url)} dropped the connection ({type(exc).__name__})",
                hint="the provider may be restarting; try again",
            ) from None
        except httpx.DecodingError:
            raise InvalidResponseError(f"{_host(url)} sent a body that cannot be decoded") from None
        except httpx.HTTPError as exc:
            raise TransportError(f"the call to {_host(url)} failed: {type(exc).__name__}") from None
        body = b"".join(chunks)
        if response.headers.get("content-encoding"):
            body = _decode_body(response, body, limit, url)
        return _Response(response.status_code, response.headers, body)

    def _http(self, tls: _TlsIdentity | None = None) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # httpx clients are bound to the loop they were made on.
            self._client, self._tls_clients, self._loop = None, {}, loop
        if tls is not None:
            # A client certificate is part of the connection: one pool per identity.
            key, context = tls
            if key not in self._tls_clients:
                self._tls_clients[key] = self._new_client(context())
            return self._tls_clients[key]
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.settings.ca_bundle:
                verify = ssl.create_default_context(cafile=self.settings.ca_bundle)
            self._client = self._new_client(verify)
        return self._client

    def _new_client(self, verify: ssl.SSLContext | bool | None) -> httpx.AsyncClient:
        settings = self.settings
        return httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            follow_redirects=False,
            verify=True if verify is None else verify,
            trust_env=False,
            transport=self._transport,
            headers={"User-Agent": "credenza"},
        )

    def _error(
        self, endpoint: Endpoint, url: str, response: _Response, profile: Profile
    ) -> TokenEndpointError:
        return endpoint_error(
            endpoint, url, response.status, response.headers, response.body, profile
        )


# (identity key, how to build its TLS context): built only when the identity has no pool yet.
_TlsIdentity = tuple[str, Callable[[], "ssl.SSLContext | None"]]


class _ConnectFailure(TransportError):
    """Nothing was sent: safe to retry."""


def endpoint_error(
    endpoint: Endpoint,
    url: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    profile: Profile = GENERIC,
) -> TokenEndpointError:
    """Explain a non-2xx answer: RFC 6749 §5.2 fields, numbered provider codes, or an error page."""
    retry_after = retry_after_seconds(headers.get("retry-after"))
    data = _json_object(body)
    where = f"the {endpoint} endpoint {url}"
    if data is None:
        what = (
            "an HTML page" if _looks_html(headers, body) else f"a {_content_type_of(headers)} body"
        )
        title = _TITLE.search(body[:65536])
        detail = f" titled {_clean(title.group(1).decode('utf-8', 'replace'))!r}" if title else ""
        return TokenEndpointError(
            f"{where} answered HTTP {status} with {what}{detail} instead of an OAuth error",
            status=status,
            retry_after=retry_after,
            hint=_status_hint(endpoint, status, retry_after),
            kind=_kind(None, status),
        )
    code_value = data.get("error")
    code = code_value if isinstance(code_value, str) else None
    raw_description = data.get("error_description")
    description = _clean(raw_description) if isinstance(raw_description, str) else None
    provider_code = _provider_code(data)
    explained = profile.explain(endpoint, status, provider_code)
    message = f"{where} said HTTP {status}" + (f" {_clean(code)}" if code else "")
    if explained:
        message += f" ({profile.name} code {provider_code}: {explained.explanation})"
    else:
        if description:
            message += f": {description}"
        if provider_code:
            message += f" (code {provider_code})"
    kind = explained.kind if explained and explained.kind else _kind(code, status)
    return TokenEndpointError(
        message,
        status=status,
        error=code,
        description=description,
        provider_code=provider_code,
        retry_after=retry_after,
        hint=_hint_for(kind, endpoint, status, retry_after),
        kind=kind,
    )


def error_kind(error: CredenzaError) -> str:
    """ok / wrong_secret / scope / unreachable / provider: what a verify report tells apart."""
    if isinstance(error, TokenEndpointError):
        return error.kind
    if isinstance(error, TransportError | InsecureEndpointError | RedirectRefusedError):
        return "unreachable"
    return "provider"


def _kind(code: str | None, status: int) -> str:
    if code in ("invalid_client", "unauthorized_client") or status == 401:
        return "wrong_secret"
    if code == "invalid_scope":
        return "scope"
    return "provider"


def _hint_for(kind: str, endpoint: Endpoint, status: int, retry_after: float | None) -> str:
    if kind == "wrong_secret":
        return (
            "check the client secret (credenza secret set APP ENV) and the client_id; if both are "
            "right, try the other auth method (--auth-method client_secret_post or "
            "client_secret_basic)"
        )
    if kind == "scope":
        return "ask the provider to grant the scope to this client, or request fewer scopes"
    return _status_hint(endpoint, status, retry_after)


def _status_hint(endpoint: Endpoint, status: int, retry_after: float | None) -> str:
    if status in (429, 503):
        wait = f" (the server asked to wait {retry_after:g} s)" if retry_after is not None else ""
        return f"the provider is busy or rate-limiting{wait}; try again later"
    if status >= 500:
        return "the provider had an internal error; try again later or contact the provider"
    if status == 404:
        return f"the {endpoint} URL looks wrong; check it or rediscover it from the issuer"
    if status == 401:
        return "check the client_id, the client secret and the auth method"
    return "check the request settings for this environment"


def _provider_code(data: dict[str, Any]) -> str | None:
    for key in ("error_code", "code", "errorCode"):
        value = data.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return str(value)
    return None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _metadata(issuer: str, url: str, data: dict[str, Any]) -> ServerMetadata:
    declared = data.get("issuer")
    if not isinstance(declared, str) or declared.rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(
            f"the metadata at {url} is for issuer {declared!r}, not {issuer!r}",
            hint="RFC 8414 requires them to match; check the issuer URL",
        )
    token_endpoint = data.get("token_endpoint")
    if not isinstance(token_endpoint, str):
        raise DiscoveryError(f"the metadata at {url} has no token_endpoint")

    def optional(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    for candidate in (
        token_endpoint,
        optional("revocation_endpoint"),
        optional("introspection_endpoint"),
        optional("authorization_endpoint"),
        optional("device_authorization_endpoint"),
    ):
        if candidate is not None:
            check_endpoint(candidate)
    return ServerMetadata(
        issuer=declared,
        token_endpoint=token_endpoint,
        revocation_endpoint=optional("revocation_endpoint"),
        introspection_endpoint=optional("introspection_endpoint"),
        logout_endpoint=optional("logout_endpoint") or optional("end_session_endpoint"),
        source=url,
        authorization_endpoint=optional("authorization_endpoint"),
        device_authorization_endpoint=optional("device_authorization_endpoint"),
        authorization_response_iss=data.get("authorization_response_iss_parameter_supported")
        is True,
    )


def _connect_error(url: str, exc: httpx.ConnectError) -> TransportError:
    import socket

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TransportError(
                f"the TLS certificate of {_host(url)} is not trusted ({cause.verify_message})",
                hint="if the provider uses a private CA, set ca_bundle under [settings]; "
                "credenza never turns verification off",
            )
        if isinstance(cause, ssl.SSLError):
            return TransportError(f"TLS with {_host(url)} failed ({cause.reason})")
        if isinstance(cause, ConnectionRefusedError):
            return _ConnectFailure(
                f"cannot connect to {_host(url)}: connection refused",
                hint="nothing is listening there; check the URL and that the server is up",
            )
        if isinstance(cause, socket.gaierror):
            return _ConnectFailure(
                f"cannot resolve {_host(url)}", hint="check the host name, your DNS, VPN or network"
            )
        cause = cause.__cause__ or cause.__context__
    return _ConnectFailure(
        f"cannot connect to {_host(url)} ({exc})",
        hint="check the URL, your network, a VPN or a firewall",
    )


def _decode_body(response: httpx.Response, raw: bytes, limit: int, url: str) -> bytes:
    # Content-Encoding decoding, capped: a small gzip body must not inflate past the limit.
    decoder = response._get_content_decoder()
    out = decoder.decode(raw) + decoder.flush()
    if len(out) > limit:
        raise TransportError(
            f"{_host(url)} sent more than {limit // 1024} KiB; the answer was cut off"
        )
    return out


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _redirect_target(response: httpx.Response) -> str:
    location = response.headers.get("location", "")
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else (parts.path or "?")


def _content_type(response: _Response) -> str:
    return _content_type_of(response.headers)


def _content_type_of(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "untyped").split(";")[0].strip() or "untyped"


def _looks_html(headers: Mapping[str, str], body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in _content_type_of(headers) or head.startswith((b"<!doctype html", b"<html"))


def _clean(text: str) -> str:
    """One line, bounded, without control characters (a server's words go to a terminal)."""
    flat = " ".join(text.split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat[:200]
