"""The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) through a loopback redirect
(RFC 8252 §7.3): the browser brings the code back to a one-request listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import h11

from credenza.errors import SignInError, ValidationError
from credenza.oauth.answers import check_endpoint
from credenza.oauth.grants.pkce import Pkce
from credenza.oauth.origins import LOOPBACK_LITERAL, is_localhost_subdomain, is_loopback
from credenza.oauth.tokens import Token
from credenza.oauth.untrusted import clean as _clean

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan

DEFAULT_REDIRECT = "http://127.0.0.1:0/callback"


def choose_redirect_uri(callback_url: str | None, override: str | None) -> str:
    """``--redirect-uri``, else the application's callback when it is a loopback http URL (a
    provider such as Pipedrive registers exactly one), else a free loopback port."""
    if override:
        return check_loopback_redirect(override)
    if callback_url:
        if is_localhost_subdomain(urlsplit(callback_url).hostname or ""):
            # Registered as the provider's one redirect: a free port instead would only be
            # refused there, so say why here.
            return check_loopback_redirect(callback_url)
        with contextlib.suppress(ValidationError):
            return check_loopback_redirect(callback_url)
    return DEFAULT_REDIRECT


def browser_available() -> bool:
    """A graphical browser can reach this machine's loopback: not over SSH, and a display."""
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    # Without a display, webbrowser would start a text browser inside the terminal.
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_loopback_redirect(uri: str) -> str:
    parts = urlsplit(uri)
    if is_localhost_subdomain(parts.hostname or ""):
        # RFC 8252 §8.3: the name is resolved, and a resolver may answer 0.0.0.0 (every
        # interface) or another machine; only the literal address is this machine for sure.
        raise ValidationError(
            f"the redirect URI {uri!r} is on a name under .localhost, which a resolver answers "
            "for: credenza listens only on a loopback address itself",
            hint="use http://127.0.0.1:PORT/PATH (or http://localhost:PORT/PATH) and register "
            "it at the provider",
        )
    if parts.scheme != "http" or not parts.hostname or not is_loopback(parts.hostname):
        raise ValidationError(
            f"the redirect URI {uri!r} is not a loopback http URL",
            hint="credenza listens on this machine only: use http://127.0.0.1:PORT/PATH "
            "(register it at the provider), or --device to sign in over SSH",
        )
    return uri


@dataclass(frozen=True)
class AuthorizationRequest:
    """What the browser is sent to, and what must come back with the code."""

    url: str
    redirect_uri: str
    state: str
    pkce: Pkce


def authorization_request(
    endpoint: str,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
    nonce: str | None = None,
) -> AuthorizationRequest:
    check_endpoint(endpoint, "authorization endpoint")
    pkce = Pkce()
    state = secrets.token_urlsafe(24)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
        **({"scope": " ".join(scopes)} if scopes else {}),
        # OpenID Connect: the id_token must carry it back (checked in oauth/id_token.py).
        **({"nonce": nonce} if nonce else {}),
        **(extra or {}),
    }
    parts = urlsplit(endpoint)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return AuthorizationRequest(url=url, redirect_uri=redirect_uri, state=state, pkce=pkce)


@dataclass(frozen=True)
class Callback:
    """The query the browser brought back to the redirect URI."""

    params: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.params.get(key)


def code_from(
    callback: Callback,
    request: AuthorizationRequest,
    expected_issuer: str | None,
    iss_required: bool = False,
) -> str:
    """The code, once state and (RFC 9207) iss say the answer belongs to this request."""
    if callback.get("state") != request.state:
        raise SignInError("the sign-in answer does not belong to this sign-in (state mismatch)")
    iss = callback.get("iss")
    if iss is None and iss_required:
        raise SignInError(
            "the sign-in answer has no iss although the server always sends one (RFC 9207)",
            hint="another server may be answering in its place; sign in again",
        )
    if iss is not None and expected_issuer is not None and iss != expected_issuer:
        raise SignInError(
            f"the sign-in answer comes from issuer {_clean(iss)!r}, not {expected_issuer!r}",
            hint="a mix-up attack or a misconfigured issuer; sign in again",
        )
    if (error := callback.get("error")) is not None:
        description = callback.get("error_description")
        detail = f": {_clean(description)}" if description else ""
        if error == "access_denied":
            raise SignInError(f"the sign-in was denied{detail}", hint="approve it to continue")
        raise SignInError(f"the provider refused the sign-in ({_clean(error)}{detail})")
    code = callback.get("code")
    if not code:
        raise SignInError("the sign-in answer has neither a code nor an error")
    return code


def exchange_form(code: str, request: AuthorizationRequest) -> dict[str, str]:
    """§4.1.3: the code, the same redirect_uri, and the PKCE verifier."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.pkce.verifier.reveal(),
    }


def plan(
    protocol: ClientProtocol,
    credentials: ClientCredentials,
    code: str,
    request: AuthorizationRequest,
) -> Plan[Token]:
    """The code exchange (§4.1.3), client-authenticated."""
    return protocol.plan_request_token(credentials, exchange_form(code, request))


# How often a free port (port 0) is chosen again when `localhost`'s second family has it taken.
_FREE_PORT_TRIES = 5


def _no_ipv6(exc: OSError) -> bool:
    """This machine has no IPv6 loopback at all (not: another program holds the port)."""
    return isinstance(exc, socket.gaierror) or exc.errno in (
        errno.EADDRNOTAVAIL,
        errno.EAFNOSUPPORT,
    )


def _reason(exc: OSError) -> str:
    """The OS's words for a failed bind, without asyncio's repetition of the address."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return str(exc.strerror or exc)
    return os.strerror(exc.errno)


def _taken_hint(host: str, port: int) -> str:
    if host == "localhost":
        return (
            f"another program holds port {port} on 127.0.0.1 or ::1, where a browser may take "
            "localhost; close it, or pass --redirect-uri http://127.0.0.1:PORT/PATH with a free "
            "port registered at the provider"
        )
    return (
        "another program holds that port; close it, or pass --redirect-uri "
        "with a free port registered at the provider"
    )


_DONE_PAGE = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>credenza</title></head>"
    "<body style='font-family:sans-serif;margin:3rem'><h1>{title}</h1><p>{text}</p></body></html>"
)


class LoopbackListener:
    """Listens on the redirect URI's loopback host and port for the one callback of a sign-in.

    Requests for other paths, or carrying another sign-in's state, are answered and ignored, so a
    stray request cannot end the sign-in. Port 0 picks a free port; ``redirect_uri`` then has it.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(check_loopback_redirect(redirect_uri))
        self._parts = parts
        self._host = (parts.hostname or LOOPBACK_LITERAL).lower()
        self._port = 80 if parts.port is None else parts.port  # 0: a free port, chosen here
        self._path = parts.path or "/"
        self._servers: list[asyncio.Server] = []
        self._waiting: dict[str, asyncio.Future[Callback]] = {}
        self.redirect_uri = redirect_uri

    async def __aenter__(self) -> Self:
        # RFC 8252 §8.3: literal addresses only, never what a resolver says. A browser may take
        # `localhost` to either family, so both are ours or the sign-in does not start: another
        # user holding [::1]:PORT would otherwise receive the code.
        hosts = [LOOPBACK_LITERAL, "::1"] if self._host == "localhost" else [self._host]
        tries = _FREE_PORT_TRIES if self._port == 0 else 1
        port = None
        while port is None:
            tries -= 1
            port = await self._listen(hosts, retry=tries > 0)
        if self._port == 0:
            netloc = f"{self._parts.hostname}:{port}"
            if ":" in (self._parts.hostname or ""):
                netloc = f"[{self._parts.hostname}]:{port}"
            self.redirect_uri = urlunsplit(("http", netloc, self._path, self._parts.query, ""))
        return self

    async def _listen(self, hosts: list[str], *, retry: bool) -> int | None:
        """The port now listened on by every host, or None to try another free port."""
        port = self._port
        for host in hosts:
            try:
                server = await asyncio.start_server(
                    self._handle, host.strip("[]"), port, reuse_address=True
                )
            except OSError as exc:
                if self._servers and host == "::1" and _no_ipv6(exc):
                    continue  # no IPv6 here: a browser cannot reach ::1 either
                await self._close()
                if retry and host != hosts[0]:
                    return None  # the free port chosen on the first family is taken on ::1
                shown = f"[{host}]" if ":" in host else host
                raise SignInError(
                    f"cannot listen on {shown}:{port} for the sign-in redirect ({_reason(exc)})",
                    hint=_taken_hint(self._host, port),
                ) from None
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            # Python 3.12's wait_closed also waits for open connections; ours are short.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self._servers = []

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def wait(self, state: str) -> Callback:
        """The callback that carries ``state``."""
        future: asyncio.Future[Callback] = asyncio.get_running_loop().create_future()
        self._waiting[state] = future
        try:
            return await future
        finally:
            self._waiting.pop(state, None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            async with asyncio.timeout(10):
                request: h11.Request | None = None
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
                if request is None:
                    return
                status, title, text = self._answer(request)
                body = _DONE_PAGE.format(title=escape(title), text=escape(text)).encode()
                headers = [
                    ("content-type", "text/html; charset=utf-8"),
                    ("content-length", str(len(body))),
                    ("cache-control", "no-store"),
                    ("referrer-policy", "no-referrer"),
                    ("connection", "close"),
                ]
                writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
                writer.write(connection.send(h11.Data(data=body)))
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
        except (h11.RemoteProtocolError, h11.LocalProtocolError, TimeoutError, OSError):
            pass
        finally:
            writer.close()

    def _answer(self, request: h11.Request) -> tuple[int, str, str]:
        target = urlsplit(request.target.decode("ascii", "replace"))
        if request.method != b"GET" or target.path != self._path:
            return 404, "Not found", "This is credenza's sign-in listener."
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        future = self._waiting.get(params.get("state", ""))
        if future is None or future.done():
            return (
                400,
                "Not this sign-in",
                "This answer does not belong to the sign-in in progress.",
            )
        future.set_result(Callback(params))
        if "error" in params:
            return (
                200,
                "Sign-in not completed",
                "You can close this tab and return to the terminal.",
            )
        return 200, "Signed in", "You can close this tab and return to the terminal."


async def sign_in(
    client: OAuthClient,
    credentials: ClientCredentials,
    authorization_endpoint: str,
    *,
    redirect_uri: str,
    show: Callable[[str], None],
    expected_issuer: str | None = None,
    iss_required: bool = False,
    timeout: float = 300.0,
    nonce: str | None = None,
) -> Token:
    """Listen, show the URL (print it, open a browser), wait for the code, exchange it."""
    async with LoopbackListener(redirect_uri) as listener:
        request = authorization_request(
            authorization_endpoint,
            credentials.client_id,
            listener.redirect_uri,
            credentials.scopes,
            nonce=nonce,
        )
        show(request.url)
        try:
            async with asyncio.timeout(timeout):
                callback = await listener.wait(request.state)
        except TimeoutError:
            raise SignInError(
                f"no sign-in arrived within {timeout:g} s",
                hint="run the login again, or use --device where no browser can reach this machine",
            ) from None
    code = code_from(callback, request, expected_issuer, iss_required)
    return await client.grant(plan, credentials, code, request)
