"""The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) through a loopback redirect
(RFC 8252 §7.3): the browser brings the code back to a one-request listener on 127.0.0.1
(``loopback.py``, imported only when a sign-in starts)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from credenza.errors import SignInError, ValidationError
from credenza.oauth.answers import check_endpoint
from credenza.oauth.grants.base import Grant
from credenza.oauth.grants.pkce import Pkce
from credenza.oauth.origins import is_localhost_subdomain, is_loopback
from credenza.oauth.tokens import Token
from credenza.oauth.untrusted import clean as _clean

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan

GRANT = Grant(
    name="authorization_code",
    grant_type="authorization_code",
    signs_in=True,
    # The callback: the application's registered loopback URL, else a free loopback port.
    needs=frozenset({"token_endpoint", "authorization_endpoint", "callback_url"}),
    sent_fields=frozenset({"grant_type", "code", "redirect_uri", "code_verifier"}),
    secret_fields=frozenset({"code", "code_verifier"}),
)

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
    import asyncio

    from credenza.oauth.grants.loopback import LoopbackListener

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
