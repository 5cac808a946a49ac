"""Dynamic client registration (RFC 7591) and its management (RFC 7592), as plans for the one
hardened client: no redirects, a deadline, a body cap, an echo of what was sent redacted.

What the server issues (client_secret, registration_access_token) is returned wrapped as
``Secret``s; nothing here prints or stores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from credenza.errors import InvalidResponseError, TokenEndpointError
from credenza.oauth.answers import Answer, check_endpoint, endpoint_error, json_object, show_url
from credenza.oauth.untrusted import Sent, clean, is_clean
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientProtocol, Plan

MASK = "****"
# Members of a registration answer whose values are credentials: never shown.
SECRET_MEMBERS = frozenset({"client_secret", "registration_access_token"})


@dataclass(frozen=True)
class Registered:
    """A client the server registered: its id, what it issued, and where to manage it."""

    client_id: str
    client_secret: Secret | None
    registration_access_token: Secret | None
    registration_client_uri: str | None
    token_endpoint_auth_method: str | None
    # RFC 7591 §3.2.1: seconds since the epoch, 0 for never.
    client_secret_expires_at: int | None


def _bearer(token: Secret | None) -> tuple[dict[str, str], Sent]:
    headers = {"Accept": "application/json"}
    if token is None:
        return headers, Sent()
    value = token.reveal()
    headers["Authorization"] = f"Bearer {value}"
    return headers, Sent(value, headers["Authorization"])


def plan_register(
    protocol: ClientProtocol,
    url: str,
    metadata: dict[str, Any],
    initial_access_token: Secret | None = None,
) -> Plan[Registered]:
    """RFC 7591 §3.1: POST the client metadata as JSON (with the initial access token, when the
    server wants one); §3.2.1: 201 with the client's id and what was issued."""
    check_endpoint(url, "registration endpoint")
    headers, sent = _bearer(initial_access_token)
    headers["Content-Type"] = "application/json"
    answer = yield from protocol.plan_exchange(
        "registration",
        "POST",
        url,
        headers=headers,
        sent=sent,
        content=json.dumps(metadata).encode("utf-8"),
    )
    if answer.status not in (200, 201):
        raise _refused(url, answer, initial_access_token is not None)
    data = json_object(answer.body)
    if data is None:
        raise InvalidResponseError(
            f"the registration endpoint {show_url(url)} did not answer with a JSON object"
        )
    return registered_from(url, data)


def registered_from(url: str, data: dict[str, Any]) -> Registered:
    """The answer read strictly: a client_id to keep in the config, the rest optional."""
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise InvalidResponseError(f"the registration endpoint {show_url(url)} sent no client_id")
    if not is_clean(client_id) or len(client_id) > 512 or client_id != client_id.strip():
        raise InvalidResponseError(
            f"the registration endpoint {show_url(url)} sent a client_id credenza will not keep "
            "(control characters, spaces around it, or over 512 characters)"
        )
    uri = data.get("registration_client_uri")
    if uri is not None:
        if not isinstance(uri, str) or not is_clean(uri) or " " in uri:
            raise InvalidResponseError(
                f"the registration endpoint {show_url(url)} sent an unusable "
                "registration_client_uri"
            )
        check_endpoint(uri, "registration_client_uri")
    method = data.get("token_endpoint_auth_method")
    expires = data.get("client_secret_expires_at")
    return Registered(
        client_id=client_id,
        client_secret=_secret(data.get("client_secret")),
        registration_access_token=_secret(data.get("registration_access_token")),
        registration_client_uri=uri,
        token_endpoint_auth_method=method if isinstance(method, str) else None,
        client_secret_expires_at=expires
        if isinstance(expires, int) and not isinstance(expires, bool) and expires >= 0
        else None,
    )


def plan_read(protocol: ClientProtocol, uri: str, token: Secret) -> Plan[dict[str, Any]]:
    """RFC 7592 §2.1: the client's current metadata, with the registration access token."""
    check_endpoint(uri, "registration_client_uri")
    headers, sent = _bearer(token)
    answer = yield from protocol.plan_exchange(
        "registration", "GET", uri, headers=headers, sent=sent
    )
    if answer.status != 200:
        raise endpoint_error("registration", uri, *_parts(answer), sent=answer.sent)
    data = json_object(answer.body)
    if data is None:
        raise InvalidResponseError(
            f"the registration_client_uri {show_url(uri)} did not answer with a JSON object"
        )
    return data


def plan_delete(protocol: ClientProtocol, uri: str, token: Secret) -> Plan[None]:
    """RFC 7592 §2.3: 204 No Content once the client is gone."""
    check_endpoint(uri, "registration_client_uri")
    headers, sent = _bearer(token)
    answer = yield from protocol.plan_exchange(
        "registration", "DELETE", uri, headers=headers, sent=sent
    )
    if answer.status in (200, 204):
        return
    raise endpoint_error("registration", uri, *_parts(answer), sent=answer.sent)


def masked(data: Any, sent: Sent) -> Any:
    """A registration answer fit to show: credentials masked by name, and any echo of what was
    sent (or is stored) redacted, every string cleaned of control characters."""
    if isinstance(data, dict):
        return {
            clean(key, sent, limit=80): MASK if key in SECRET_MEMBERS else masked(value, sent)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked(item, sent) for item in data]
    if isinstance(data, str):
        return clean(data, sent, limit=2000)
    return data


def _secret(value: object) -> Secret | None:
    return Secret(value) if isinstance(value, str) and value else None


def _parts(answer: Answer) -> tuple[int, Any, bytes]:
    return answer.status, answer.headers, answer.body


def _refused(url: str, answer: Answer, had_token: bool) -> TokenEndpointError:
    error = endpoint_error("registration", url, *_parts(answer), sent=answer.sent)
    if answer.status in (401, 403) and not had_token:
        error.hint = (
            "this server wants an initial access token: put it in an environment variable "
            "and pass --initial-access-token-env VAR"
        )
        error.next_steps = ()
    elif answer.status in (401, 403):
        error.hint = "the initial access token was refused: check it, or ask for a new one"
        error.next_steps = ()
    return error
