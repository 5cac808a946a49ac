"""What both HTTP engines share, sync or async: the network defaults, one pool per TLS identity,
a CA bundle or the system's, no redirects, a cap on the decoded body, ``localhost`` connected to
as 127.0.0.1, the request's headers and body as they go out, and what a failure means in one line.

``plan.py`` decides what to send and what an answer means; the drivers (``client.py`` on httpx,
``sync_client.py`` on the standard library's http.client, or httpx when given a transport)
perform its attempts with what is built here. httpx is imported only by the functions that
build or read its objects: a one-shot `credenza token` never imports it (~60 ms with httpcore).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlencode, urlsplit

from credenza.errors import (
    CredenzaError,
    InvalidResponseError,
    RedirectRefusedError,
    TransportError,
)
from credenza.oauth.answers import host_of, redirect_target
from credenza.oauth.ca import ca_context
from credenza.oauth.decoding import (
    ACCEPT_ENCODING,
    BodyTooLargeError,
    CappedDecoder,
    UndecodableBodyError,
)
from credenza.oauth.origins import LOOPBACK_LITERAL
from credenza.oauth.untrusted import Sent, clean

if TYPE_CHECKING:
    import httpx

    from credenza.oauth.plan import Attempt

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


# (identity key, how to build its TLS context): built only when the identity has no pool yet.
TlsIdentity = tuple[str, Callable[[], "ssl.SSLContext | None"]]


def literal_loopback(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str], str | None]:
    """RFC 8252 §8.3: ``localhost`` is connected to as 127.0.0.1, never looked up (a resolver
    may answer anything for it); the Host header, and for https the SNI name the certificate
    is checked against (the third value), stay ``localhost``. Every request of every driver is
    built here."""
    parts = urlsplit(url)
    if parts.hostname != "localhost":
        return url, headers, None
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = "localhost" if port is None or port == default else f"localhost:{port}"
    literal = LOOPBACK_LITERAL if port is None or port == default else f"{LOOPBACK_LITERAL}:{port}"
    headers = {**headers, "Host": netloc}
    sni = "localhost" if parts.scheme == "https" else None
    return parts._replace(netloc=literal).geturl(), headers, sni


class Headers(Mapping[str, str]):
    """Header fields as httpx gives them: names lower-cased, a repeated field's values joined
    with ", " (``multi_items`` keeps them apart), looked up by any case."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = [(name.lower(), value) for name, value in items]
        joined: dict[str, str] = {}
        for name, value in self._items:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)


def outgoing_headers(
    url: str, headers: Mapping[str, str], body: bytes | None, *, form: bool, method: str
) -> list[tuple[str, str]]:
    """The header fields a request goes out with, in httpx's order and with its defaults, so
    both engines send (and --verbose shows) the same request: Host (unless given), the client's
    defaults (less those the request gives), the request's own, then Content-Length and,
    for a form, its Content-Type."""
    fields: list[tuple[str, str]] = []
    if not any(name.lower() == "host" for name in headers):
        parts = urlsplit(url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
        fields.append(("Host", host if port is None or port == default else f"{host}:{port}"))
    fields += [
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
        ("User-Agent", "credenza"),
        ("Accept-Encoding", ACCEPT_ENCODING),
    ]
    given_names = {name.lower() for name in headers}
    fields = [(name, value) for name, value in fields if name.lower() not in given_names]
    fields += list(headers.items())
    given = {name.lower() for name, _ in fields}
    sized = "content-length" in given or "transfer-encoding" in given
    if (body is not None or method in ("POST", "PUT", "PATCH")) and not sized:
        fields.append(("Content-Length", str(len(body or b""))))
    if form and "content-type" not in given:
        fields.append(("Content-Type", "application/x-www-form-urlencoded"))
    return fields


def form_body(form: Mapping[str, str]) -> bytes:
    """A form as httpx encodes it (application/x-www-form-urlencoded, spaces as +)."""
    return urlencode(form, doseq=True).encode("ascii")


def httpx_request(
    client: httpx.Client | httpx.AsyncClient, attempt: Attempt, settings: HttpSettings
) -> httpx.Request:
    """``attempt`` as an httpx request (the async driver's, and the sync one's on httpx)."""
    import httpx

    url, headers, sni = literal_loopback(attempt.url, attempt.headers)
    connect, read = attempt.timeouts(settings)
    return client.build_request(
        attempt.method,
        url,
        headers=headers,
        data=attempt.form,
        content=attempt.content,
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
        extensions={"sni_hostname": sni} if sni else {},
    )


class DeadlineReached(Exception):
    """A driver saw the overall deadline pass during an attempt; the plan says what that means."""


class ConnectFailure(TransportError):
    """Nothing was sent: safe to retry."""


class BodyReader:
    """Reads an answer's raw chunks: decoded as they arrive, so the cap holds for what the body
    inflates to, and checked against the overall deadline after every chunk."""

    def __init__(
        self, url: str, ends_at: float, headers: Mapping[str, str], limit: int, *, api: bool
    ) -> None:
        self._url = url
        self._ends_at = ends_at
        self._api = api
        self._limit = limit
        self._size = 0
        try:
            self._decoder = CappedDecoder(headers.get("content-encoding"), limit)
        except UndecodableBodyError as why:
            raise _undecodable(url, why) from None

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        try:
            if self._size > self._limit:
                raise BodyTooLargeError
            self._decoder.feed(chunk)
        except BodyTooLargeError:
            raise _too_large(self._url, self._limit, self._api) from None
        except UndecodableBodyError as why:
            raise _undecodable(self._url, why) from None
        if time.monotonic() >= self._ends_at:
            raise DeadlineReached

    def finish(self) -> bytes:
        try:
            return self._decoder.finish()
        except BodyTooLargeError:
            raise _too_large(self._url, self._limit, self._api) from None
        except UndecodableBodyError as why:
            raise _undecodable(self._url, why) from None


def refuse_redirect(url: str, sent: Sent, status: int, headers: Mapping[str, str]) -> None:
    """Credentials never follow a redirect: a 3xx with a Location ends the call."""
    if status in (301, 302, 303, 307, 308) and "location" in headers:
        raise RedirectRefusedError(
            f"{host_of(url)} answered with a redirect (HTTP {status}) to "
            f"{redirect_target(headers, sent)}; credenza never follows redirects "
            "with credentials",
            hint="set the endpoint to the final URL if you trust it",
        )


def transport_failure(
    exc: httpx.HTTPError, url: str, ends_at: float, settings: HttpSettings
) -> CredenzaError | DeadlineReached:
    """What an httpx failure during an attempt on ``url`` (due by ``ends_at``, a
    time.monotonic()) means, in one line without secrets."""
    import httpx

    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= ends_at:
        return DeadlineReached()  # a timeout shortened to the time left: the deadline's
    if isinstance(exc, httpx.ConnectTimeout):
        return connect_timeout(url, settings)
    if isinstance(exc, httpx.ConnectError):
        return connect_error(url, exc)
    if isinstance(exc, httpx.ReadTimeout):
        return read_timeout(url, settings)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return dropped(url, type(exc).__name__)
    if isinstance(exc, httpx.DecodingError):
        return InvalidResponseError(f"{host_of(url)} sent a body that cannot be decoded")
    return TransportError(f"the call to {host_of(url)} failed: {type(exc).__name__}")


def connect_timeout(url: str, settings: HttpSettings) -> ConnectFailure:
    return ConnectFailure(
        f"cannot connect to {host_of(url)}: no answer within {settings.connect_timeout:g} s",
        hint="check the URL, your network, a VPN or a proxy",
    )


def read_timeout(url: str, settings: HttpSettings) -> TransportError:
    return TransportError(
        f"{host_of(url)} accepted the connection but sent nothing for {settings.read_timeout:g} s",
        hint="the provider may be down; try again later",
    )


def dropped(url: str, how: str) -> TransportError:
    """The connection ended mid-exchange; ``how`` names it as httpx does (RemoteProtocolError,
    ReadError, WriteError), whichever engine saw it."""
    return TransportError(
        f"{host_of(url)} dropped the connection ({how})",
        hint="the provider may be restarting; try again",
    )


def client_options(
    settings: HttpSettings, verify: ssl.SSLContext | bool, transport: Any
) -> dict[str, Any]:
    """What every httpx client credenza makes is built with, sync or async."""
    import httpx

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
    """What one driver makes per TLS identity (httpx clients, the async client's lanes, or the
    stdlib driver's SSL contexts): the default one, one for loopback http:// that never loads
    CA certificates, and one per client certificate (it is part of the connection)."""

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


def _too_large(url: str, limit: int, api: bool) -> TransportError:
    return TransportError(
        f"{host_of(url)} sent more than {limit // 1024} KiB; the answer was cut off",
        hint="ask the API for less (a page at a time)"
        if api
        else "the URL probably does not point at an OAuth endpoint",
    )


def _undecodable(url: str, why: UndecodableBodyError) -> InvalidResponseError:
    return InvalidResponseError(
        f"{host_of(url)} sent a body credenza will not decode: {why}",
        hint="the URL probably does not point at an OAuth endpoint",
    )


def connect_error(url: str, exc: BaseException) -> TransportError:
    """A connection that could not be made, read from the cause chain (TLS, refused, DNS)."""
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
