"""Calls on an environment's API with its token (`credenza api`): where a call may go, what it
sends, and the one retry after the API said the token is no good."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from credenza.config.changes import EnvironmentChange
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.services.binding import origin
from credenza.services.context import Context, in_thread
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.tokens.records import SessionToken

if TYPE_CHECKING:
    from credenza.oauth.answers import Answer
    from credenza.oauth.untrusted import Sent
    from credenza.services.credentials import Credentials
    from credenza.services.tokens import Tokens

# RFC 9110 §5.1 field names; a value is visible ASCII, spaces and tabs (no CR or LF).
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers credenza sets itself: the credential, and what says where the request goes.
_OWN_HEADERS = frozenset({"authorization", "dpop", "host", "content-length", "cookie"})


@dataclass(frozen=True)
class ApiCall:
    """What to call: a path on the API URL (or an absolute URL on its origin) and the request."""

    target: str
    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # -f key=value: the query of a GET, else a JSON object as the body.
    fields: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiResponse:
    """The API's answer: status, headers in the order sent, the (capped) body, and what
    credenza sent to get it (the token, the proof), which output masks."""

    method: str
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    sent: Sent
    # The API refused the token (invalid_token) and one fresh token was tried.
    retried: bool = False
    token_type: str = "Bearer"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class ApiCalls:
    """`credenza api`: the environment's token on a call to the environment's API."""

    def __init__(
        self,
        context: Context,
        environments: Environments,
        credentials: Credentials,
        tokens: Tokens,
    ) -> None:
        self._context = context
        self._environments = environments
        self._credentials = credentials
        self._tokens = tokens

    async def endpoints_from_api(self, api_url: str) -> tuple[EnvironmentChange, str]:
        """An environment's fields found from its API alone (RFC 9728, then RFC 8414 / OIDC):
        the API's metadata names its first authorization server, whose metadata gives the
        endpoints; the API's resource identifier is recorded and sent on every token request
        (RFC 8707). Returns the change and where the metadata was found."""
        import msgspec

        metadata = await self._context.client.resource_metadata(api_url)
        found = await self._environments.endpoints_from_issuer(metadata.authorization_servers[0])
        change = msgspec.structs.replace(found, resource=metadata.resource, api_url=api_url)
        return change, metadata.source

    def url_for(self, resolved: ResolvedEnvironment, target: str) -> str:
        """The URL a call goes to: PATH under the API URL, or an absolute URL on its origin."""
        base = resolved.api_url
        if not base:
            raise ValidationError(
                f"{resolved.label} has no API URL",
                hint="set one: {0}",
                next_steps=(
                    step(
                        "edit_environment",
                        resolved.application.id,
                        resolved.name,
                        api_url="https://api.example.com",
                    ),
                ),
            )
        target = target.strip()
        if not target or any(not ch.isprintable() or ch.isspace() for ch in target):
            raise ValidationError(
                "give a path on the API (e.g. /users/me) or a URL on its origin, without spaces"
            )
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target):
            if urlsplit(target).scheme.lower() not in ("http", "https") or origin(target) != origin(
                base
            ):
                from credenza.oauth.untrusted import clean

                raise ValidationError(
                    f"{clean(target, limit=160)} is not on the API's origin "
                    f"{origin(base)}; nothing was sent",
                    hint="the token goes to the environment's API URL only: give a path on it, "
                    "or change the API URL with `{0}`",
                    next_steps=(step("edit_environment", "...", None, api_url="URL"),),
                )
            return target
        return base.rstrip("/") + "/" + target.lstrip("/")

    def request_for(self, call: ApiCall, url: str) -> tuple[str, str, dict[str, str], bytes | None]:
        """(method, url, headers, body) from the call's options; bad input raises."""
        if call.fields and call.body is not None:
            raise ValidationError("give fields (-f) or a body (-d / --input), not both")
        method = (
            call.method or ("POST" if call.fields or call.body is not None else "GET")
        ).upper()
        if not _FIELD_NAME.fullmatch(method):
            raise ValidationError(f"{method!r} is not an HTTP method", hint="e.g. -X POST")
        headers: dict[str, str] = {"Accept": "application/json"}
        for name, value in call.headers:
            if (
                not _FIELD_NAME.fullmatch(name)
                or any(ch in value for ch in "\r\n\0")
                or not value.isprintable()
            ):
                raise ValidationError(
                    "a header is 'Name: value', the value on one line", hint="-H 'Accept: text/csv'"
                )
            if name.lower() in _OWN_HEADERS:
                raise ValidationError(
                    f"credenza sets {name} itself (the token goes only where it was bound)",
                    hint="leave it out; --verbose shows what is sent",
                )
            headers[name] = value
        body = call.body
        if call.fields:
            if method in ("GET", "HEAD", "DELETE"):
                joiner = "&" if urlsplit(url).query else "?"
                url = f"{url}{joiner}{urlencode(list(call.fields))}"
            else:
                body = json.dumps(dict(call.fields)).encode()
                headers.setdefault("Content-Type", "application/json")
        return method, url, headers, body

    async def call(self, app_ref: str, env_name: str | None, call: ApiCall) -> ApiResponse:
        """Send the call with the environment's token (cached, refreshed or fetched as `credenza
        token` does). A 401 whose challenge says invalid_token drops the token, and the call is
        made once more with a fresh one."""
        resolved = self._environments.resolve(app_ref, env_name)
        url = self.url_for(resolved, call.target)
        method, url, headers, body = self.request_for(call, url)
        # The token goes only to an origin the credential was confirmed for (SECURITY.md 16,
        # 24): an API URL on another origin gets nothing until `secret confirm-endpoint`.
        await self._credentials.check_destination(resolved, "api", url)
        app_id, env = resolved.application.id, resolved.name
        scopes = call.scopes or None
        session, _ = await self._tokens.token(app_id, env, scopes)
        answer, sent = await self._send(resolved, session, method, url, headers, body)
        retried = False
        if answer.status == 401 and _challenge_error(answer) == "invalid_token":
            if not session.user:
                await in_thread(self._tokens.drop, session)
            # A person's sign-in stays: its refresh token gets the fresh access token, under the
            # credential's lock (dropping it would sign them out and spend the refresh token).
            session, _ = await self._tokens.token(app_id, env, scopes, use_cache=False)
            answer, sent = await self._send(resolved, session, method, url, headers, body)
            retried = True
        return ApiResponse(
            method,
            url,
            answer.status,
            _header_items(answer.headers),
            answer.body,
            sent,
            retried,
            session.token.token_type,
        )

    async def _send(
        self,
        resolved: ResolvedEnvironment,
        session: SessionToken,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> tuple[Answer, Sent]:
        """One call with the token: Bearer, or DPoP with a fresh proof (and once more with the
        API's nonce when it answers use_dpop_nonce, RFC 9449 §9)."""
        from credenza.oauth.untrusted import Sent

        client = self._context.client
        token = session.token
        access = token.access_token.reveal()
        authorization = f"{token.token_type} {access}"
        outgoing = {**headers, "Authorization": authorization}
        if token.token_type != "DPoP":
            sent = Sent(access, authorization)
            return await client.call_api(method, url, outgoing, body, sent), sent
        key = await in_thread(self._credentials.dpop_key, resolved)
        nonce = client.dpop_nonce("api", url)
        for attempt in (1, 2):
            proof = key.proof(method, url, self._context.clock(), nonce=nonce, access_token=access)
            outgoing["DPoP"] = proof
            sent = Sent(access, authorization, proof)
            answer = await client.call_api(method, url, outgoing, body, sent)
            given = client.dpop_nonce("api", url, answer)
            if (
                attempt == 1
                and answer.status == 401
                and given not in (None, nonce)
                and _challenge_error(answer) == "use_dpop_nonce"
            ):
                nonce = given
                continue
            break
        return answer, sent


def _challenge_error(answer: Answer) -> str | None:
    from credenza.oauth.resource import challenge_error

    return challenge_error(answer)


def _header_items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    multi = getattr(headers, "multi_items", None)
    items: Iterable[tuple[str, str]] = multi() if callable(multi) else headers.items()
    return [(str(k), str(v)) for k, v in items]
