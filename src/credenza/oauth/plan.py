"""The OAuth client without I/O: every call as a plan of attempts and pauses, run by two drivers.

A plan (a generator) yields an ``Attempt`` (send one request, read its capped answer) or a
``Pause`` (wait before the next try) and is sent back the ``Answer``, or has the attempt's error
thrown in. ``client.OAuthClient`` runs plans on asyncio (the dashboard, `verify --all`);
``sync_client.SyncOAuthClient`` runs the same plans blocking, for one-shot CLI calls that should
not pay for importing asyncio and anyio. So each protocol decision has one implementation: the
request and its client authentication, which failures are retried and how long to wait, the
overall deadline, the body cap, and how an answer or a failure reads.

Every call is bounded (an overall deadline here; connect and read timeouts, the body cap, no
redirects and loopback-only http in ``transport``) and retries only transient failures
(connection errors, 429/503) with bounded, jittered exponential backoff. The plans themselves live
with what they are for: a grant's in ``grants/``, discovery's in ``discovery``, the other
endpoints' in ``endpoints``, an API call's in ``resource``, registration's in ``registration``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from credenza.errors import (
    CredenzaError,
    InvalidResponseError,
    TokenEndpointError,
    TransportError,
)
from credenza.oauth.answers import (
    Answer,
    Endpoint,
    as_requested,
    check_endpoint,
    content_type,
    endpoint_error,
    host_of,
    json_object,
    show_url,
)
from credenza.oauth.auth import OutgoingRequest, method_for
from credenza.oauth.binding.dpop import BINDING, DpopKey, usable_nonce
from credenza.oauth.params import check_extra_params
from credenza.oauth.tokens import Token, parse_token_response
from credenza.oauth.transcript import PERSONAL_SECRETS, SECRET_FIELDS, Transcript
from credenza.oauth.transport import (
    BodyReader,
    ConnectFailure,
    DeadlineReached,
    HttpSettings,
    TlsIdentity,
    form_body,
    refuse_redirect,
)
from credenza.oauth.untrusted import NOTHING, Sent, parse_json
from credenza.providers.profiles import GENERIC, Profile
from credenza.secrets import Secret

T = TypeVar("T")


@dataclass(frozen=True)
class ClientCredentials:
    """What one token request needs: where, who, how to authenticate, and what to ask for."""

    token_url: str
    client_id: str
    secret: Secret
    auth_method: str = "client_secret_basic"
    basic_auth_encoding: str = "rfc6749"
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    resource: str | None = None
    extra_params: Mapping[str, str] = field(default_factory=dict)
    profile: Profile = GENERIC
    # private_key_jwt: the key's id at the provider, and the assertion's aud when the server
    # wants its issuer rather than the token endpoint URL.
    key_id: str | None = None
    assertion_audience: str | None = None
    # tls_client_auth / self_signed_tls_client_auth: the certificate file (its key is `secret`).
    certificate: str | None = None
    # RFC 9449: the environment's DPoP key; every token request then carries a proof.
    dpop: DpopKey | None = None


@dataclass(frozen=True)
class Attempt:
    """Send one request and read its answer, all before ``ends_at`` (time.monotonic())."""

    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str] | None
    sent: Sent
    tls: TlsIdentity | None
    ends_at: float
    # A body other than a form, sent as it is instead of ``form``: a provider's admin API,
    # RFC 7591's JSON client metadata, an API call's -d or --input; and a cap of its own for
    # the answer (an API's body is what was asked for, larger than any OAuth answer).
    content: bytes | None = None
    max_body: int | None = None

    def timeouts(self, settings: HttpSettings) -> tuple[float, float]:
        """The configured (connect, read) timeouts, neither reaching past the overall deadline."""
        left = max(0.001, self.ends_at - time.monotonic())
        return min(settings.connect_timeout, left), min(settings.read_timeout, left)

    def body(self) -> bytes | None:
        """What goes out after the headers: the form encoded, or the content as it is."""
        if self.content is not None:
            return self.content
        return form_body(self.form) if self.form else None

    def reader(self, status: int, headers: Mapping[str, str], settings: HttpSettings) -> BodyReader:
        """What reads the body of an answer; a redirect is refused before any of it is read."""
        refuse_redirect(self.url, self.sent, status, headers)
        limit = self.max_body or settings.max_body_bytes
        return BodyReader(self.url, self.ends_at, headers, limit, api=self.max_body is not None)

    def answer(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request_headers: Mapping[str, str],
    ) -> Answer:
        return Answer(status, headers, body, self.sent, request_headers)


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next attempt (always less than the time left)."""

    seconds: float


Action = Attempt | Pause
Plan = Generator[Action, Answer | None, T]


class Run(Generic[T]):
    """One plan being driven: the driver performs each action and reports how it went."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self._reply: Answer | None = None
        self._failure: BaseException | None = None
        self.result: T

    def next(self) -> Action | None:
        """The next action, or None when the plan is done (``result`` then holds its value)."""
        reply, failure = self._reply, self._failure
        self._reply = self._failure = None
        try:
            return self._plan.send(reply) if failure is None else self._plan.throw(failure)
        except StopIteration as done:
            self.result = done.value
            return None

    def answered(self, reply: Answer | None) -> None:
        self._reply = reply

    def failed(self, failure: CredenzaError | DeadlineReached) -> None:
        self._failure = failure


class ClientProtocol:
    """The calls of the OAuth client as plans; a driver subclass runs them."""

    def __init__(
        self, settings: HttpSettings | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings or HttpSettings()
        self.clock = clock or (lambda: datetime.now(UTC))
        # `--verbose`: handed the transcript of every attempt, masked by the observer's printing.
        self.observer: Callable[[Transcript], None] | None = None
        # RFC 9449 §8, §9: the last DPoP nonce each server gave, by ("token" | "api", origin).
        self.dpop_nonces: dict[tuple[str, str], str] = {}

    def dpop_nonce(self, kind: str, url: str, answer: Answer | None = None) -> str | None:
        """The nonce to put in the next proof for ``url``; ``answer``'s DPoP-Nonce first kept."""
        from credenza.oauth.origins import origin_of

        key = (kind, origin_of(url))
        nonce_header = BINDING.nonce_header.lower()
        if answer is not None and (given := usable_nonce(answer.headers.get(nonce_header))):
            self.dpop_nonces[key] = given
        return self.dpop_nonces.get(key)

    # -- the token request every grant makes (oauth/grants/) ------------------------------------

    def plan_request_token(
        self, credentials: ClientCredentials, form: dict[str, str]
    ) -> Plan[Token]:
        """A token request with the form a grant built (oauth/grants/), client-authenticated.

        A response without ``scope`` granted what was requested (RFC 6749 §5.1)."""
        url = credentials.token_url
        if credentials.resource and "resource" not in form:
            # RFC 8707 §2.2: the resource on every token request, refresh and code exchange too.
            form = {**form, "resource": credentials.resource}
        answer = yield from self.plan_call("token", url, credentials, form=form)
        if answer.status != 200:
            raise endpoint_error("token", url, *parts_of(answer), credentials.profile, answer.sent)
        try:
            body = parse_json(answer.body)
        except ValueError as why:
            raise InvalidResponseError(
                f"the token endpoint {show_url(url)} answered 200 with something that is not "
                f"JSON credenza can read ({content_type(answer)}: {why})",
                hint="check that the token URL is the provider's token endpoint",
            ) from None
        token = parse_token_response(body, issued_at=self.clock(), sent=answer.sent)
        requested = tuple(form["scope"].split()) if form.get("scope") else credentials.scopes
        return as_requested(token, requested)

    # -- one call: the request, its retries and its deadline ------------------------------------

    def plan_call(
        self, endpoint: Endpoint, url: str, credentials: ClientCredentials, *, form: dict[str, str]
    ) -> Plan[Answer]:
        """A client-authenticated POST of ``form`` (a token, revocation, introspection or device
        authorization request); on a token endpoint with DPoP, once more if it wants a nonce."""
        check_endpoint(url, f"{endpoint} endpoint")
        # A config edited by hand gets the same refusal as --param: extra parameters never
        # replace what the grant itself sends, and never carry a secret.
        check_extra_params(credentials.extra_params)
        dpop = credentials.dpop if endpoint == "token" else None
        nonce = self.dpop_nonce("token", url) if dpop is not None else None
        for attempt in (1, 2):
            answer: Answer = yield from self._plan_one_call(endpoint, url, credentials, form, nonce)
            if dpop is None:
                return answer
            given = self.dpop_nonce("token", url, answer)
            # RFC 9449 §8: a server that wants a nonce says use_dpop_nonce and gives one; the
            # request is made once more with it (and a new proof), never more.
            if attempt == 1 and answer.status in (400, 401) and given and given != nonce:
                data = json_object(answer.body) if answer.status == 400 else None
                if data is not None and data.get("error") == "use_dpop_nonce":
                    nonce = given
                    continue
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan_one_call(
        self,
        endpoint: Endpoint,
        url: str,
        credentials: ClientCredentials,
        form: dict[str, str],
        nonce: str | None,
    ) -> Plan[Answer]:
        method = method_for(credentials.auth_method)
        request = OutgoingRequest(url, dict(form), {"Accept": "application/json"})
        method.apply(credentials, request, self.clock())
        proof = None
        if endpoint == "token" and credentials.dpop is not None:
            proof = credentials.dpop.proof("POST", url, self.clock(), nonce=nonce)
            request.headers[BINDING.header] = proof
        tls: TlsIdentity | None = None
        if (identity := method.tls_identity(credentials)) is not None:
            tls = (identity, lambda: method.ssl_context(credentials, self.settings.ca_bundle))
        authorization = request.headers.get("Authorization", "")
        # Form fields whose values are credentials: an echo of any of them is redacted (the
        # same list --verbose masks, in one place).
        sent = Sent(
            credentials.secret.reveal(),
            authorization,
            authorization.partition(" ")[2],
            proof,
            *(value for key, value in request.form.items() if key in SECRET_FIELDS),
            always=(value for key, value in request.form.items() if key in PERSONAL_SECRETS),
        )
        return (
            yield from self.plan_exchange(
                endpoint,
                "POST",
                url,
                headers=request.headers,
                form=request.form,
                profile=credentials.profile,
                sent=sent,
                tls=tls,
                basic_encoding=credentials.basic_auth_encoding,
            )
        )

    def plan_exchange(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        form: dict[str, str] | None = None,
        profile: Profile = GENERIC,
        sent: Sent = NOTHING,
        tls: TlsIdentity | None = None,
        content: bytes | None = None,
        basic_encoding: str = "rfc6749",
    ) -> Plan[Answer]:
        """One call with retries on transient failures, all inside one overall deadline."""
        settings = self.settings
        ends_at = time.monotonic() + settings.deadline
        attempts = max(1, settings.retry_attempts)
        number = 0
        while True:
            number += 1
            try:
                reply = yield Attempt(method, url, headers, form, sent, tls, ends_at, content)
                assert reply is not None
                if self.observer is not None:
                    self.observer(
                        Transcript(
                            method,
                            url,
                            dict(reply.request_headers or headers),
                            form,
                            reply.status,
                            dict(reply.headers),
                            reply.body,
                            sent,
                            basic_encoding,
                        )
                    )
                if reply.status in (429, 503):
                    raise endpoint_error(endpoint, url, *parts_of(reply), profile, sent)
                return reply
            except DeadlineReached:
                raise _deadline_error(url, settings, None) from None
            except CredenzaError as error:
                wait = self._backoff(error, ends_at - time.monotonic())
                if wait is False or number >= attempts:
                    raise
                if wait is True:
                    wait = _jittered(number, settings)
                if time.monotonic() + wait >= ends_at:
                    # The wait would outlast the deadline: a busy answer is the server's "come
                    # back later", anything else a server too slow to answer.
                    busy = error if isinstance(error, TokenEndpointError) else None
                    raise _deadline_error(url, settings, busy) from None
            yield Pause(wait)

    def _backoff(self, error: Exception, remaining: float = math.inf) -> bool | float:
        """Which failures are transient, and how long to wait before the next try (True: the
        jittered exponential backoff).

        A server asking for longer than the time left (``Retry-After: 100000``) gets its answer
        at once, not a wait that ends in a timeout.
        """
        if isinstance(error, ConnectFailure):
            return True
        if isinstance(error, TokenEndpointError) and error.status in (429, 503):
            if error.retry_after is None:
                return True
            if error.retry_after > remaining:
                return False
            return min(error.retry_after, self.settings.retry_after_cap)
        return False


def _jittered(number: int, settings: HttpSettings) -> float:
    """Exponential backoff for retry ``number`` (1-based), plus up to ``wait_jitter`` of random
    jitter, never more than ``wait_max`` (zero in tests: retries are counted, never waited for)."""
    jitter = random.uniform(0, settings.wait_jitter) if settings.wait_jitter else 0.0  # noqa: S311
    try:
        return min(settings.wait_max, settings.wait_initial * 2.0 ** (number - 1) + jitter)
    except OverflowError:
        return settings.wait_max


def _deadline_error(
    url: str, settings: HttpSettings, busy: TokenEndpointError | None
) -> TransportError:
    if busy is not None:
        return TransportError(
            f"{host_of(url)} was still busy (HTTP {busy.status}) when the "
            f"{settings.deadline:g} s deadline ran out",
            hint="the provider is rate-limiting or down; try again later",
        )
    return TransportError(
        f"{host_of(url)} did not finish answering within the {settings.deadline:g} s deadline",
        hint="the server is too slow or dripping its answer; try again later, or raise "
        "deadline under [settings]",
    )


def parts_of(answer: Answer) -> tuple[int, Mapping[str, str], bytes]:
    return answer.status, answer.headers, answer.body
