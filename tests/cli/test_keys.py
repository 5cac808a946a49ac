"""A client that authenticates with a key (private_key_jwt) or a certificate (mTLS), set up and
used from the CLI against the sandbox."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credenza.sandbox import SandboxServer, SandboxState, SandboxTls
from tests.conftest import CliRunner


def ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_private_key_jwt_from_the_cli(cli: CliRunner, sandbox: SandboxServer) -> None:
    pem = ec_pem()
    cli("app", "add", "Bank API")
    code, _, err = cli(
        "env",
        "add",
        "bank-api",
        "production",
        "--client-id",
        "bank-jwt",
        "--issuer",
        sandbox.issuer,
        "--auth-method",
        "private_key_jwt",
    )
    assert code == 0, err
    code, out, err = cli(
        "secret",
        "set",
        "bank-api",
        "production",
        "--private-key",
        "--key-id",
        "k-2025",
        stdin=pem,
    )
    assert code == 0, err
    assert "ES256" in err
    assert "PRIVATE" not in out + err
    code, out, _ = cli("secret", "public-key", "bank-api", "production")
    assert code == 0
    jwks = json.loads(out)
    assert jwks["keys"][0]["kid"] == "k-2025"
    assert "d" not in jwks["keys"][0]
    sandbox.state.add_client(
        {
            "client_id": "bank-jwt",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks,
            "scope": "accounts",
        }
    )
    code, token, err = cli("token", "bank-api")
    assert code == 0, err
    assert sandbox.state.lookup(token.strip()) is not None
    assert "client_assertion" in sandbox.state.requests[-1]["form"]
    code, out, _ = cli("verify", "bank-api", "--json")
    assert code == 0
    assert "private_key_jwt" in json.loads(out)[0]["message"]
    code, _, err = cli("secret", "reset", "bank-api", "production", "--yes")
    assert code == 2
    assert "rotated by adding a new one" in err


def test_a_key_that_is_not_a_key_is_refused_and_nothing_is_stored(
    cli: CliRunner, sandbox: SandboxServer
) -> None:
    cli("app", "add", "Bank API")
    cli(
        "env",
        "add",
        "bank-api",
        "production",
        "--client-id",
        "bank-jwt",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
        "--auth-method",
        "private_key_jwt",
    )
    code, _, err = cli(
        "secret", "set", "bank-api", "production", "--private-key", stdin="hunter2-not-a-key"
    )
    assert code == 2
    assert "PEM" in err
    assert "hunter2" not in err
    code, _, err = cli("secret", "public-key", "bank-api", "production")
    assert code == 2


@pytest.fixture
def tls_sandbox(tmp_path: Path) -> Iterator[tuple[SandboxServer, trustme.CA]]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    tls = SandboxTls(str(cert), str(key), client_ca=str(ca_file))
    with SandboxServer(SandboxState(token_ttl=300), tls=tls) as server:
        yield server, ca


def test_mtls_from_the_cli_with_the_key_only_in_the_keyring(
    cli: CliRunner,
    tls_sandbox: tuple[SandboxServer, trustme.CA],
    tmp_path: Path,
    config_path: Path,
) -> None:
    server, ca = tls_sandbox
    server.state.add_client(
        {
            "client_id": "bank-mtls",
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "client.bank.example",
        }
    )
    issued = ca.issue_cert("client.bank.example")
    certificate = tmp_path / "client.pem"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    cli("app", "add", "Bank API")
    code, _, err = cli(
        "env",
        "add",
        "bank-api",
        "production",
        "--client-id",
        "bank-mtls",
        "--token-url",
        f"{server.issuer}/oauth/token",
        "--auth-method",
        "tls_client_auth",
        "--certificate",
        str(certificate),
    )
    assert code == 0, err
    data = tomllib.loads(config_path.read_text())
    data.setdefault("settings", {})["ca_bundle"] = str(tmp_path / "ca.pem")
    config_path.write_text(tomli_w.dumps(data))
    key_pem = issued.private_key_pem.bytes().decode()
    code, _, err = cli("secret", "set", "bank-api", "production", "--private-key", stdin=key_pem)
    assert code == 0, err
    assert "PRIVATE KEY" not in config_path.read_text()
    code, token, err = cli("token", "bank-api")
    assert code == 0, err
    assert server.state.lookup(token.strip()) is not None
    # Nothing of the key was written anywhere under the test's files.
    marker = key_pem.splitlines()[1]
    assert not [
        p for p in tmp_path.rglob("*") if p.is_file() and marker in p.read_text("utf-8", "replace")
    ]
