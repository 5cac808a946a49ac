"""Calls to a server's endpoints other than the token request: revocation (RFC 7009),
introspection (RFC 7662), logout, a client-authenticated JSON POST (RFC 8628 device
authorization), `credenza doctor`'s probe and a provider's admin API — plans any driver runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from credenza.errors import InvalidResponseError
from credenza.oauth.answers import (
    Answer,
    Endpoint,
    body_text,
    check_endpoint,
    content_type,
    endpoint_error,
    json_object,
    looks_html,
    show_url,
    unconfirmed,
)
from credenza.oauth.plan import parts_of
from credenza.oauth.untrusted import Sent, parse_json
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials, ClientProtocol, Plan


def plan_post_form(
    protocol: ClientProtocol,
    endpoint: Endpoint,
    url: str,
    credentials: ClientCredentials,
    form: dict[str, str],
) -> Plan[dict[str, Any]]:
    """A client-authenticated POST whose 200 answer is a JSON object (RFC 8628 §3.1)."""
    answer = yield from protocol.plan_call(endpoint, url, credentials, form=form)
    if answer.status != 200:
        raise endpoint_error(endpoint, url, *parts_of(answer), credentials.profile, answer.sent)
    data = json_object(answer.body)
    if data is None:
        raise InvalidResponseError(
            f"the {endpoint.replace('_', ' ')} endpoint {show_url(url)} did not answer with "
            "a JSON object"
        )
    return data


def plan_revoke(
    protocol: ClientProtocol,
    credentials: ClientCredentials,
    url: str,
    token: Secret,
    hint: str = "access_token",
) -> Plan[None]:
    """RFC 7009 revocation with client authentication.

    Only the spec's answer confirms it: 200 (also for a token the server does not know). An
    HTML page (a login or error page served with 200) or any other 2xx raises
    RevocationUnconfirmedError; the caller drops its cached copy either way.
    """
    form = {"token": token.reveal(), "token_type_hint": hint}
    answer = yield from protocol.plan_call("revocation", url, credentials, form=form)
    if answer.status == 200 and not looks_html(answer.headers, answer.body):
        return
    if 200 <= answer.status < 300:
        raise unconfirmed("revocation", url, answer, "HTTP 200 (RFC 7009)")
    raise endpoint_error("revocation", url, *parts_of(answer), credentials.profile, answer.sent)


def plan_logout(
    protocol: ClientProtocol, url: str, token: Secret, profile: Profile = GENERIC
) -> Plan[None]:
    """Logout by GET with a Bearer header, confirmed only by the profile's answer
    (Telenor: 200 with ``OK!``); anything else raises RevocationUnconfirmedError."""
    check_endpoint(url, "logout endpoint")
    headers = {"Authorization": f"Bearer {token.reveal()}"}
    sent = Sent(token.reveal(), headers["Authorization"])
    answer = yield from protocol.plan_exchange("logout", "GET", url, headers=headers, sent=sent)
    if answer.status == 200 and body_text(answer.body) == profile.logout_answer:
        return
    if 200 <= answer.status < 300:
        raise unconfirmed("logout", url, answer, f"HTTP 200 {profile.logout_answer!r}")
    raise endpoint_error("logout", url, *parts_of(answer), profile, answer.sent)


def plan_introspect(
    protocol: ClientProtocol, credentials: ClientCredentials, url: str, token: Secret
) -> Plan[dict[str, Any]]:
    """RFC 7662 introspection, authenticated as the client.

    The answer is returned as the server sent it: show it only through ``untrusted.clean``
    and ``tokens.claim_time``.
    """
    form = {"token": token.reveal(), "token_type_hint": "access_token"}
    answer = yield from protocol.plan_call("introspection", url, credentials, form=form)
    if answer.status != 200:
        raise endpoint_error(
            "introspection", url, *parts_of(answer), credentials.profile, answer.sent
        )
    data = json_object(answer.body)
    if data is None or not isinstance(data.get("active"), bool):
        raise InvalidResponseError(
            f"the introspection endpoint {show_url(url)} did not answer with an RFC 7662 object"
        )
    return data


def plan_probe(protocol: ClientProtocol, url: str) -> Plan[Answer]:
    """A HEAD without credentials (`credenza doctor`): is the endpoint there, and what time
    does its ``Date`` header say. Any status is an answer; a redirect is refused as always."""
    check_endpoint(url, "token endpoint")
    return (yield from protocol.plan_exchange("token", "HEAD", url, headers={}))


def plan_admin(
    protocol: ClientProtocol,
    method: str,
    url: str,
    token: Secret,
    body: dict[str, Any] | None = None,
) -> Plan[Any]:
    """A call to a provider's admin API with its Bearer admin token (SECURITY.md promise
    33): the same deadline, body cap, redirect refusal and TLS settings as every OAuth call,
    and an error that echoes the token (or anything else sent) shows none of it."""
    import json

    check_endpoint(url, "admin URL")
    headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
    content = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    sent = Sent(token.reveal(), headers["Authorization"])
    answer = yield from protocol.plan_exchange(
        "admin", method, url, headers=headers, sent=sent, content=content
    )
    if answer.status >= 400:
        raise endpoint_error("admin", url, *parts_of(answer), GENERIC, answer.sent)
    if not answer.body.strip():
        return None
    try:
        return parse_json(answer.body)
    except ValueError as why:
        raise InvalidResponseError(
            f"the admin endpoint {show_url(url)} answered HTTP {answer.status} with "
            f"something that is not JSON credenza can read ({content_type(answer)}: {why})",
            hint="check the provider's admin URL",
        ) from None
