"""Finding a server's endpoints and keys: RFC 8414 authorization-server metadata, OpenID Connect
discovery, and the JWK Set its id_tokens are checked with — plans any driver runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from credenza.errors import (
    DiscoveryError,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
)
from credenza.oauth.answers import (
    Endpoint,
    ServerMetadata,
    check_endpoint,
    json_object,
    metadata_from,
    show_url,
)
from credenza.oauth.origins import is_loopback
from credenza.oauth.untrusted import clean

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientProtocol, Plan


def plan_discover(protocol: ClientProtocol, issuer: str) -> Plan[ServerMetadata]:
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
            answer = yield from protocol.plan_exchange("discovery", "GET", url, headers={})
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


def plan_get_json(protocol: ClientProtocol, endpoint: Endpoint, url: str) -> Plan[dict[str, Any]]:
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
    answer = yield from protocol.plan_exchange(endpoint, "GET", url, headers=headers)
    if answer.status != 200:
        raise InvalidResponseError(
            f"the {what} {show_url(url)} answered HTTP {answer.status}",
            hint="check the provider's discovery metadata, or try again later",
        )
    data = json_object(answer.body)
    if data is None:
        raise InvalidResponseError(f"the {what} {show_url(url)} did not answer with JSON")
    return data
