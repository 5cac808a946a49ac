"""Mix-up defence (SECURITY.md promise 34, RFC 9207): where the issuer's metadata advertises
`authorization_response_iss_parameter_supported`, a sign-in answer without `iss`, or with another
issuer's, is refused and its code never exchanged; where it does not, an `iss` that comes must
still name the issuer. Through `credenza login` against the sandbox's app over real HTTP, made
to misbehave on the way back (the sandbox itself always sends the right `iss`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from credenza.sandbox import SandboxServer, SandboxState
from credenza.sandbox.app import create_app
from credenza.sandbox.server import LoopbackServer
from tests.conftest import CliRunner
from tests.grants_helpers import add_user_app, code_exchanges
from tests.servers import free_callback

HONEST = "the server's own"
ASGI = Any  # scope, receive and send of the ASGI interface, untyped here as in Starlette


class MixedUpSandbox(LoopbackServer):
    """The sandbox's app and state, its authorization answers carrying ``iss`` (None: none;
    HONEST: its own), its metadata advertising RFC 9207 or not."""

    def __init__(self, iss: str | None, *, advertise: bool) -> None:
        self.state = SandboxState(token_ttl=300, auto_approve=True)
        self._iss = iss
        self._advertise = advertise
        self._app = create_app(self.state, lambda: self.issuer)
        super().__init__(self._asgi, interface="asgi3")

    async def _asgi(self, scope: ASGI, receive: ASGI, send: ASGI) -> None:
        path = scope.get("path", "")
        if path.startswith("/.well-known/"):
            await self._app(scope, receive, self._metadata_sender(send))
        elif path == "/oauth/authorize":
            await self._app(scope, receive, self._redirect_sender(send))
        else:
            await self._app(scope, receive, send)

    def _redirect_sender(self, send: ASGI) -> ASGI:
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self._iss != HONEST:
                message = {
                    **message,
                    "headers": [
                        (name, self._rewritten(value) if name == b"location" else value)
                        for name, value in message["headers"]
                    ],
                }
            await send(message)

        return sending

    def _rewritten(self, location: bytes) -> bytes:
        parts = urlsplit(location.decode())
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "iss"]
        if self._iss is not None:
            query.append(("iss", self._iss))
        return urlunsplit(parts._replace(query=urlencode(query))).encode()

    def _metadata_sender(self, send: ASGI) -> ASGI:
        start: dict[str, Any] = {}
        body = bytearray()

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            data = json.loads(bytes(body))
            if not self._advertise:
                data.pop("authorization_response_iss_parameter_supported", None)
            encoded = json.dumps(data).encode()
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(encoded)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": encoded})

        return sending


@pytest.fixture
def mixed_up(request: pytest.FixtureRequest) -> Iterator[MixedUpSandbox]:
    iss, advertise = request.param
    with MixedUpSandbox(iss, advertise=advertise) as server:
        yield server


def login(cli: CliRunner, sandbox: SandboxServer | MixedUpSandbox) -> tuple[int, str, str]:
    callback = free_callback()  # the application's one registered callback, as Pipedrive's
    add_user_app(cli, sandbox, callback, callback=callback)
    return cli("login", "pipedrive-crm", "--timeout", "20")


@pytest.mark.parametrize(
    ("mixed_up", "says"),
    [
        ((None, True), "has no iss"),
        (("https://attacker.example", True), "attacker.example"),
        (("https://attacker.example", False), "attacker.example"),
    ],
    indirect=["mixed_up"],
    ids=["advertised-no-iss", "advertised-other-iss", "not-advertised-other-iss"],
)
def test_an_answer_without_or_with_another_iss_is_refused_and_its_code_never_exchanged(
    mixed_up: MixedUpSandbox, says: str, cli: CliRunner, browser: list[str]
) -> None:
    code, out, err = login(cli, mixed_up)
    assert code == 1
    assert out == ""
    assert says in err
    assert "Traceback" not in err
    assert len(browser) == 1  # the person did sign in at the server; the answer was refused
    assert code_exchanges(mixed_up) == 0
    # Nothing was kept: there is no sign-in to take a token from.
    code, out, err = cli("token", "pipedrive-crm")
    assert code == 1
    assert "credenza login pipedrive-crm" in err


@pytest.mark.parametrize("mixed_up", [(None, False)], indirect=True)
def test_a_server_that_does_not_advertise_rfc_9207_signs_in_without_iss(
    mixed_up: MixedUpSandbox, cli: CliRunner, browser: list[str]
) -> None:
    code, _, err = login(cli, mixed_up)
    assert code == 0, err
    assert code_exchanges(mixed_up) == 1


def test_the_honest_sandbox_sending_its_iss_signs_in(
    sandbox: SandboxServer, cli: CliRunner, browser: list[str]
) -> None:
    sandbox.state.auto_approve = True
    code, _, err = login(cli, sandbox)
    assert code == 0, err
    assert "Signed in to Pipedrive CRM / production" in err
    assert code_exchanges(sandbox) == 1
