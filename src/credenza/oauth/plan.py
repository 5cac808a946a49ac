"""The OAuth client without I/O: every call as a plan of attempts and pauses, run by two drivers.

A plan (a generator) yields an ``Attempt`` (send one request, read its capped answer) or a
``Pause`` (wait before the next try) and is sent back the ``Answer``, or has the attempt's error
thrown in. ``client.OAuthClient`` runs plans on asyncio (the dashboard, `verify --all`);
``sync_client.SyncOAuthClient`` runs the same plans blocking, for one-shot CLI calls that should
not pay for importing asyncio and anyio. So each protocol decision has one implementation: the
request and its client authentication, which failures are retried and how long to wait, the
overall deadline, the body cap, and how an answer or a failure reads.

Every call is bounded (connect and read timeouts plus an overall deadline, and a cap on the
decoded body while it streams), never follows a redirect, refuses plain http except to loopback,
and retries only transient failures (connection errors, 429/503) with bounded, jittered
exponential backoff.
"""

from __future__ import annotations

import math
import random
import ssl
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx

from credenza.errors import (
    CredenzaError,
    DiscoveryError,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
    TokenEndpointError,
    TransportError,
)
from credenza.oauth.answers import (
    Answer,
    Endpoint,
    ServerMetadata,
    as_requested,
    body_text,
    check_endpoint,
    content_type,
    endpoint_error,
    host_of,
    json_object,
    looks_html,
    metadata_from,
    redirect_target,
    show_url,
    unconfirmed,
)
from credenza.oauth.auth import OutgoingRequest, method_for
from credenza.oauth.binding.dpop import DpopKey, usable_nonce
from credenza.oauth.ca import ca_context
from credenza.oauth.decoding import (
    ACCEPT_ENCODING,
    BodyTooLargeError,
    CappedDecoder,
    UndecodableBodyError,
)
from credenza.oauth.exchange import PERSONAL_SECRETS, SECRET_FIELDS, Exchange
from credenza.oauth.grants import client_credentials, refresh
from credenza.oauth.origins import LOOPBACK_LITERAL, is_loopback
from credenza.oauth.params import check_extra_params
from credenza.oauth.tokens import Token, parse_token_response
from credenza.oauth.untrusted import NOTHING, Sent, clean, parse_json
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True)
class HttpSettings:
    """Every network default, explicit."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_body_bytes: int = 1024 * 1024
    # An API's answer (`credenza api`): what the user asked for, so a larger cap of its own.
    max_api_body_bytes: int = 16 * 1024 * 1024
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
    # RFC 9449: the environment's DPoP key; every token request then carries a proof.
    dpop: DpopKey | None = None


# (identity key, how to build its TLS context): built only when the identity has no pool yet.
TlsIdentity = tuple[str, Callable[[], "ssl.SSLContext | None"]]


@dataclass(frozen=True)
class Attempt:
    """Send one request and read its answer, all before ``ends_at`` (time.monotonic())."""

    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str] | None
    sent: Sent
    tls: TlsIdentity | None
    ends_at: float
    # A body other than a form, sent as it is instead of ``form``: a provider's admin API,
    # RFC 7591's JSON client metadata, an API call's -d or --input; and a cap of its own for
    # the answer (an API's body is what was asked for, larger than any OAuth answer).
    content: bytes | None = None
    max_body: int | None = None

    def timeout(self, settings: HttpSettings) -> httpx.Timeout:
        """The configured timeouts, none reaching past the overall deadline."""
        left = max(0.001, self.ends_at - time.monotonic())
        connect, read = min(settings.connect_timeout, left), min(settings.read_timeout, left)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def request(
        self, client: httpx.Client | httpx.AsyncClient, settings: HttpSettings
    ) -> httpx.Request:
        url, headers, extensions = literal_loopback(httpx.URL(self.url), self.headers)
        return client.build_request(
            self.method,
            url,
            headers=headers,
            data=self.form,
            content=self.content,
            timeout=self.timeout(settings),
            extensions=extensions,
        )

    def reader(self, response: httpx.Response, settings: HttpSettings) -> BodyReader:
        """What reads the body of ``response``; a redirect is refused before any of it is read."""
        refuse_redirect(self, response.status_code, response.headers)
        return BodyReader(self, response.headers, self.max_body or settings.max_body_bytes)

    def answer(self, response: httpx.Response, body: bytes) -> Answer:
        return Answer(
            response.status_code, response.headers, body, self.sent, response.request.headers
        )


def literal_loopback(
    url: httpx.URL, headers: dict[str, str]
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """RFC 8252 §8.3: ``localhost`` is connected to as 127.0.0.1, never looked up (a resolver
    may answer anything for it); the Host header, and for https the SNI name the certificate
    is checked against, stay ``localhost``. Every request of both drivers is built here."""
    if url.host != "localhost":
        return url, headers, {}
    headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions: dict[str, Any] = {"sni_hostname": "localhost"} if url.scheme == "https" else {}
    return url.copy_with(host=LOOPBACK_LITERAL), headers, extensions


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next attempt (always less than the time left)."""

    seconds: float


Action = Attempt | Pause
Plan = Generator[Action, Answer | None, T]


class DeadlineReached(Exception):
    """A driver saw the overall deadline pass during an attempt; the plan says what that means."""


class ConnectFailure(TransportError):
    """Nothing was sent: safe to retry."""


class Run(Generic[T]):
    """One plan being driven: the driver performs each action and reports how it went."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self._reply: Answer | None = None
        self._failure: BaseException | None = None
        self.result: T

    def next(self) -> Action | None:
        """The next action, or None when the plan is done (``result`` then holds its value)."""
        reply, failure = self._reply, self._failure
        self._reply = self._failure = None
        try:
            return self._plan.send(reply) if failure is None else self._plan.throw(failure)
        except StopIteration as done:
            self.result = done.value
            return None

    def answered(self, reply: Answer | None) -> None:
        self._reply = reply

    def failed(self, failure: CredenzaError | DeadlineReached) -> None:
        self._failure = failure


class BodyReader:
    """Reads an answer's raw chunks: decoded as they arrive, so the cap holds for what the body
    inflates to, and checked against the overall deadline after every chunk."""

    def __init__(self, attempt: Attempt, headers: Mapping[str, str], limit: int) -> None:
        self._attempt = attempt
        self._limit = limit
        self._size = 0
        try:
            self._decoder = CappedDecoder(headers.get("content-encoding"), limit)
        except UndecodableBodyError as why:
            raise _undecodable(attempt.url, why) from None

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        try:
            if self._size > self._limit:
                raise BodyTooLargeError
            self._decoder.feed(chunk)
        except BodyTooLargeError:
            raise _too_large(self._attempt, self._limit) from None
        except UndecodableBodyError as why:
            raise _undecodable(self._attempt.url, why) from None
        if time.monotonic() >= self._attempt.ends_at:
            raise DeadlineReached

    def finish(self) -> bytes:
        try:
            return self._decoder.finish()
        except BodyTooLargeError:
            raise _too_large(self._attempt, self._limit) from None
        except UndecodableBodyError as why:
            raise _undecodable(self._attempt.url, why) from None


def refuse_redirect(attempt: Attempt, status: int, headers: Mapping[str, str]) -> None:
    """Credentials never follow a redirect: a 3xx with a Location ends the call."""
    if status in (301, 302, 303, 307, 308) and "location" in headers:
        raise RedirectRefusedError(
            f"{host_of(attempt.url)} answered with a redirect (HTTP {status}) to "
            f"{redirect_target(headers, attempt.sent)}; credenza never follows redirects "
            "with credentials",
            hint="set the endpoint to the final URL if you trust it",
        )


def transport_failure(
    exc: httpx.HTTPError, attempt: Attempt, settings: HttpSettings
) -> CredenzaError | DeadlineReached:
    """What an httpx failure during an attempt means, in one line without secrets."""
    url = attempt.url
    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= attempt.ends_at:
        return DeadlineReached()  # a timeout shortened to the time left: the deadline's
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectFailure(
            f"cannot connect to {host_of(url)}: no answer within {settings.connect_timeout:g} s",
            hint="check the URL, your network, a VPN or a proxy",
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_error(url, exc)
    if isinstance(exc, httpx.ReadTimeout):
        return TransportError(
            f"{host_of(url)} accepted the connection but sent nothing for "
            f"{settings.read_timeout:g} s",
            hint="the provider may be down; try again later",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return TransportError(
            f"{host_of(url)} dropped the connection ({type(exc).__name__})",
            hint="the provider may be restarting; try again",
        )
    if isinstance(exc, httpx.DecodingError):
        return InvalidResponseError(f"{host_of(url)} sent a body that cannot be decoded")
    return TransportError(f"the call to {host_of(url)} failed: {type(exc).__name__}")


def client_options(
    settings: HttpSettings, verify: ssl.SSLContext | bool, transport: Any
) -> dict[str, Any]:
    """What every httpx client credenza makes is built with, sync or async."""
    return {
        "timeout": httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        "follow_redirects": False,
        "verify": verify,
        "trust_env": False,
        "transport": transport,
        "headers": {"User-Agent": "credenza", "Accept-Encoding": ACCEPT_ENCODING},
    }


class Pools(Generic[C]):
    """The httpx clients of one driver: the default one, one for loopback http:// that never
    loads CA certificates, and one per client certificate (it is part of the connection)."""

    def __init__(self, settings: HttpSettings, make: Callable[[ssl.SSLContext | bool], C]) -> None:
        self._settings = settings
        self._make = make
        self._default: C | None = None
        self._plain: C | None = None
        self._tls: dict[str, C] = {}

    def get(self, tls: TlsIdentity | None = None, *, plain: bool = False) -> C:
        if tls is not None:
            key, context = tls
            if key not in self._tls:
                made = context()
                self._tls[key] = self._make(True if made is None else made)
            return self._tls[key]
        if plain:
            # http:// (loopback only, check_endpoint made sure) never does TLS, so loading the
            # system's CA certificates would be 17 ms of a one-shot `credenza token` for
            # nothing. This client only ever gets http:// URLs, and its context trusts no CA:
            # should an https:// URL ever reach it, verification fails instead of passing.
            if self._plain is None:
                self._plain = self._make(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
            return self._plain
        if self._default is None:
            ca_bundle = self._settings.ca_bundle
            self._default = self._make(ca_context(ca_bundle) if ca_bundle else True)
        return self._default

    def drain(self) -> list[C]:
        """Every client made so far, forgotten here (the caller closes them)."""
        made = [c for c in (self._default, self._plain) if c is not None] + list(self._tls.values())
        self._default = self._plain = None
        self._tls = {}
        return made


class ClientProtocol:
    """The calls of the OAuth client as plans; a driver subclass runs them."""

    def __init__(
        self, settings: HttpSettings | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings or HttpSettings()
        self.clock = clock or (lambda: datetime.now(UTC))
        # `--verbose`: told of every exchange (each attempt), masked by the observer's printing.
        self.observer: Callable[[Exchange], None] | None = None
        # RFC 9449 §8, §9: the last DPoP nonce each server gave, by ("token" | "api", origin).
        self.dpop_nonces: dict[tuple[str, str], str] = {}

    def dpop_nonce(self, kind: str, url: str, answer: Answer | None = None) -> str | None:
        """The nonce to put in the next proof for ``url``; ``answer``'s DPoP-Nonce first kept."""
        from credenza.oauth.origins import origin_of

        key = (kind, origin_of(url))
        if answer is not None and (given := usable_nonce(answer.headers.get("dpop-nonce"))):
            self.dpop_nonces[key] = given
        return self.dpop_nonces.get(key)

    # -- grants --------------------------------------------------------------------------------

    def plan_fetch_token(self, credentials: ClientCredentials) -> Plan[Token]:
        """client_credentials grant (RFC 6749 §4.4)."""
        return self.plan_request_token(credentials, client_credentials.form(credentials))

    def plan_refresh(self, credentials: ClientCredentials, refresh_token: Secret) -> Plan[Token]:
        """refresh_token grant (RFC 6749 §6); the caller keeps a rotated refresh_token."""
        form = refresh.form(credentials, refresh_token)
        token = yield from self.plan_request_token(credentials, form)
        return refresh.keep_refresh_token(token, refresh_token)

    def plan_request_token(
        self, credentials: ClientCredentials, form: dict[str, str]
    ) -> Plan[Token]:
        """A token request with the form a grant built (oauth/grants/), client-authenticated.

        A response without ``scope`` granted what was requested (RFC 6749 §5.1)."""
        url = credentials.token_url
        if credentials.resource and "resource" not in form:
            # RFC 8707 §2.2: the resource on every token request, refresh and code exchange too.
            form = {**form, "resource": credentials.resource}
        answer = yield from self._plan_call("token", url, credentials, form=form)
        if answer.status != 200:
            raise endpoint_error("token", url, *_parts(answer), credentials.profile, answer.sent)
        try:
            body = parse_json(answer.body)
        except ValueError as why:
            raise InvalidResponseError(
                f"the token endpoint {show_url(url)} answered 200 with something that is not "
                f"JSON credenza can read ({content_type(answer)}: {why})",
                hint="check that the token URL is the provider's token endpoint",
            ) from None
        token = parse_token_response(body, issued_at=self.clock(), sent=answer.sent)
        requested = tuple(form["scope"].split()) if form.get("scope") else credentials.scopes
        return as_requested(token, requested)

    # -- other endpoints -----------------------------------------------------------------------

    def plan_post_form(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, form: dict[str, str]
    ) -> Plan[dict[str, Any]]:
        """A client-authenticated POST whose 200 answer is a JSON object (RFC 8628 §3.1)."""
        answer = yield from self._plan_call(endpoint, url, credentials, form=form)
        if answer.status != 200:
            raise endpoint_error(endpoint, url, *_parts(answer), credentials.profile, answer.sent)
        data = json_object(answer.body)
        if data is None:
            raise InvalidResponseError(
                f"the {endpoint.replace('_', ' ')} endpoint {show_url(url)} did not answer with "
                "a JSON object"
            )
        return data

    def plan_revoke(
        self, credentials: ClientCredentials, url: str, token: Secret, hint: str = "access_token"
    ) -> Plan[None]:
        """RFC 7009 revocation with client authentication.

        Only the spec's answer confirms it: 200 (also for a token the server does not know). An
        HTML page (a login or error page served with 200) or any other 2xx raises
        RevocationUnconfirmedError; the caller drops its cached copy either way.
        """
        form = {"token": token.reveal(), "token_type_hint": hint}
        answer = yield from self._plan_call("revocation", url, credentials, form=form)
        if answer.status == 200 and not looks_html(answer.headers, answer.body):
            return
        if 200 <= answer.status < 300:
            raise unconfirmed("revocation", url, answer, "HTTP 200 (RFC 7009)")
        raise endpoint_error("revocation", url, *_parts(answer), credentials.profile, answer.sent)

    def plan_logout(self, url: str, token: Secret, profile: Profile = GENERIC) -> Plan[None]:
        """Logout by GET with a Bearer header, confirmed only by the profile's answer
        (Telenor: 200 with ``OK!``); anything else raises RevocationUnconfirmedError."""
        check_endpoint(url, "logout endpoint")
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        sent = Sent(token.reveal(), headers["Authorization"])
        answer = yield from self.plan_exchange("logout", "GET", url, headers=headers, sent=sent)
        if answer.status == 200 and body_text(answer.body) == profile.logout_answer:
            return
        if 200 <= answer.status < 300:
            raise unconfirmed("logout", url, answer, f"HTTP 200 {profile.logout_answer!r}")
        raise endpoint_error("logout", url, *_parts(answer), profile, answer.sent)

    def plan_introspect(
        self, credentials: ClientCredentials, url: str, token: Secret
    ) -> Plan[dict[str, Any]]:
        """RFC 7662 introspection, authenticated as the client.

        The answer is returned as the server sent it: show it only through ``untrusted.clean``
        and ``tokens.claim_time``.
        """
        form = {"token": token.reveal(), "token_type_hint": "access_token"}
        answer = yield from self._plan_call("introspection", url, credentials, form=form)
        if answer.status != 200:
            raise endpoint_error(
                "introspection", url, *_parts(answer), credentials.profile, answer.sent
            )
        data = json_object(answer.body)
        if data is None or not isinstance(data.get("active"), bool):
            raise InvalidResponseError(
                f"the introspection endpoint {show_url(url)} did not answer with an RFC 7662 object"
            )
        return data

    def plan_discover(self, issuer: str) -> Plan[ServerMetadata]:
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
                answer = yield from self.plan_exchange("discovery", "GET", url, headers={})
            except RedirectRefusedError:
                failures.append(f"{url}: redirect")
                continue
            if answer.status != 200:
                failures.append(f"{url}: HTTP {answer.status}")
                continue
            data = json_object(answer.body)
            if data is None:
                failures.append(f"{url}: not JSON")
                continue
            return metadata_from(issuer, url, data)
        raise DiscoveryError(
            f"no authorization-server metadata found for issuer {show_url(issuer)}",
            hint="check the issuer URL, or give --token-url instead ("
            + clean("; ".join(failures), limit=400)
            + ")",
        )

    def plan_get_json(self, endpoint: Endpoint, url: str) -> Plan[dict[str, Any]]:
        """A GET without credentials whose 200 answer is a JSON object (a JWK Set)."""
        what = f"{endpoint.replace('_', ' ')} URL"
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.hostname and not is_loopback(parts.hostname):
            # What comes back is trusted (signing keys): it must not cross a wire in the clear.
            raise InsecureEndpointError(
                f"refusing to fetch the {what} {show_url(url)} over plain http",
                hint="only https (or plain http to loopback) is trusted for this",
            )
        check_endpoint(url, what)
        headers = {"Accept": "application/json"}
        answer = yield from self.plan_exchange(endpoint, "GET", url, headers=headers)
        if answer.status != 200:
            raise InvalidResponseError(
                f"the {what} {show_url(url)} answered HTTP {answer.status}",
                hint="check the provider's discovery metadata, or try again later",
            )
        data = json_object(answer.body)
        if data is None:
            raise InvalidResponseError(f"the {what} {show_url(url)} did not answer with JSON")
        return data

    def plan_probe(self, url: str) -> Plan[Answer]:
        """A HEAD without credentials (`credenza doctor`): is the endpoint there, and what time
        does its ``Date`` header say. Any status is an answer; a redirect is refused as always."""
        check_endpoint(url, "token endpoint")
        return (yield from self.plan_exchange("token", "HEAD", url, headers={}))

    def plan_admin(
        self, method: str, url: str, token: Secret, body: dict[str, Any] | None = None
    ) -> Plan[Any]:
        """A call to a provider's admin API with its Bearer admin token (SECURITY.md promise
        33): the same deadline, body cap, redirect refusal and TLS settings as every OAuth call,
        and an error that echoes the token (or anything else sent) shows none of it."""
        import json

        check_endpoint(url, "admin URL")
        headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        sent = Sent(token.reveal(), headers["Authorization"])
        answer = yield from self.plan_exchange(
            "admin", method, url, headers=headers, sent=sent, content=content
        )
        if answer.status >= 400:
            raise endpoint_error("admin", url, *_parts(answer), GENERIC, answer.sent)
        if not answer.body.strip():
            return None
        try:
            return parse_json(answer.body)
        except ValueError as why:
            raise InvalidResponseError(
                f"the admin endpoint {show_url(url)} answered HTTP {answer.status} with "
                f"something that is not JSON credenza can read ({content_type(answer)}: {why})",
                hint="check the provider's admin URL",
            ) from None

    # -- one call: the request, its retries and its deadline ------------------------------------

    def _plan_call(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, *, form: dict[str, str]
    ) -> Plan[Answer]:
        check_endpoint(url, f"{endpoint} endpoint")
        # A config edited by hand gets the same refusal as --param: extra parameters never
        # replace what the grant itself sends, and never carry a secret.
        check_extra_params(credentials.extra_params)
        dpop = credentials.dpop if endpoint == "token" else None
        nonce = self.dpop_nonce("token", url) if dpop is not None else None
        for attempt in (1, 2):
            answer: Answer = yield from self._plan_one_call(endpoint, url, credentials, form, nonce)
            if dpop is None:
                return answer
            given = self.dpop_nonce("token", url, answer)
            # RFC 9449 §8: a server that wants a nonce says use_dpop_nonce and gives one; the
            # request is made once more with it (and a new proof), never more.
            if attempt == 1 and answer.status in (400, 401) and given and given != nonce:
                data = json_object(answer.body) if answer.status == 400 else None
                if data is not None and data.get("error") == "use_dpop_nonce":
                    nonce = given
                    continue
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan_one_call(
        self,
        endpoint: Endpoint,
        url: str,
        credentials: ClientCredentials,
        form: dict[str, str],
        nonce: str | None,
    ) -> Plan[Answer]:
        method = method_for(credentials.auth_method)
        request = OutgoingRequest(url, dict(form), {"Accept": "application/json"})
        method.apply(credentials, request, self.clock())
        proof = None
        if endpoint == "token" and credentials.dpop is not None:
            proof = credentials.dpop.proof("POST", url, self.clock(), nonce=nonce)
            request.headers["DPoP"] = proof
        tls: TlsIdentity | None = None
        if (identity := method.tls_identity(credentials)) is not None:
            tls = (identity, lambda: method.ssl_context(credentials, self.settings.ca_bundle))
        authorization = request.headers.get("Authorization", "")
        # Form fields whose values are credentials: an echo of any of them is redacted (the
        # same list --verbose masks, in one place).
        sent = Sent(
            credentials.secret.reveal(),
            authorization,
            authorization.partition(" ")[2],
            proof,
            *(value for key, value in request.form.items() if key in SECRET_FIELDS),
            always=(value for key, value in request.form.items() if key in PERSONAL_SECRETS),
        )
        return (
            yield from self.plan_exchange(
                endpoint,
                "POST",
                url,
                headers=request.headers,
                form=request.form,
                profile=credentials.profile,
                sent=sent,
                tls=tls,
                basic_encoding=credentials.basic_auth_encoding,
            )
        )

    def plan_exchange(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        form: dict[str, str] | None = None,
        profile: Profile = GENERIC,
        sent: Sent = NOTHING,
        tls: TlsIdentity | None = None,
        content: bytes | None = None,
        basic_encoding: str = "rfc6749",
    ) -> Plan[Answer]:
        """One call with retries on transient failures, all inside one overall deadline."""
        settings = self.settings
        ends_at = time.monotonic() + settings.deadline
        attempts = max(1, settings.retry_attempts)
        number = 0
        while True:
            number += 1
            try:
                reply = yield Attempt(method, url, headers, form, sent, tls, ends_at, content)
                assert reply is not None
                if self.observer is not None:
                    self.observer(
                        Exchange(
                            method,
                            url,
                            dict(reply.request_headers or headers),
                            form,
                            reply.status,
                            dict(reply.headers),
                            reply.body,
                            sent,
                            basic_encoding,
                        )
                    )
                if reply.status in (429, 503):
                    raise endpoint_error(endpoint, url, *_parts(reply), profile, sent)
                return reply
            except DeadlineReached:
                raise _deadline_error(url, settings, None) from None
            except CredenzaError as error:
                wait = self._backoff(error, ends_at - time.monotonic())
                if wait is False or number >= attempts:
                    raise
                if wait is True:
                    wait = _jittered(number, settings)
                if time.monotonic() + wait >= ends_at:
                    # The wait would outlast the deadline: a busy answer is the server's "come
                    # back later", anything else a server too slow to answer.
                    busy = error if isinstance(error, TokenEndpointError) else None
                    raise _deadline_error(url, settings, busy) from None
            yield Pause(wait)

    def _backoff(self, error: Exception, remaining: float = math.inf) -> bool | float:
        """Which failures are transient, and how long to wait before the next try (True: the
        jittered exponential backoff).

        A server asking for longer than the time left (``Retry-After: 100000``) gets its answer
        at once, not a wait that ends in a timeout.
        """
        if isinstance(error, ConnectFailure):
            return True
        if isinstance(error, TokenEndpointError) and error.status in (429, 503):
            if error.retry_after is None:
                return True
            if error.retry_after > remaining:
                return False
            return min(error.retry_after, self.settings.retry_after_cap)
        return False


def _jittered(number: int, settings: HttpSettings) -> float:
    """Exponential backoff for retry ``number`` (1-based), plus up to ``wait_jitter`` of random
    jitter, never more than ``wait_max`` (zero in tests: retries are counted, never waited for)."""
    jitter = random.uniform(0, settings.wait_jitter) if settings.wait_jitter else 0.0  # noqa: S311
    try:
        return min(settings.wait_max, settings.wait_initial * 2.0 ** (number - 1) + jitter)
    except OverflowError:
        return settings.wait_max


def _deadline_error(
    url: str, settings: HttpSettings, busy: TokenEndpointError | None
) -> TransportError:
    if busy is not None:
        return TransportError(
            f"{host_of(url)} was still busy (HTTP {busy.status}) when the "
            f"{settings.deadline:g} s deadline ran out",
            hint="the provider is rate-limiting or down; try again later",
        )
    return TransportError(
        f"{host_of(url)} did not finish answering within the {settings.deadline:g} s deadline",
        hint="the server is too slow or dripping its answer; try again later, or raise "
        "deadline under [settings]",
    )


def _parts(answer: Answer) -> tuple[int, Mapping[str, str], bytes]:
    return answer.status, answer.headers, answer.body


def _too_large(attempt: Attempt, limit: int) -> TransportError:
    return TransportError(
        f"{host_of(attempt.url)} sent more than {limit // 1024} KiB; the answer was cut off",
        hint="ask the API for less (a page at a time)"
        if attempt.max_body is not None
        else "the URL probably does not point at an OAuth endpoint",
    )


def _undecodable(url: str, why: UndecodableBodyError) -> InvalidResponseError:
    return InvalidResponseError(
        f"{host_of(url)} sent a body credenza will not decode: {why}",
        hint="the URL probably does not point at an OAuth endpoint",
    )


def _connect_error(url: str, exc: httpx.ConnectError) -> TransportError:
    import socket

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TransportError(
                f"the TLS certificate of {host_of(url)} is not trusted "
                f"({clean(cause.verify_message, limit=120)})",
                hint="if the provider uses a private CA, set ca_bundle under [settings]; "
                "credenza never turns verification off",
            )
        if isinstance(cause, ssl.SSLError):
            return TransportError(
                f"TLS with {host_of(url)} failed ({clean(cause.reason, limit=120)})"
            )
        if isinstance(cause, ConnectionRefusedError):
            return ConnectFailure(
                f"cannot connect to {host_of(url)}: connection refused",
                hint="nothing is listening there; check the URL and that the server is up",
            )
        if isinstance(cause, socket.gaierror):
            return ConnectFailure(
                f"cannot resolve {host_of(url)}",
                hint="check the host name, your DNS, VPN or network",
            )
        cause = cause.__cause__ or cause.__context__
    return ConnectFailure(
        f"cannot connect to {host_of(url)} ({clean(exc, limit=120)})",
        hint="check the URL, your network, a VPN or a firewall",
    )
