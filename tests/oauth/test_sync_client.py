"""The blocking OAuth client (one-shot CLI calls) and the async one run the same protocol: against
the sandbox and misbehaving servers on 127.0.0.1, both get the same token or the same error, word
for word, after the same number of requests. Every test runs the blocking client on both of its
engines: the standard library's http.client and httpx."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from credenza.errors import CredenzaError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.plan import ClientCredentials
from credenza.oauth.sync_client import Engine, SyncOAuthClient
from credenza.oauth.transcript import Transcript
from credenza.oauth.transport import HttpSettings
from credenza.providers.profiles import resolve_profile
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.servers import (
    closed_port,
    drip_app,
    huge_app,
    redirect_app,
    scripted_app,
    serve,
    silent_listener,
)

CANARY = "cAnArY-5d1e0c7b9a8f4e3d2c1b0a9f8e7d6c5b4a3f"

Outcome = tuple[Any, ...]


@pytest.fixture(autouse=True, params=["stdlib", "httpx"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Every blocking client this module makes runs on this engine."""
    chosen: Engine = request.param
    monkeypatch.setattr(
        sys.modules[__name__], "SyncOAuthClient", partial(SyncOAuthClient, engine=chosen)
    )
    return chosen


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """A token's type and scopes, or the error's type, words, kind and exit code."""
    try:
        token = call()
    except CredenzaError as error:
        return (type(error).__name__, str(error), getattr(error, "kind", None), error.exit_code)
    return ("token", token.token_type, token.scopes, token.access_token.reveal() != "")


def via_async(credentials: ClientCredentials, settings: HttpSettings = FAST) -> Outcome:
    async def fetch() -> Any:
        client = OAuthClient(settings)
        try:
            return await client.grant(client_credentials.plan, credentials)
        finally:
            await client.aclose()

    return outcome_of(lambda: asyncio.run(fetch()))


def via_sync(credentials: ClientCredentials, settings: HttpSettings = FAST) -> Outcome:
    def fetch() -> Any:
        client = SyncOAuthClient(settings)
        try:
            return client.grant(client_credentials.plan, credentials)
        finally:
            client.close()

    return outcome_of(fetch)


def both(credentials: ClientCredentials, settings: HttpSettings = FAST) -> tuple[Outcome, Outcome]:
    """The same token call through the async client, then through the blocking one."""
    return via_async(credentials, settings), via_sync(credentials, settings)


def creds(url: str, **options: Any) -> ClientCredentials:
    return ClientCredentials(token_url=url, client_id="a", secret=Secret(CANARY), **options)


def test_a_sandbox_token_is_the_same_through_both_clients(sandbox: SandboxServer) -> None:
    client = sandbox.state.add_client(
        {"scope": "read write", "token_endpoint_auth_method": "client_secret_post"}
    )
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token",
        client_id=client.client_id,
        secret=Secret(client.client_secret),
        scopes=("read",),
        auth_method="client_secret_post",
    )
    async_way, sync_way = both(credentials)
    assert async_way == sync_way == ("token", "Bearer", ("read",), True)
    forms = [request["form"] for request in sandbox.state.requests[-2:]]
    assert forms[0] == forms[1]
    assert forms[1]["client_secret"] == client.client_secret


@pytest.mark.parametrize("path", ["/oauth/a b", "/oauth/t\u00e9?x=\u00e9 1", "/oauth/t%C3%A9"])
def test_a_token_url_with_spaces_or_accents_is_sent_as_httpx_sends_it(path: str) -> None:
    """A config may hold such a URL (it parses): both clients percent-encode it the same way,
    and a path the server cannot serve is the server's answer, never a local failure."""
    targets: list[bytes] = []

    async def token(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        targets.append(scope["raw_path"] + b"?" + scope["query_string"])
        body = json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 60})
        await send(
            {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"application/json")]}
        )  # fmt: skip
        await send({"type": "http.response.body", "body": body.encode()})

    with serve(token) as server:  # type: ignore[arg-type]
        async_way, sync_way = both(creds(f"{server.issuer}{path}"))
    assert async_way == sync_way == ("token", "Bearer", (), True)
    assert targets[0] == targets[1]
    assert b" " not in targets[1]
    assert targets[1].isascii()


@pytest.mark.parametrize("mode", ["html", "malformed_json", "drop", "error"])
def test_sandbox_faults_read_the_same_through_both_clients(
    sandbox: SandboxServer, mode: str
) -> None:
    client = sandbox.state.add_client({"scope": "read"})
    sandbox.state.add_fault({"mode": mode, "client_id": client.client_id})
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token",
        client_id=client.client_id,
        secret=Secret(client.client_secret),
    )
    async_way, sync_way = both(credentials)
    assert async_way == sync_way
    assert async_way[0] != "token"
    assert client.client_secret not in async_way[1]


def test_a_wrong_secret_is_classified_the_same(sandbox: SandboxServer) -> None:
    client = sandbox.state.add_client({"scope": "read"})
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token", client_id=client.client_id, secret=Secret(CANARY)
    )
    async_way, sync_way = both(credentials)
    assert async_way == sync_way
    assert async_way[0] == "TokenEndpointError"
    assert async_way[2] == "wrong_secret"
    assert async_way[3] == 1


@pytest.mark.parametrize(
    ("responses", "requests"),
    [
        (
            [
                (503, {}, b""),
                (503, {}, b""),
                (200, {}, b'{"access_token": "t", "token_type": "Bearer"}'),
            ],
            3,
        ),
        (
            [
                (429, {"retry-after": "0"}, b""),
                (200, {}, b'{"access_token": "t", "token_type": "x"}'),
            ],
            2,
        ),
        ([(400, {"content-type": "application/json"}, b'{"error": "invalid_request"}')], 1),
        ([(401, {"content-type": "application/json"}, b'{"error": "invalid_client"}')], 1),
        ([(503, {"retry-after": "100000"}, b"")], 1),
        ([(503, {}, b"")], 3),
        ([(200, {"content-type": "text/html"}, b"<html><title>Sign in</title></html>")], 1),
        (
            [
                (
                    200,
                    {},
                    json.dumps({"access_token": CANARY, "token_type": "\x1b]52;c;x\x07"}).encode(),
                )
            ],
            1,
        ),
    ],
)
def test_retries_and_answers_are_decided_the_same(
    responses: list[tuple[int, dict[str, str], bytes]], requests: int
) -> None:
    outcomes = []
    for fetch in (via_async, via_sync):
        seen: list[bytes] = []
        with serve(scripted_app(responses, seen)) as server:
            outcome = fetch(creds(f"{server.issuer}/token"))
        # Each side has its own server: the same words but for the port.
        outcomes.append(tuple(str(part).replace(server.issuer, "SERVER") for part in outcome))
        assert len(seen) == requests  # as many requests as the protocol says, on both
    assert outcomes[0] == outcomes[1]
    assert CANARY not in repr(outcomes[0])


def test_numbered_provider_codes_read_the_same() -> None:
    seen: list[bytes] = []
    body = json.dumps({"error": "invalid_client", "error_code": "1001"}).encode()
    with serve(scripted_app([(401, {"content-type": "application/json"}, body)], seen)) as server:
        async_way, sync_way = both(creds(f"{server.issuer}/t", profile=resolve_profile("telenor")))
    assert async_way == sync_way
    assert "code" in async_way[1]


@pytest.mark.parametrize("status", [302, 307])
def test_redirects_are_refused_the_same_and_the_target_gets_nothing(status: int) -> None:
    received: list[bytes] = []
    with (
        serve(scripted_app([(200, {}, b"{}")], received)) as target,
        serve(redirect_app(f"{target.issuer}/token", status)) as origin,
    ):
        async_way, sync_way = both(creds(f"{origin.issuer}/token"))
    assert async_way == sync_way
    assert async_way[0] == "RedirectRefusedError"
    assert received == []


def test_unreachable_and_silent_servers_fail_the_same() -> None:
    refused = both(creds(closed_port()))
    assert refused[0] == refused[1]
    assert "connection refused" in refused[0][1]
    with silent_listener() as url:
        silent = both(creds(url), replace(FAST, read_timeout=0.3, deadline=5.0))
    assert silent[0] == silent[1]
    assert "sent nothing" in silent[0][1]


def test_plain_http_to_another_host_is_refused_by_both_before_sending() -> None:
    async_way, sync_way = both(creds("http://id.example.com/token"))
    assert async_way == sync_way
    assert async_way[0] == "InsecureEndpointError"


def test_a_huge_body_is_cut_off_the_same() -> None:
    with serve(huge_app(3)) as server:
        async_way, sync_way = both(creds(f"{server.issuer}/token"))
    assert async_way == sync_way
    assert "more than 1024 KiB" in async_way[1]


def test_a_dripping_body_is_cut_off_at_the_deadline_by_both() -> None:
    with serve(drip_app(0.1)) as server:
        async_way, sync_way = both(
            creds(f"{server.issuer}/token"), replace(FAST, read_timeout=2.0, deadline=0.8)
        )
    assert async_way == sync_way
    assert "deadline" in async_way[1]


@contextmanager
def header_drip() -> Iterator[str]:
    """Answers every connection with a status line, then one header byte every 0.1 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.1):
                try:
                    conn.sendall(b"X")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/token"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_a_server_dripping_its_headers_is_cut_off_at_the_deadline_by_both() -> None:
    with header_drip() as url:
        async_way, sync_way = both(creds(url), replace(FAST, read_timeout=2.0, deadline=0.5))
    assert async_way == sync_way
    assert "deadline" in async_way[1]


def test_the_deadline_alarm_leaves_an_outer_alarm_armed() -> None:
    """A test runner's (or a caller's) own SIGALRM timeout survives a blocking call."""
    import signal

    rang: list[int] = []

    def outer(signum: int, frame: object) -> None:
        rang.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        with header_drip() as url:
            client = SyncOAuthClient(replace(FAST, read_timeout=2.0, deadline=0.5))
            with pytest.raises(CredenzaError, match="deadline"):
                client.grant(client_credentials.plan, creds(url))
            client.close()
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
        assert signal.getsignal(signal.SIGALRM) is outer  # the caller's handler is back too
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert rang == []


def test_verbose_sees_the_same_masked_exchange(sandbox: SandboxServer) -> None:
    client = sandbox.state.add_client({"scope": "read"})
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token",
        client_id=client.client_id,
        secret=Secret(client.client_secret),
    )
    seen: dict[str, list[Transcript]] = {"async": [], "sync": []}

    async def fetch_async() -> None:
        oauth = OAuthClient(FAST)
        oauth.observer = seen["async"].append
        await oauth.grant(client_credentials.plan, credentials)
        await oauth.aclose()

    asyncio.run(fetch_async())
    blocking = SyncOAuthClient(FAST)
    blocking.observer = seen["sync"].append
    blocking.grant(client_credentials.plan, credentials)
    blocking.close()
    (first,), (second,) = seen["async"], seen["sync"]
    assert first.request_lines() == second.request_lines()
    assert first.curl() == second.curl()
    for exchange in (first, second):
        shown = "\n".join([*exchange.request_lines(), *exchange.response_lines(), exchange.curl()])
        assert client.client_secret not in shown


def test_a_busy_server_past_the_deadline_reads_the_same() -> None:
    seen: list[bytes] = []
    with serve(scripted_app([(503, {"retry-after": "1"}, b"")], seen)) as server:
        settings = replace(FAST, deadline=0.5, retry_after_cap=30.0)
        async_way, sync_way = both(creds(f"{server.issuer}/token"), settings)
    assert async_way == sync_way
    # It asked for longer than the time left: its answer at once, one request per client.
    assert async_way[0] == "TokenEndpointError"
    assert len(seen) == 2
