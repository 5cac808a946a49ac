"""What every httpx client credenza makes is built with, sync or async: the network defaults,
one pool per TLS identity, a CA bundle or the system's, no redirects, a cap on the decoded body,
``localhost`` connected to as 127.0.0.1, and what an httpx failure means in one line.

``plan.py`` decides what to send and what an answer means; the two drivers (``client.py``,
``sync_client.py``) perform its attempts with what is built here.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

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
    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= ends_at:
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
