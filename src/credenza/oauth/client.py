"""The OAuth2 client over httpx: client_credentials, refresh, revoke, logout, introspect, discover.

Every call is bounded (connect and read timeouts plus an overall deadline, and a cap on the
decoded body while it streams), never follows a redirect, refuses plain http except to loopback,
and retries only transient failures (connection errors, 429/503) with stamina's bounded, jittered
backoff. Whatever a server answers is untrusted: every word of it that reaches an error passes
``untrusted.clean`` with the values sent in that exchange, so an echo cannot leak them.
"""

from __future__ import annotations

import asyncio
import html
import math
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import stamina

from credenza.errors import (
    ConfigError,
    CredenzaError,
    DiscoveryError,
    ErrorKind,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
    RevocationUnconfirmedError,
    TokenEndpointError,
    TransportError,
)
from credenza.oauth.auth import OutgoingRequest, method_for
from credenza.oauth.auth.basic import basic_authorization as basic_authorization  # its old home
from credenza.oauth.decoding import (
    ACCEPT_ENCODING,
    BodyTooLargeError,
    CappedDecoder,
    UndecodableBodyError,
)
from credenza.oauth.exchange import SECRET_FIELDS, Exchange
from credenza.oauth.grants import client_credentials, refresh
from credenza.oauth.origins import is_loopback as is_loopback  # their old home
from credenza.oauth.origins import origin_of as origin_of
from credenza.oauth.params import check_extra_params
from credenza.oauth.tokens import Token, parse_token_response
from credenza.oauth.untrusted import NOTHING, Sent, clean, is_clean, parse_json
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

Endpoint = Literal[
    "token", "revocation", "introspection", "logout", "discovery", "device_authorization"
]
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# Form fields whose values are credentials: an echo of any of them is redacted (the same list
# --verbose masks, in one place).
_SENSITIVE_FIELDS = SECRET_FIELDS


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

    def endpoints(self) -> dict[str, str]:
        """Every endpoint the metadata names, by what it is for."""
        found = {
            "token": self.token_endpoint,
            "revocation": self.revocation_endpoint,
            "introspection": self.introspection_endpoint,
            "logout": self.logout_endpoint,
            "authorization": self.authorization_endpoint,
            "device_authorization": self.device_authorization_endpoint,
        }
        return {name: url for name, url in found.items() if url}


@dataclass(frozen=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    sent: Sent = NOTHING


def check_endpoint(url: str, what: str = "endpoint") -> None:
    """Refuse a URL that would carry credentials in the clear, before any byte is sent."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise InsecureEndpointError(
            f"refusing to send credentials to {_show_url(url)} over plain http",
            hint="use the https:// URL; plain http is allowed only to loopback (127.0.0.1, localhost)",
        )
    raise InsecureEndpointError(f"the {what} '{clean(url, limit=160)}' is not an http(s) URL")


# Longer than any wait worth reporting; keeps a server's 10**400 from becoming inf.
_MAX_RETRY_AFTER = 10.0**9


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,40}", value):
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), _MAX_RETRY_AFTER)


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
        self._plain_client: httpx.AsyncClient | None = None
        self._tls_clients: dict[str, httpx.AsyncClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # `--verbose`: told of every exchange (each attempt), masked by the observer's printing.
        self.observer: Callable[[Exchange], None] | None = None

    async def aclose(self) -> None:
        for plain in (self._client, self._plain_client):
            if plain is not None:
                await plain.aclose()
        self._client = self._plain_client = None
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
        """A token request with the form a grant built (oauth/grants/), client-authenticated.

        A response without ``scope`` granted what was requested (RFC 6749 §5.1)."""
        token = await self._token_call(credentials, form)
        requested = tuple(form["scope"].split()) if form.get("scope") else credentials.scopes
        return _as_requested(token, requested)

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
                f"the {endpoint.replace('_', ' ')} endpoint {_show_url(url)} did not answer with "
                "a JSON object"
            )
        return data

    async def revoke(
        self, credentials: ClientCredentials, url: str, token: Secret, hint: str = "access_token"
    ) -> None:
        """RFC 7009 revocation with client authentication.

        Only the spec's answer confirms it: 200 (also for a token the server does not know). An
        HTML page (a login or error page served with 200) or any other 2xx raises
        RevocationUnconfirmedError; the caller drops its cached copy either way.
        """
        form = {"token": token.reveal(), "token_type_hint": hint}
        response = await self._call("revocation", url, credentials, form=form)
        if response.status == 200 and not _looks_html(response.headers, response.body):
            return
        if 200 <= response.status < 300:
            raise _unconfirmed("revocation", url, response, "HTTP 200 (RFC 7009)")
        raise self._error("revocation", url, response, credentials.profile)

    async def logout(self, url: str, token: Secret, profile: Profile = GENERIC) -> None:
        """Logout by GET with a Bearer header, confirmed only by the profile's answer
        (Telenor: 200 with ``OK!``); anything else raises RevocationUnconfirmedError."""
        check_endpoint(url, "logout endpoint")
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        sent = Sent(token.reveal(), headers["Authorization"])
        response = await self._send("logout", "GET", url, headers=headers, sent=sent)
        if response.status == 200 and _body_text(response.body) == profile.logout_answer:
            return
        if 200 <= response.status < 300:
            raise _unconfirmed("logout", url, response, f"HTTP 200 {profile.logout_answer!r}")
        raise self._error("logout", url, response, profile)

    async def introspect(
        self, credentials: ClientCredentials, url: str, token: Secret
    ) -> dict[str, Any]:
        """RFC 7662 introspection, authenticated as the client.

        The answer is returned as the server sent it: show it only through ``untrusted.clean``
        and ``tokens.claim_time``.
        """
        form = {"token": token.reveal(), "token_type_hint": "access_token"}
        response = await self._call("introspection", url, credentials, form=form)
        if response.status != 200:
            raise self._error("introspection", url, response, credentials.profile)
        data = _json_object(response.body)
        if data is None or not isinstance(data.get("active"), bool):
            raise InvalidResponseError(
                f"the introspection endpoint {_show_url(url)} did not answer with an RFC 7662 "
                "object"
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
            f"no authorization-server metadata found for issuer {_show_url(issuer)}",
            hint="check the issuer URL, or give --token-url instead ("
            + clean("; ".join(failures), limit=400)
            + ")",
        )

    # -- internals -----------------------------------------------------------------------------

    async def _token_call(self, credentials: ClientCredentials, form: dict[str, str]) -> Token:
        response = await self._call("token", credentials.token_url, credentials, form=form)
        if response.status != 200:
            raise self._error("token", credentials.token_url, response, credentials.profile)
        try:
            body = parse_json(response.body)
        except ValueError as why:
            raise InvalidResponseError(
                f"the token endpoint {_show_url(credentials.token_url)} answered 200 with "
                f"something that is not JSON credenza can read ({_content_type(response)}: {why})",
                hint="check that the token URL is the provider's token endpoint",
            ) from None
        return parse_token_response(body, issued_at=self.clock(), sent=response.sent)

    async def _call(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, *, form: dict[str, str]
    ) -> _Response:
        check_endpoint(url, f"{endpoint} endpoint")
        # A config edited by hand gets the same refusal as --param: extra parameters never
        # replace what the grant itself sends, and never carry a secret.
        check_extra_params(credentials.extra_params)
        method = method_for(credentials.auth_method)
        request = OutgoingRequest(url, dict(form), {"Accept": "application/json"})
        method.apply(credentials, request, self.clock())
        tls: _TlsIdentity | None = None
        if (identity := method.tls_identity(credentials)) is not None:
            tls = (identity, lambda: method.ssl_context(credentials, self.settings.ca_bundle))
        authorization = request.headers.get("Authorization", "")
        sent = Sent(
            credentials.secret.reveal(),
            authorization,
            authorization.partition(" ")[2],
            *(value for key, value in request.form.items() if key in _SENSITIVE_FIELDS),
        )
        return await self._send(
            endpoint,
            "POST",
            url,
            headers=request.headers,
            form=request.form,
            profile=credentials.profile,
            sent=sent,
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
        sent: Sent = NOTHING,
        tls: _TlsIdentity | None = None,
    ) -> _Response:
        """One call with retries on transient failures, all inside one overall deadline."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + settings.deadline
        # The last busy answer while credenza waits to retry: a deadline that runs out then is
        # the server's "come back later", not a server dripping its answer.
        busy: list[TokenEndpointError] = []

        def transient(error: Exception) -> bool | float:
            wait = self._backoff(error, ends_at - loop.time())
            if wait is not False and isinstance(error, TokenEndpointError):
                busy[:] = [error]
            return wait

        try:
            async with asyncio.timeout(settings.deadline):
                async for attempt in stamina.retry_context(
                    on=transient,
                    attempts=max(1, settings.retry_attempts),
                    timeout=None,
                    wait_initial=settings.wait_initial,
                    wait_max=settings.wait_max,
                    wait_jitter=settings.wait_jitter,
                ):
                    with attempt:
                        busy.clear()
                        response = await self._once(method, url, headers, form, sent, tls)
                        if response.status in (429, 503):
                            raise self._error(endpoint, url, response, profile)
                        return response
        except TimeoutError:
            if busy:
                raise TransportError(
                    f"{_host(url)} was still busy (HTTP {busy[0].status}) when the "
                    f"{settings.deadline:g} s deadline ran out",
                    hint="the provider is rate-limiting or down; try again later",
                ) from None
            raise TransportError(
                f"{_host(url)} did not finish answering within the {settings.deadline:g} s deadline",
                hint="the server is too slow or dripping its answer; try again later, or raise "
                "deadline under [settings]",
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _backoff(self, error: Exception, remaining: float = math.inf) -> bool | float:
        """Which failures are transient, and how long to wait before the next try.

        A server asking for longer than the time left (``Retry-After: 100000``) gets its answer
        at once, not a wait that ends in a timeout.
        """
        if isinstance(error, _ConnectFailure):
            return True
        if isinstance(error, TokenEndpointError) and error.status in (429, 503):
            if error.retry_after is None:
                return True
            if error.retry_after > remaining:
                return False
            return min(error.retry_after, self.settings.retry_after_cap)
        return False

    async def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        form: dict[str, str] | None,
        sent: Sent,
        tls: _TlsIdentity | None = None,
    ) -> _Response:
        client = self._http(tls, plain=url.startswith("http://"))
        limit = self.settings.max_body_bytes
        too_large = TransportError(
            f"{_host(url)} sent more than {limit // 1024} KiB; the answer was cut off",
            hint="the URL probably does not point at an OAuth endpoint",
        )
        try:
            request = client.build_request(method, url, headers=headers, data=form)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    raise RedirectRefusedError(
                        f"{_host(url)} answered with a redirect (HTTP {response.status_code}) to "
                        f"{_redirect_target(response, sent)}; credenza never follows redirects "
                        "with credentials",
                        hint="set the endpoint to the final URL if you trust it",
                    )
                # Decoded as it arrives, so the cap holds for what the body inflates to.
                decoder = CappedDecoder(response.headers.get("content-encoding"), limit)
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    decoder.feed(chunk)
                body = decoder.finish()
            finally:
                await response.aclose()
        except BodyTooLargeError:
            raise too_large from None
        except UndecodableBodyError as why:
            raise InvalidResponseError(
                f"{_host(url)} sent a body credenza will not decode: {why}",
                hint="the URL probably does not point at an OAuth endpoint",
            ) from None
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
        if self.observer is not None:
            self.observer(
                Exchange(
                    method,
                    url,
                    dict(request.headers),
                    form,
                    response.status_code,
                    dict(response.headers),
                    body,
                    sent,
                )
            )
        return _Response(response.status_code, response.headers, body, sent)

    def _http(self, tls: _TlsIdentity | None = None, *, plain: bool = False) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # httpx clients are bound to the loop they were made on.
            self._client, self._plain_client, self._tls_clients = None, None, {}
            self._loop = loop
        if tls is not None:
            # A client certificate is part of the connection: one pool per identity.
            key, context = tls
            if key not in self._tls_clients:
                self._tls_clients[key] = self._new_client(context())
            return self._tls_clients[key]
        if plain and tls is None:
            # http:// (loopback only, check_endpoint made sure) never does TLS, so loading the
            # system's CA certificates would be 17 ms of a one-shot `credenza token` for
            # nothing. This client only ever gets http:// URLs, and its context trusts no CA:
            # should an https:// URL ever reach it, verification fails instead of passing.
            if self._plain_client is None:
                self._plain_client = self._new_client(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
            return self._plain_client
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.settings.ca_bundle:
                verify = _ca_context(self.settings.ca_bundle)
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
            headers={"User-Agent": "credenza", "Accept-Encoding": ACCEPT_ENCODING},
        )

    def _error(
        self, endpoint: Endpoint, url: str, response: _Response, profile: Profile
    ) -> TokenEndpointError:
        return endpoint_error(
            endpoint, url, response.status, response.headers, response.body, profile, response.sent
        )


# (identity key, how to build its TLS context): built only when the identity has no pool yet.
_TlsIdentity = tuple[str, Callable[[], "ssl.SSLContext | None"]]


def _ca_context(ca_bundle: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"the ca_bundle {clean(ca_bundle, limit=120)} cannot be used "
            f"({clean(getattr(exc, 'strerror', None) or exc, limit=80)})",
            hint="point ca_bundle under [settings] at a PEM file of CA certificates",
        ) from None


class _ConnectFailure(TransportError):
    """Nothing was sent: safe to retry."""


def endpoint_error(
    endpoint: Endpoint,
    url: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    profile: Profile = GENERIC,
    sent: Sent = NOTHING,
) -> TokenEndpointError:
    """Explain a non-2xx answer: RFC 6749 §5.2 fields, numbered provider codes, or an error page.

    Every field taken from the answer is cleaned of ``sent`` (what credenza sent in that
    exchange) and of control characters before it goes into the error.
    """
    retry_after = retry_after_seconds(headers.get("retry-after"))
    where = f"the {endpoint} endpoint {_show_url(url)}"
    unreadable = ""
    try:
        data = parse_json(body) if body.strip() else None
    except ValueError as why:
        data, unreadable = None, str(why)
    if not isinstance(data, dict):
        what = _describe_body(headers, body, sent, unreadable)
        return TokenEndpointError(
            f"{where} answered HTTP {status} with {what} instead of an OAuth error",
            status=status,
            retry_after=retry_after,
            hint=_status_hint(endpoint, status, retry_after),
            kind=_kind(None, status, None),
        )
    code_value = data.get("error")
    code = clean(code_value, sent, limit=80) if isinstance(code_value, str) else None
    raw_description = data.get("error_description")
    description = (
        clean(raw_description, sent, limit=200) if isinstance(raw_description, str) else None
    )
    provider_code = _provider_code(data, sent)
    explained = profile.explain(endpoint, status, provider_code)
    message = f"{where} said HTTP {status}" + (f" {code}" if code else "")
    if explained:
        message += f" ({profile.name} code {provider_code}: {explained.explanation})"
    else:
        if description:
            message += f": {description}"
        if provider_code:
            message += f" (code {provider_code})"
    kind = explained.kind if explained and explained.kind else _kind(code, status, description)
    return TokenEndpointError(
        message,
        status=status,
        error=code or None,
        description=description or None,
        provider_code=provider_code,
        retry_after=retry_after,
        hint=_hint_for(kind, endpoint, status, retry_after),
        kind=kind,
    )


def error_kind(error: CredenzaError) -> ErrorKind:
    """What a verify report and the dashboard tell apart, each with its own advice."""
    if isinstance(error, TokenEndpointError):
        return error.kind
    if isinstance(error, TransportError | InsecureEndpointError | RedirectRefusedError):
        return "unreachable"
    return "provider"


# Words servers use in error_description for these cases (Keycloak, Hydra, Authlib, Spring,
# the sandbox); RFC 6749 gives all three the one code invalid_client.
_UNKNOWN_CLIENT = (
    "unknown client",
    "client not found",
    "no such client",
    "client_id not found",
    "invalid client id",
    "client does not exist",
    "client not registered",
)
_WRONG_METHOD = (
    "auth method",
    "authentication method",
    "auth_method",
    "client_secret_basic",
    "client_secret_post",
    "no client authentication",
    "basic authorization",
    "authorization header",
    "client credentials not found",
    "missing client credentials",
    "client_secret is missing",
    "missing client_secret",
)


def _kind(code: str | None, status: int, description: str | None) -> ErrorKind:
    text = (description or "").lower()
    if code == "unauthorized_client":
        return "grant_not_allowed"
    if code in ("invalid_scope", "unauthorized_scope", "insufficient_scope"):
        return "scope"
    if code == "invalid_client" or (status == 401 and code in (None, "invalid_request")):
        if any(words in text for words in _UNKNOWN_CLIENT):
            return "unknown_client"
        if any(words in text for words in _WRONG_METHOD):
            return "wrong_auth_method"
        return "wrong_secret"
    if code == "invalid_request" and any(words in text for words in _WRONG_METHOD):
        return "wrong_auth_method"
    return "provider"


def _hint_for(kind: ErrorKind, endpoint: Endpoint, status: int, retry_after: float | None) -> str:
    if kind == "wrong_secret":
        return (
            "check the client secret (credenza secret set APP ENV) and client_id; if both are "
            "right, "
            "try the other --auth-method or Basic encoding (provider edit --basic-encoding)"
        )
    if kind == "wrong_auth_method":
        return (
            "the provider expects the other auth method: set --auth-method client_secret_post "
            "or client_secret_basic on the environment (credenza env edit APP ENV)"
        )
    if kind == "unknown_client":
        return (
            "the provider does not know this client_id: compare it with the provider's portal "
            "and the token URL's environment (sandbox or production)"
        )
    if kind == "grant_not_allowed":
        return (
            "this client may not use this grant (unauthorized_client): enable the grant type for "
            "the application in the provider's portal; the secret is fine"
        )
    if kind == "scope":
        return "ask the provider to grant the scope to this client, or request fewer scopes"
    return _status_hint(endpoint, status, retry_after)


def _status_hint(endpoint: Endpoint, status: int, retry_after: float | None) -> str:
    if status in (429, 503):
        wait = (
            f" (the server asked to wait {_duration(retry_after)})"
            if retry_after is not None
            else ""
        )
        return f"the provider is busy or rate-limiting{wait}; try again later"
    if status >= 500:
        return "the provider had an internal error; try again later or contact the provider"
    if status == 404:
        return f"the {endpoint} URL looks wrong; check it or rediscover it from the issuer"
    if status == 401:
        return "check the client_id, the client secret and the auth method"
    return "check the request settings for this environment"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _provider_code(data: dict[str, Any], sent: Sent) -> str | None:
    for key in ("error_code", "code", "errorCode"):
        value = data.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return clean(value, sent, limit=40) or None
    return None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = parse_json(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _describe_body(headers: Mapping[str, str], body: bytes, sent: Sent, unreadable: str) -> str:
    """An answer that is not an OAuth error, in a few safe words: its type, title or first line."""
    if _looks_html(headers, body):
        title = _TITLE.search(body[:65536])
        if title:
            text = html.unescape(title.group(1).decode("utf-8", "replace"))
            shown = clean(text, sent, limit=100)
            if shown:
                return f"an HTML page titled '{shown}'"
        return "an HTML page"
    content_type = _content_type_of(headers)
    if unreadable and ("json" in content_type or body.lstrip()[:1] in (b"{", b"[")):
        return f"a {content_type} body that is not JSON credenza can read ({unreadable})"
    if content_type.startswith("text/") or content_type == "untyped":
        shown = clean(body[:4096].decode("utf-8", "replace"), sent, limit=100)
        if shown:
            return f"a {content_type} body '{shown}'"
    return f"a {content_type} body"


def _unconfirmed(
    endpoint: Endpoint, url: str, response: _Response, expected: str
) -> RevocationUnconfirmedError:
    what = _describe_body(response.headers, response.body, response.sent, "")
    return RevocationUnconfirmedError(
        f"could not confirm the token was revoked: the {endpoint} endpoint {_show_url(url)} "
        f"answered HTTP {response.status} with {what}, not {expected}",
        hint="the cached copy was dropped; the token may still be live until it expires — check "
        "the endpoint URL (an OpenID end_session page signs browsers out, it revokes nothing)",
    )


def _body_text(body: bytes) -> str:
    return body[:1024].decode("utf-8", "replace").strip()


def _as_requested(token: Token, requested: tuple[str, ...]) -> Token:
    """RFC 6749 §5.1: a response without ``scope`` granted exactly what was requested."""
    if token.scope_omitted and requested:
        return replace(token, scopes=tuple(requested))
    return token


def _metadata(issuer: str, url: str, data: dict[str, Any]) -> ServerMetadata:
    declared = data.get("issuer")
    if not isinstance(declared, str) or declared.rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(
            f"the metadata at {_show_url(url)} is for issuer '{clean(declared, limit=120)}', "
            f"not '{_show_url(issuer)}'",
            hint="RFC 8414 requires them to match; check the issuer URL",
        )
    token_endpoint = data.get("token_endpoint")
    if not isinstance(token_endpoint, str):
        raise DiscoveryError(f"the metadata at {_show_url(url)} has no token_endpoint")

    def optional(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    # end_session_endpoint (OpenID RP-initiated logout) is a page that signs a browser out; it
    # revokes no token, so it is never taken for a logout endpoint. `logout_endpoint` is the
    # sandbox's and Telenor-style servers' GET + Bearer logout.
    found = {
        "token_endpoint": token_endpoint,
        "revocation_endpoint": optional("revocation_endpoint"),
        "introspection_endpoint": optional("introspection_endpoint"),
        "logout_endpoint": optional("logout_endpoint"),
        "authorization_endpoint": optional("authorization_endpoint"),
        "device_authorization_endpoint": optional("device_authorization_endpoint"),
    }
    for key, candidate in found.items():
        if candidate is None:
            continue
        if not is_clean(candidate) or " " in candidate:
            raise DiscoveryError(
                f"the metadata at {_show_url(url)} has a {key} with control characters or "
                f"spaces: '{clean(candidate, limit=120)}'",
                hint="credenza does not use such metadata; set the endpoints by hand",
            )
        check_endpoint(candidate, key.replace("_", " "))
    return ServerMetadata(
        issuer=declared,
        token_endpoint=token_endpoint,
        revocation_endpoint=found["revocation_endpoint"],
        introspection_endpoint=found["introspection_endpoint"],
        logout_endpoint=found["logout_endpoint"],
        source=url,
        authorization_endpoint=found["authorization_endpoint"],
        device_authorization_endpoint=found["device_authorization_endpoint"],
        authorization_response_iss=data.get("authorization_response_iss_parameter_supported")
        is True,
    )


def _connect_error(url: str, exc: httpx.ConnectError) -> TransportError:
    import socket

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TransportError(
                f"the TLS certificate of {_host(url)} is not trusted "
                f"({clean(cause.verify_message, limit=120)})",
                hint="if the provider uses a private CA, set ca_bundle under [settings]; "
                "credenza never turns verification off",
            )
        if isinstance(cause, ssl.SSLError):
            return TransportError(
                f"TLS with {_host(url)} failed ({clean(cause.reason, limit=120)})"
            )
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
        f"cannot connect to {_host(url)} ({clean(exc, limit=120)})",
        hint="check the URL, your network, a VPN or a firewall",
    )


def _host(url: str) -> str:
    """The host (and port) of a URL for a message: never its user-info, always cleaned."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] if parts.netloc else url
    return clean(host, limit=120)


def _show_url(url: str) -> str:
    """A URL for a message: without user-info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return clean(url, limit=120)
    return clean(f"{parts.scheme}://{_host(url)}{parts.path}", limit=160)


def _redirect_target(response: httpx.Response, sent: Sent) -> str:
    location = response.headers.get("location", "")
    parts = urlsplit(location)
    target = (
        f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        if parts.netloc
        else (parts.path or "?")
    )
    return clean(target, sent, limit=160)


def _content_type(response: _Response) -> str:
    return _content_type_of(response.headers)


def _content_type_of(headers: Mapping[str, str]) -> str:
    value = headers.get("content-type", "untyped").split(";")[0].strip() or "untyped"
    return clean(value, limit=60)


def _looks_html(headers: Mapping[str, str], body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in _content_type_of(headers).lower() or head.startswith(
        (b"<!doctype html", b"<html")
    )
