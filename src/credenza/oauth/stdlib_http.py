"""The blocking driver's engine on the standard library (http.client): one attempt, one connection.

What httpx gives the async driver, kept here: TLS verified against the config's ca_bundle or
certifi's roots (as httpx with trust_env off), a client certificate per TLS identity, the
connect timeout over TCP and the TLS handshake and the read timeout on every read, both cut to
the time left; the body read in chunks through the plan's capped reader; no redirect followed;
``localhost`` connected to as 127.0.0.1 with its name kept for Host and SNI; the same header
fields in the same order; and socket, TLS and protocol failures read as the same one-line errors
(``transport``); a path or query percent-encoded and a non-ASCII host IDNA-encoded as httpx
sends them. Not the same: a URL's userinfo (httpx makes it Basic auth; here it is dropped: no
endpoint credenza calls carries one), ALPN (not offered), and http.client's looser limits on
an answer's header fields (h11 caps them at 16 KiB; the body cap applies to both). No proxy:
httpx runs with trust_env off, so neither engine reads HTTPS_PROXY.

Each attempt opens its own connection and closes it (a one-shot command makes one or two calls;
httpx's keep-alive pool saved nothing there). Importing this is ~10 ms less than httpx's ~60.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from urllib.parse import quote, urlsplit

from credenza.errors import CredenzaError, TransportError
from credenza.oauth.answers import Answer, host_of
from credenza.oauth.plan import Attempt
from credenza.oauth.transport import (
    DeadlineReached,
    Headers,
    HttpSettings,
    connect_error,
    connect_timeout,
    dropped,
    literal_loopback,
    outgoing_headers,
    read_timeout,
)

_CHUNK = 64 * 1024


def plain_context() -> ssl.SSLContext:
    """http:// (loopback only) never does TLS; should an https:// URL reach it, this context
    trusts no CA, so verification fails instead of passing."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Connection(http.client.HTTPSConnection):
    """A connection whose connect timeout covers TCP and the TLS handshake, then reads wait
    the read timeout; TLS (when ``context`` is set) checks ``sni``, the name in the URL."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        sni: str,
        connect: float,
        read: float,
    ) -> None:
        super().__init__(host, port, timeout=connect, context=tls or plain_context())
        self._tls = tls
        self._sni = sni
        self._read = read

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        if self._tls is not None:
            self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._sni)
        self.sock.settimeout(self._read)


def perform(attempt: Attempt, settings: HttpSettings, tls: ssl.SSLContext | None) -> Answer:
    """Send ``attempt`` and read its answer (``tls``: the context of an https:// URL)."""
    url, headers, sni = literal_loopback(attempt.url, attempt.headers)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = _ascii_host(parts.hostname or "")
    port = parts.port or (443 if https else 80)
    body = attempt.body()
    fields = outgoing_headers(
        url,
        headers,
        body,
        form=attempt.content is None and bool(attempt.form),
        method=attempt.method,
    )
    # As httpx sends them: a space or a non-ASCII character in the path or query percent-encoded
    # (UTF-8), what is already percent-encoded left as it is.
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target = f"{target}?{quote(parts.query, safe=_PATH_SAFE + '?')}"
    connect, read = attempt.timeouts(settings)
    connection = _Connection(
        host, port, tls=tls if https else None, sni=sni or host, connect=connect, read=read
    )
    stage = "connect"
    try:
        connection.connect()
        stage = "write"
        connection.putrequest(attempt.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in fields:
            connection.putheader(name, value)
        connection.endheaders(body)
        stage = "read"
        response = connection.getresponse()
        answer_headers = Headers(response.getheaders())
        reader = attempt.reader(response.status, answer_headers, settings)
        while chunk := response.read1(_CHUNK):
            reader.feed(chunk)
        if response.length:  # read1 ends quietly where the server hung up before the end
            raise http.client.IncompleteRead(b"", response.length)
        body_read = reader.finish()
    except (CredenzaError, DeadlineReached):
        raise
    except http.client.InvalidURL:  # ours, not the server's (httpx: LocalProtocolError)
        raise TransportError(
            f"the call to {host_of(attempt.url)} failed: LocalProtocolError"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(exc, stage, attempt, settings) from None
    except ValueError:  # a header field http.client will not send (httpx: LocalProtocolError)
        raise TransportError(
            f"the call to {host_of(attempt.url)} failed: LocalProtocolError"
        ) from None
    finally:
        connection.close()
    return attempt.answer(response.status, answer_headers, body_read, Headers(fields))


# What a path or query keeps as it is: RFC 3986's reserved and unreserved characters, and "%".
_PATH_SAFE = "/:@!$&'()*+,;=~%[]"


def _ascii_host(host: str) -> str:
    """An internationalised host name as it goes on the wire (IDNA, as httpx sends it)."""
    if host.isascii():
        return host
    import idna  # already installed under httpx; only for a non-ASCII host

    return idna.encode(host, uts46=True).decode("ascii")


def _failure(
    exc: OSError | http.client.HTTPException, stage: str, attempt: Attempt, settings: HttpSettings
) -> CredenzaError | DeadlineReached:
    """A socket, TLS or protocol failure, as ``transport.transport_failure`` reads httpx's."""
    url = attempt.url
    if isinstance(exc, TimeoutError | socket.timeout):
        if time.monotonic() >= attempt.ends_at:
            return DeadlineReached()  # a timeout shortened to the time left: the deadline's
        return connect_timeout(url, settings) if stage == "connect" else read_timeout(url, settings)
    if stage == "connect":
        return connect_error(url, exc)
    if isinstance(exc, http.client.HTTPException):
        return dropped(url, "RemoteProtocolError")
    return dropped(url, "WriteError" if stage == "write" else "ReadError")
