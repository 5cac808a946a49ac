"""SECURITY.md promise 31: the "copy as curl" line of `--verbose` is safe to paste and correct.

A config puts `$(…)`, backticks and `;` into the audience, a scope and the token URL's query;
the printed line is run by a shell with $CLIENT_SECRET set: it runs nothing, and it gets a token
from the sandbox over real HTTP, for each way a client secret travels.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credenza.sandbox import SandboxServer
from tests.conftest import CliRunner
from tests.servers import serve

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="no curl here")

# Each would create a file in the shell's directory if the pasted line ran it.
AUDIENCE = "$(touch PWNED-audience)"
SCOPE = "`touch${IFS}PWNED-scope`;touch${IFS}PWNED-semicolon"
QUERY = "?a=$(touch${IFS}PWNED-query)&b=`touch${IFS}PWNED-tick`;touch${IFS}PWNED-semi"
# Every character RFC 6749 §2.3.1's form-encoding changes, and one that is not ASCII (the ids
# and secrets share no twelve characters: credenza's output hides any echoed piece that long).
SECRET = "Pa+ss%wo:rd é 0123456789"

CASES = {
    # client_secret_basic whose id and secret form-encoding leaves as they are
    "basic": ("paste-basic", None, "client_secret_basic"),
    # client_secret_basic where the encoding matters: curl -u alone would get invalid_client
    "basic-form-encoded": ("id +1%2:é", SECRET, "client_secret_basic"),
    # client_secret_post: the secret in the form
    "post": ("post +1%2:é", SECRET, "client_secret_post"),
}


def hostile_environment(
    cli: CliRunner, sandbox: SandboxServer, client_id: str, secret: str | None, method: str
) -> str:
    """A client at the sandbox and the same in credenza, with a config out to run commands."""
    client = sandbox.state.add_client(
        {
            "client_id": client_id,
            "scope": f"sms:send {SCOPE}",
            "token_endpoint_auth_method": method,
            **({"client_secret": secret} if secret else {}),
        }
    )
    add_hostile(cli, sandbox.issuer, client_id, method, client.client_secret)
    return client.client_secret


def add_hostile(
    cli: CliRunner, issuer: str, client_id: str, method: str, secret: str, *provider: str
) -> None:
    steps = [
        ("app", "add", "Paste", *provider),
        (
            "env",
            "add",
            "paste",
            "production",
            "--client-id",
            client_id,
            "--token-url",
            f"{issuer}/oauth/token{QUERY}",
            "--auth-method",
            method,
            "--audience",
            AUDIENCE,
            "--scope",
            f"sms:send {SCOPE}",
        ),
    ]
    for step in steps:
        code, _, err = cli(*step)
        assert code == 0, err
    code, _, err = cli("secret", "set", "paste", "production", stdin=secret)
    assert code == 0, err


def pasted(command: str, shell: str, secret: str, directory: Path) -> dict[str, object]:
    """``command`` run as a person pasting it would, in an empty ``directory``; its JSON."""
    directory.mkdir()
    done = subprocess.run(
        [shell, "-c", command + " -s"],
        capture_output=True,
        text=True,
        check=False,
        cwd=directory,
        env={**os.environ, "CLIENT_SECRET": secret},
        timeout=30,
    )
    assert sorted(p.name for p in directory.iterdir()) == []  # nothing ran
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize("case", list(CASES))
def test_the_copied_curl_line_runs_nothing_and_gets_a_token(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path, case: str
) -> None:
    client_id, secret, method = CASES[case]
    registered = hostile_environment(cli, sandbox, client_id, secret, method)
    code, _, err = cli("token", "paste", "--verbose", "--no-cache")
    assert code == 0, err  # credenza itself gets the token
    command = next(line for line in err.splitlines() if line.startswith("curl "))
    assert registered not in command
    # bash, and the plain POSIX shell where there is one.
    shells = ["bash"] + (["sh"] if shutil.which("sh") else [])
    for shell in shells:
        answer = pasted(command, shell, registered, tmp_path / shell)
        assert answer.get("token_type") == "Bearer", answer
        issued = sandbox.state.tokens[str(answer["access_token"])]
        assert issued.client_id == client_id
        assert issued.audience == AUDIENCE  # the same request, the hostile text sent as text
        assert SCOPE in issued.scope
    assert not list(Path.cwd().glob("PWNED*"))


def raw_basic_app(client_id: str, secret: str, seen: list[dict[str, str]]) -> Starlette:
    """A token endpoint that takes Basic credentials as they are (Telenor's way, no encoding)."""
    expected = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    async def token(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        seen.append(dict(parse_qsl((await request.body()).decode())))
        return JSONResponse({"access_token": f"at-{len(seen)}", "token_type": "Bearer"})

    return Starlette(routes=[Route("/oauth/token", token, methods=["POST"])])


def test_the_copied_curl_line_sends_raw_basic_credentials_as_they_are(
    cli: CliRunner, tmp_path: Path
) -> None:
    client_id = "raw id+1%é"
    seen: list[dict[str, str]] = []
    with serve(raw_basic_app(client_id, SECRET, seen)) as server:
        assert cli("provider", "add", "rawp", "--basic-encoding", "raw")[0] == 0
        add_hostile(
            cli, server.issuer, client_id, "client_secret_basic", SECRET, "--provider", "rawp"
        )
        code, _, err = cli("token", "paste", "--verbose", "--no-cache")
        assert code == 0, err
        command = next(line for line in err.splitlines() if line.startswith("curl "))
        answer = pasted(command, "bash", SECRET, tmp_path / "bash")
    assert answer["access_token"] == "at-2"
    assert seen[1] == seen[0]  # the same form: the hostile text sent as text
    assert seen[1]["audience"] == AUDIENCE
