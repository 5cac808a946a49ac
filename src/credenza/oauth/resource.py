"""Calls on a protected resource (an API) with a token: the plan of one call, and what its
``WWW-Authenticate`` challenges say (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from credenza.oauth.answers import Answer, check_endpoint
from credenza.oauth.exchange import Exchange
from credenza.oauth.protocol import (
    Attempt,
    ClientProtocol,
    ConnectFailure,
    DeadlineReached,
    Pause,
    Plan,
    _deadline_error,
    _jittered,
)
from credenza.oauth.untrusted import Sent

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
                Exchange(
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
