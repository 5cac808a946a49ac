"""What a server's answer means: errors explained, metadata checked, URLs shown safely.

Shared by both drivers of the OAuth client (``client.OAuthClient``, ``sync_client.SyncOAuthClient``)
through ``plan``. Whatever a server answers is untrusted: every word of it that reaches an
error passes ``untrusted.clean`` with the values sent in that exchange, so an echo cannot leak them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from credenza.errors import (
    CredenzaError,
    ErrorKind,
    InsecureEndpointError,
    RedirectRefusedError,
    RevocationUnconfirmedError,
    TokenEndpointError,
    TransportError,
)
from credenza.next_steps import NextStep, step
from credenza.oauth.origins import is_loopback
from credenza.oauth.tokens import Token
from credenza.oauth.untrusted import NOTHING, Sent, clean, parse_json
from credenza.providers.profiles import GENERIC, Profile

Endpoint = Literal[
    "token",
    "revocation",
    "introspection",
    "logout",
    "discovery",
    "device_authorization",
    "jwks",
    "admin",
    "registration",
    "team store",
]
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, its body read (capped and decoded), and what was sent to get it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    sent: Sent = NOTHING
    # The request's headers as they went out (--verbose shows them, masked).
    request_headers: Mapping[str, str] | None = None


def check_endpoint(url: str, what: str = "endpoint") -> None:
    """Refuse a URL that would carry credentials in the clear, before any byte is sent."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise InsecureEndpointError(
            f"refusing to send credentials to {show_url(url)} over plain http",
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
        from email.utils import parsedate_to_datetime  # only for a date: ~2 ms of imports

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), _MAX_RETRY_AFTER)


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
    where = f"the {endpoint} endpoint {show_url(url)}"
    unreadable = ""
    try:
        data = parse_json(body) if body.strip() else None
    except ValueError as why:
        data, unreadable = None, str(why)
    if not isinstance(data, dict):
        what = _describe_body(headers, body, sent, unreadable)
        hint, steps = _status_hint(endpoint, status, retry_after)
        return TokenEndpointError(
            f"{where} answered HTTP {status} with {what} instead of an OAuth error",
            status=status,
            retry_after=retry_after,
            hint=hint,
            next_steps=steps,
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
    hint, steps = _hint_for(kind, endpoint, status, retry_after)
    return TokenEndpointError(
        message,
        status=status,
        error=code or None,
        description=description or None,
        provider_code=provider_code,
        retry_after=retry_after,
        hint=hint,
        next_steps=steps,
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


# What to do, in words, and the next steps the words mark ({0}, {1}…).
Hint = tuple[str, tuple[NextStep, ...]]


def _hint_for(kind: ErrorKind, endpoint: Endpoint, status: int, retry_after: float | None) -> Hint:
    if kind == "wrong_secret":
        return (
            "check the client secret ({0}) and client_id; if both are right, "
            "try the other --auth-method or Basic encoding (provider edit --basic-encoding)",
            (step("set_secret", "APP", "ENV"),),
        )
    if kind == "wrong_auth_method":
        return (
            "the provider expects the other auth method: set --auth-method client_secret_post "
            "or client_secret_basic on the environment ({0})",
            (step("edit_environment", "APP", "ENV"),),
        )
    if kind == "unknown_client":
        return (
            "the provider does not know this client_id: compare it with the provider's portal "
            "and the token URL's environment (sandbox or production)",
            (),
        )
    if kind == "grant_not_allowed":
        return (
            "this client may not use this grant (unauthorized_client): enable the grant type for "
            "the application in the provider's portal; the secret is fine",
            (),
        )
    if kind == "scope":
        return "ask the provider to grant the scope to this client, or request fewer scopes", ()
    return _status_hint(endpoint, status, retry_after)


def _status_hint(endpoint: Endpoint, status: int, retry_after: float | None) -> Hint:
    if status == 401 and endpoint == "admin":
        return (
            "the admin token was refused: store the current one again ({0})",
            (step("admin_token"),),
        )
    return _status_words(endpoint, status, retry_after), ()


def _status_words(endpoint: Endpoint, status: int, retry_after: float | None) -> str:
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


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = parse_json(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _describe_body(headers: Mapping[str, str], body: bytes, sent: Sent, unreadable: str) -> str:
    """An answer that is not an OAuth error, in a few safe words: its type, title or first line."""
    if looks_html(headers, body):
        title = _TITLE.search(body[:65536])
        if title:
            import html  # only for an error page

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


def unconfirmed(
    endpoint: Endpoint, url: str, response: Answer, expected: str
) -> RevocationUnconfirmedError:
    what = _describe_body(response.headers, response.body, response.sent, "")
    return RevocationUnconfirmedError(
        f"could not confirm the token was revoked: the {endpoint} endpoint {show_url(url)} "
        f"answered HTTP {response.status} with {what}, not {expected}",
        hint="the cached copy was dropped; the token may still be live until it expires — check "
        "the endpoint URL (an OpenID end_session page signs browsers out, it revokes nothing)",
    )


def body_text(body: bytes) -> str:
    return body[:1024].decode("utf-8", "replace").strip()


def as_requested(token: Token, requested: tuple[str, ...]) -> Token:
    """RFC 6749 §5.1: a response without ``scope`` granted exactly what was requested."""
    if token.scope_omitted and requested:
        return replace(token, scopes=tuple(requested))
    return token


def host_of(url: str) -> str:
    """The host (and port) of a URL for a message: never its user-info, always cleaned."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] if parts.netloc else url
    return clean(host, limit=120)


def show_url(url: str) -> str:
    """A URL for a message: without user-info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return clean(url, limit=120)
    return clean(f"{parts.scheme}://{host_of(url)}{parts.path}", limit=160)


def redirect_target(headers: Mapping[str, str], sent: Sent) -> str:
    location = headers.get("location", "")
    parts = urlsplit(location)
    target = (
        f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        if parts.netloc
        else (parts.path or "?")
    )
    return clean(target, sent, limit=160)


def content_type(response: Answer) -> str:
    return _content_type_of(response.headers)


def _content_type_of(headers: Mapping[str, str]) -> str:
    value = headers.get("content-type", "untyped").split(";")[0].strip() or "untyped"
    return clean(value, limit=60)


def looks_html(headers: Mapping[str, str], body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in _content_type_of(headers).lower() or head.startswith(
        (b"<!doctype html", b"<html")
    )
