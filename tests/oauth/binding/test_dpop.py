"""DPoP (RFC 9449): `env edit --dpop` binds an environment's tokens to its key in the keyring;
token requests and API calls carry proofs the sandbox verifies (htm, htu, iat, jti, ath and the
token's cnf.jkt), a nonce is fetched once when asked for, and a bound token is never handed out
where a proof cannot follow it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt

from credenza.sandbox import SandboxServer
from credenza.sandbox.dpop import ProofProblem, check_proof
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner, add_telenor_via_cli

APP = "telenor-sms"


def _dpop_app(cli: CliRunner, sandbox: SandboxServer, **client: Any) -> None:
    add_telenor_via_cli(cli, sandbox, secret=None)
    sandbox.state.clients["tsms-prod"].use_dpop_nonce = bool(client.get("use_dpop_nonce"))
    code, _, err = cli(
        "env", "edit", APP, "production", "--api-url", f"{sandbox.issuer}/api", "--dpop"
    )
    assert code == 0, err
    secret = sandbox.state.clients["tsms-prod"].client_secret
    assert cli("secret", "set", APP, "production", stdin=secret)[0] == 0


def _requests(sandbox: SandboxServer, path: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.state.requests if str(r["path"]) == path]


def _dpop_keys(keyring: MemoryKeyring) -> list[str]:
    """The keyring entries holding this environment's DPoP key (within the workspace's id)."""
    return [
        value
        for (service, name), value in keyring.entries.items()
        if service == "credenza" and name.endswith(f"{APP}/production/dpop_key")
    ]


def _claims(proof: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(proof, options={"verify_signature": False})
    return claims


def test_a_dpop_bound_token_calls_the_api_with_a_verified_proof(
    cli: CliRunner, sandbox: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    _dpop_app(cli, sandbox)
    code, out, err = cli("api", APP, "/me")
    assert code == 0, err
    me = json.loads(out)
    assert me["token_type"] == "DPoP"
    # The token is bound to the environment's key: the thumbprint the sandbox put in cnf.jkt.
    [token_call] = _requests(sandbox, "/oauth/token")
    proof = token_call["dpop"]
    header = jwt.get_unverified_header(proof)
    assert (header["typ"], header["alg"], header["jwk"]["kty"]) == ("dpop+jwt", "ES256", "EC")
    claims = _claims(proof)
    assert (claims["htm"], claims["htu"]) == ("POST", f"{sandbox.issuer}/oauth/token")
    assert "ath" not in claims
    [api_call] = _requests(sandbox, "/api/me")
    scheme, _, token = str(api_call["authorization"]).partition(" ")
    assert scheme == "DPoP"
    issued = sandbox.state.lookup(token)
    assert issued is not None
    assert me["cnf"]["jkt"] == issued.jkt
    api_claims = _claims(api_call["dpop"])
    assert (api_claims["htm"], api_claims["htu"]) == ("GET", f"{sandbox.issuer}/api/me")
    assert api_claims["ath"]
    assert api_claims["jti"] != claims["jti"]
    # Neither the token nor a proof is in any output.
    for secret in (token, proof, api_call["dpop"]):
        assert secret not in out + err
    # The key is in the keyring, under the environment's name, and nowhere in the config.
    assert _dpop_keys(memory_keyring)


def test_the_api_refuses_a_proof_of_another_key_or_a_bound_token_as_bearer(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    import time
    from datetime import UTC, datetime

    from credenza.oauth.binding.dpop import DpopKey, new_key

    _dpop_app(cli, sandbox)
    assert cli("api", APP, "/me")[0] == 0
    token = str(_requests(sandbox, "/api/me")[0]["authorization"]).partition(" ")[2]
    url = f"{sandbox.issuer}/api/me"
    other = DpopKey(new_key())
    now = datetime.fromtimestamp(time.time(), UTC)
    answers = [
        httpx.get(url, headers={"Authorization": f"Bearer {token}"}),
        httpx.get(
            url,
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": other.proof("GET", url, now, access_token=token),
            },
        ),
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_the_sandbox_checks_htm_htu_iat_jti_and_ath(sandbox: SandboxServer) -> None:
    from datetime import UTC, datetime, timedelta

    from credenza.oauth.binding.dpop import DpopKey, new_key

    state = sandbox.state
    key = DpopKey(new_key())
    url = f"{sandbox.issuer}/api/me"
    now = datetime.fromtimestamp(state.clock(), UTC)
    good = key.proof("GET", url, now, access_token="tok")
    assert check_proof(state, good, "GET", url, nonce=None, access_token="tok") == key.thumbprint
    replay = check_proof(state, good, "GET", url, nonce=None, access_token="tok")
    assert isinstance(replay, ProofProblem)
    assert "replay" in replay.description
    cases = {
        "htm": (key.proof("POST", url, now, access_token="tok"), "tok"),
        "htu": (key.proof("GET", url + "x", now, access_token="tok"), "tok"),
        "iat": (key.proof("GET", url, now - timedelta(minutes=5), access_token="tok"), "tok"),
        "ath": (key.proof("GET", url, now, access_token="other"), "tok"),
    }
    for claim, (proof, token) in cases.items():
        problem = check_proof(state, proof, "GET", url, nonce=None, access_token=token)
        assert isinstance(problem, ProofProblem), claim
        assert claim in problem.description
    needs_nonce = check_proof(state, key.proof("GET", url, now), "GET", url, nonce="n-1")
    assert isinstance(needs_nonce, ProofProblem)
    assert needs_nonce.error == "use_dpop_nonce"


def test_a_nonce_is_fetched_once_at_the_token_endpoint_and_once_at_the_api(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _dpop_app(cli, sandbox, use_dpop_nonce=True)
    code, out, err = cli("api", APP, "/me")
    assert code == 0, err
    assert json.loads(out)["token_type"] == "DPoP"
    first, second = _requests(sandbox, "/oauth/token")
    assert "nonce" not in _claims(first["dpop"])
    assert _claims(second["dpop"])["nonce"] == sandbox.state.dpop_nonces["token"]
    api_first, api_second = _requests(sandbox, "/api/me")
    assert _claims(api_first["dpop"]).get("nonce") != sandbox.state.dpop_nonces["api"]
    assert _claims(api_second["dpop"])["nonce"] == sandbox.state.dpop_nonces["api"]


def test_a_nonce_that_keeps_being_refused_is_retried_once(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _dpop_app(cli, sandbox, use_dpop_nonce=True)
    state = sandbox.state

    # Every answer names a new nonce: the server never accepts one, the client asks once more.
    original = state.dpop_nonces

    class Moving(dict[str, str]):
        def __getitem__(self, key: str) -> str:
            return original[key] + str(len(state.requests))

    state.dpop_nonces = Moving(original)
    code, _, err = cli("api", APP, "/me")
    assert code == 1
    assert "use_dpop_nonce" in err
    assert len(_requests(sandbox, "/oauth/token")) == 2


def test_token_header_and_exec_refuse_a_bound_token_and_point_at_credenza_api(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _dpop_app(cli, sandbox)
    code, out, err = cli("token", APP, "--format", "header")
    assert code == 2
    assert out == ""
    assert "DPoP-bound" in err
    assert "credenza api" in err
    code, out, err = cli("exec", APP, "--", "sh", "-c", "echo $CREDENZA_ACCESS_TOKEN")
    assert code == 2
    assert out == ""
    assert "credenza api" in err


def test_dpop_for_prints_the_header_and_a_proof_for_one_request(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    _dpop_app(cli, sandbox)
    url = f"{sandbox.issuer}/api/me"
    code, out, err = cli("token", APP, "--format", "header", "--dpop-for", "GET", url)
    assert code == 0, err
    authorization, proof_line = out.strip().split("\n")
    assert authorization.startswith("Authorization: DPoP ")
    assert proof_line.startswith("DPoP: ")
    headers = dict(line.split(": ", 1) for line in (authorization, proof_line))
    answer = httpx.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    again = httpx.get(url, headers=headers)  # a proof is good for one request
    assert again.status_code == 401


def test_verbose_masks_the_proof_and_the_token(cli: CliRunner, sandbox: SandboxServer) -> None:
    _dpop_app(cli, sandbox)
    code, out, err = cli("api", APP, "/me", "--verbose")
    assert code == 0, err
    api_call = _requests(sandbox, "/api/me")[0]
    token = str(api_call["authorization"]).partition(" ")[2]
    assert "Dpop: ****" in err
    assert "Authorization: DPoP ****" in err
    assert '"$DPOP_PROOF"' in err
    for secret in (token, api_call["dpop"], _requests(sandbox, "/oauth/token")[0]["dpop"]):
        assert secret not in out + err


def test_turning_dpop_on_or_off_never_reuses_the_other_kind_of_token(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    add_telenor_via_cli(cli, sandbox)
    bearer = cli("token", APP)[1].strip()
    assert cli("env", "edit", APP, "production", "--dpop")[0] == 0
    code, out, err = cli("token", APP, "--format", "json")
    assert code == 0, err
    bound = json.loads(out)
    assert bound["token_type"] == "DPoP"
    assert bound["access_token"] != bearer
    assert cli("env", "edit", APP, "production", "--no-dpop")[0] == 0
    code, out, err = cli("token", APP, "--format", "json")
    assert json.loads(out)["token_type"] == "Bearer"
    assert json.loads(out)["access_token"] not in (bearer, bound["access_token"])


def test_removing_the_environment_removes_its_dpop_key(
    cli: CliRunner, sandbox: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    _dpop_app(cli, sandbox)
    assert cli("api", APP, "/me")[0] == 0
    assert _dpop_keys(memory_keyring)
    assert cli("env", "remove", APP, "production", "--yes")[0] == 0
    assert _dpop_keys(memory_keyring) == []


def test_the_agent_fast_path_never_prints_a_bound_token_as_a_header(
    running_agent: object, cli: CliRunner, sandbox: SandboxServer, config_path: object, capfd: Any
) -> None:
    from credenza.agent import client

    _dpop_app(cli, sandbox)
    assert cli("token", APP)[0] == 0  # handed to the agent
    argv = ["token", APP, "--config", str(config_path)]
    assert client.try_agent(argv) == 0  # the token alone: asked for, given
    capfd.readouterr()
    assert client.try_agent([*argv, "--format", "header"]) is None  # the CLI refuses it
    assert capfd.readouterr().out == ""
