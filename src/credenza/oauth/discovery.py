"""Finding a server's endpoints and keys: RFC 8414 authorization-server metadata, OpenID Connect
discovery, and the JWK Set its id_tokens are checked with — plans any driver runs, and what the
metadata says once checked (``ServerMetadata``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from credenza.errors import (
    DiscoveryError,
    InsecureEndpointError,
    InvalidResponseError,
    RedirectRefusedError,
)
from credenza.oauth.answers import Endpoint, check_endpoint, json_object, show_url
from credenza.oauth.origins import is_loopback
from credenza.oauth.untrusted import clean, is_clean

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientProtocol, Plan


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
    # OpenID Connect: where the keys that sign its id_tokens are published (a JWK Set).
    jwks_uri: str | None = None
    # RFC 7591: where a client registers itself (not an endpoint of a registered client).
    registration_endpoint: str | None = None

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


def metadata_from(issuer: str, url: str, data: dict[str, Any]) -> ServerMetadata:
    declared = data.get("issuer")
    if not isinstance(declared, str) or declared.rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(
            f"the metadata at {show_url(url)} is for issuer '{clean(declared, limit=120)}', "
            f"not '{show_url(issuer)}'",
            hint="RFC 8414 requires them to match; check the issuer URL",
        )
    token_endpoint = data.get("token_endpoint")
    if not isinstance(token_endpoint, str):
        raise DiscoveryError(f"the metadata at {show_url(url)} has no token_endpoint")

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
                f"the metadata at {show_url(url)} has a {key} with control characters or "
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
        # Checked (HTTPS, no control characters) when id_token keys are fetched from it, so that
        # metadata with an odd jwks_uri still gives its endpoints.
        jwks_uri=optional("jwks_uri"),
        # Like jwks_uri: checked when used (`app register`), so that an odd one spoils nothing.
        registration_endpoint=optional("registration_endpoint"),
    )
