"""Calls on a protected resource (an API) with a token: the plan of one call, and what its
``WWW-Authenticate`` challenges say (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from credenza.config.checks import is_url
from credenza.errors import DiscoveryError, RedirectRefusedError
from credenza.oauth.answers import Answer, check_endpoint, json_object, show_url
from credenza.oauth.plan import (
    Attempt,
    ClientProtocol,
    Pause,
    Plan,
    _deadline_error,
    _jittered,
)
from credenza.oauth.transcript import Transcript
from credenza.oauth.transport import ConnectFailure, DeadlineReached
from credenza.oauth.untrusted import Sent, clean

# RFC 9110 §11.2: a challenge is an auth-scheme, then auth-params (name=token or quoted-string);
# challenges and parameters are separated by commas.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_ITEM = re.compile(rf'\s*(?:({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s"]*)|({_TOKEN}))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: its scheme and parameters (names lower)."""

    scheme: str
    params: Mapping[str, str]


def challenges(header: str | None) -> list[Challenge]:
    """The challenges of a ``WWW-Authenticate`` value; what does not parse ends the reading."""
    found: list[tuple[str, dict[str, str]]] = []
    text = (header or "")[:4096]
    at = 0
    while at < len(text):
        item = _ITEM.match(text, at)
        if item is None or item.end() == at:
            break
        at = item.end()
        if item[3] is not None:
            found.append((item[3].lower(), {}))
        elif found:
            value = item[2]
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found[-1][1].setdefault(item[1].lower(), value)
    return [Challenge(scheme, params) for scheme, params in found]


def challenge_error(answer: Answer) -> str | None:
    """The ``error`` of the answer's Bearer or DPoP challenge (invalid_token, use_dpop_nonce)."""
    for challenge in challenges(answer.headers.get("www-authenticate")):
        if challenge.scheme in ("bearer", "dpop") and "error" in challenge.params:
            return challenge.params["error"]
    return None


def resource_metadata_url(answer: Answer) -> str | None:
    """RFC 9728 §5.1: where a 401 says the API's protected-resource metadata is."""
    for challenge in challenges(answer.headers.get("www-authenticate")):
        if "resource_metadata" in challenge.params:
            return challenge.params["resource_metadata"]
    return None


def plan_api_call(
    protocol: ClientProtocol,
    method: str,
    url: str,
    headers: dict[str, str],
    content: bytes | None,
    sent: Sent,
) -> Plan[Answer]:
    """One request to an API, its answer returned whatever its status (the caller decides what
    a 4xx means). Retried only when nothing was sent (the connection failed): a call on an API
    may not be safe to repeat. Bounded like every call: deadline, body cap, no redirect."""
    check_endpoint(url, "API URL")
    settings = protocol.settings
    ends_at = time.monotonic() + settings.deadline
    attempts = max(1, settings.retry_attempts)
    number = 0
    while True:
        number += 1
        attempt = Attempt(
            method,
            url,
            headers,
            None,
            sent,
            None,
            ends_at,
            content=content,
            max_body=settings.max_api_body_bytes,
        )
        try:
            reply = yield attempt
        except DeadlineReached:
            raise _deadline_error(url, settings, None) from None
        except ConnectFailure:
            wait = _jittered(number, settings)
            if number >= attempts or time.monotonic() + wait >= ends_at:
                raise
            yield Pause(wait)
            continue
        assert reply is not None
        if protocol.observer is not None:
            protocol.observer(
                Transcript(
                    method,
                    url,
                    dict(reply.request_headers or headers),
                    None,
                    reply.status,
                    dict(reply.headers),
                    reply.body,
                    sent,
                )
            )
        return reply


# -- protected-resource metadata (RFC 9728) ---------------------------------------------------


@dataclass(frozen=True)
class ResourceMetadata:
    """What an API says of itself: its resource identifier and its authorization servers."""

    resource: str
    authorization_servers: tuple[str, ...]
    source: str


def metadata_urls(api_url: str) -> list[str]:
    """RFC 9728 §3.1: the well-known URI goes between the host and the resource's path; the
    origin's own metadata after it, for an API that describes the whole origin."""
    parts = urlsplit(api_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    urls = [f"{origin}/.well-known/oauth-protected-resource{path}"]
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return urls


def covers(resource: str, api_url: str) -> bool:
    """True when ``api_url`` is the resource or under it (same origin, path below): RFC 9728
    §3.3's check that the metadata is about the API asked about, not one it impersonates."""
    from credenza.oauth.origins import origin_of

    if origin_of(resource) != origin_of(api_url):
        return False
    base = urlsplit(resource).path.rstrip("/")
    path = urlsplit(api_url).path.rstrip("/")
    return path == base or path.startswith(base + "/")


def plan_resource_metadata(protocol: ClientProtocol, api_url: str) -> Plan[ResourceMetadata]:
    """The API's protected-resource metadata: from its well-known URIs, else from the
    ``resource_metadata`` a call without a token is answered with (RFC 9728 §5.1)."""
    check_endpoint(api_url, "API URL")
    failures: list[str] = []
    for url in metadata_urls(api_url):
        found = yield from _plan_metadata(protocol, url, api_url, failures)
        if found is not None:
            return found
    try:
        probe = yield from protocol.plan_exchange("discovery", "GET", api_url, headers={})
    except RedirectRefusedError:
        probe = None
        failures.append(f"{api_url}: redirect")
    where = resource_metadata_url(probe) if probe is not None and probe.status == 401 else None
    if where is not None and is_url(where):
        check_endpoint(where, "resource metadata URL")
        found = yield from _plan_metadata(protocol, where, api_url, failures)
        if found is not None:
            return found
    elif probe is not None:
        failures.append(f"{api_url}: HTTP {probe.status} without resource_metadata")
    raise DiscoveryError(
        f"no protected-resource metadata (RFC 9728) found for {show_url(api_url)}",
        hint="give the authorization server with --issuer, or the token endpoint with "
        "--token-url (" + clean("; ".join(failures), limit=400) + ")",
    )


def _plan_metadata(
    protocol: ClientProtocol, url: str, api_url: str, failures: list[str]
) -> Plan[ResourceMetadata | None]:
    try:
        answer = yield from protocol.plan_exchange("discovery", "GET", url, headers={})
    except RedirectRefusedError:
        failures.append(f"{url}: redirect")
        return None
    if answer.status != 200:
        failures.append(f"{url}: HTTP {answer.status}")
        return None
    data = json_object(answer.body)
    if data is None:
        failures.append(f"{url}: not JSON")
        return None
    resource = data.get("resource")
    servers = data.get("authorization_servers")
    if not isinstance(resource, str) or not is_url(resource) or not covers(resource, api_url):
        # RFC 9728 §3.3: metadata naming another resource is not this API's; never used.
        failures.append(f"{url}: its resource is not {api_url}")
        return None
    if not isinstance(servers, list) or not servers:
        failures.append(f"{url}: no authorization_servers")
        return None
    named = tuple(s for s in servers[:16] if isinstance(s, str) and is_url(s))
    if not named:
        failures.append(f"{url}: no usable authorization server")
        return None
    return ResourceMetadata(resource, named, url)
