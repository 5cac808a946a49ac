"""Client authentication by key (private_key_jwt) and by certificate (mTLS) against the sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from credenza.errors import TokenEndpointError, TransportError, ValidationError
from credenza.oauth.auth.mtls import _key_file, certificate_jwks
from credenza.oauth.auth.private_key_jwt import client_assertion, public_jwk
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.plan import ClientCredentials
from credenza.oauth.sync_client import Engine, SyncOAuthClient
from credenza.oauth.transport import HttpSettings
from credenza.sandbox import SandboxServer, SandboxState, SandboxTls
from credenza.secrets import Secret
from tests.conftest import FAST


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Secret:
    return Secret(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


@pytest.fixture(scope="module")
def rsa_pem() -> Secret:
    return pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))


# -- private_key_jwt -------------------------------------------------------------------------


@pytest.fixture
def sandbox_jwt() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300)) as server:
        yield server


def jwt_credentials(server: SandboxServer, pem: Secret, **extra: Any) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{server.issuer}/oauth/token",
        client_id="bank-app",
        secret=pem,
        auth_method="private_key_jwt",
        key_id="k1",
        **extra,
    )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_private_key_jwt_is_accepted_with_the_registered_public_key(
    sandbox_jwt: SandboxServer, rsa_pem: Secret, kind: str
) -> None:
    pem = rsa_pem if kind == "rsa" else pem_of(ec.generate_private_key(ec.SECP256R1()))
    jwk = public_jwk(pem, "k1")
    assert jwk["alg"] == ("RS256" if kind == "rsa" else "ES256")
    assert "d" not in jwk  # the public half only
    sandbox_jwt.state.add_client(
        {
            "client_id": "bank-app",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]},
            "scope": "accounts",
        }
    )
    client = OAuthClient(FAST)
    token = await client.grant(client_credentials.plan, jwt_credentials(sandbox_jwt, pem))
    # The issuer is a valid audience too (some servers want it).
    again = await client.grant(
        client_credentials.plan,
        jwt_credentials(sandbox_jwt, pem, assertion_audience=sandbox_jwt.issuer),
    )
    await client.aclose()
    assert token.access_token.reveal() != again.access_token.reveal()
    form = sandbox_jwt.state.requests[0]["form"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form
    assert sandbox_jwt.state.requests[0]["authorization"] is None


async def test_a_replayed_assertion_and_a_foreign_key_are_refused(
    sandbox_jwt: SandboxServer, rsa_pem: Secret
) -> None:
    sandbox_jwt.state.add_client(
        {
            "client_id": "bank-app",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [public_jwk(rsa_pem, "k1")]},
        }
    )
    url = f"{sandbox_jwt.issuer}/oauth/token"
    assertion = client_assertion(
        jwt_credentials(sandbox_jwt, rsa_pem), url, datetime.now(UTC), jti="once"
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert httpx.post(url, data=form).status_code == 200
    replay = httpx.post(url, data=form)
    assert replay.status_code == 401
    assert "replay" in replay.json()["error_description"]

    foreign = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    client = OAuthClient(FAST)
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(client_credentials.plan, jwt_credentials(sandbox_jwt, foreign))
    await client.aclose()
    assert caught.value.error == "invalid_client"

    stale = client_assertion(
        jwt_credentials(sandbox_jwt, rsa_pem), url, datetime.now(UTC) - timedelta(hours=1)
    )
    expired = httpx.post(url, data={**form, "client_assertion": stale})
    assert "expired" in expired.json()["error_description"]
    wrong_aud = client_assertion(
        jwt_credentials(sandbox_jwt, rsa_pem), "https://other.example/token", datetime.now(UTC)
    )
    refused = httpx.post(url, data={**form, "client_assertion": wrong_aud})
    assert "aud" in refused.json()["error_description"]


def test_a_key_that_is_not_pem_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="PEM"):
        public_jwk(Secret("not a key"))


# -- mTLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def sandbox_tls(ca: trustme.CA, tmp_path: Path) -> Iterator[SandboxServer]:
    server_cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    server_cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    tls = SandboxTls(str(cert_file), str(key_file), client_ca=str(ca_file))
    with SandboxServer(SandboxState(token_ttl=300), tls=tls) as server:
        server.state.add_client(
            {
                "client_id": "bank-mtls",
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_dns": "client.bank.example",
            }
        )
        yield server


def mtls_credentials(
    server: SandboxServer, cert: Path, key: Secret, client_id: str = "bank-mtls"
) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{server.issuer}/oauth/token",
        client_id=client_id,
        secret=key,
        auth_method="tls_client_auth"
        if client_id == "bank-mtls"
        else "self_signed_tls_client_auth",
        certificate=str(cert),
    )


def client_cert(ca: trustme.CA, name: str, directory: Path) -> tuple[Path, Secret]:
    issued = ca.issue_cert(name)
    path = directory / f"{name}.pem"
    issued.cert_chain_pems[0].write_to_path(str(path))
    return path, Secret(issued.private_key_pem.bytes().decode())


def settings(ca_file: Path) -> HttpSettings:
    return HttpSettings(**{**FAST.__dict__, "ca_bundle": str(ca_file)})


async def test_mtls_with_the_registered_certificate_gets_a_token(
    sandbox_tls: SandboxServer, ca: trustme.CA, tmp_path: Path
) -> None:
    cert, key = client_cert(ca, "client.bank.example", tmp_path)
    client = OAuthClient(settings(tmp_path / "ca.pem"))
    token = await client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, key))
    await client.aclose()
    assert token.access_token.reveal()
    assert sandbox_tls.state.requests[-1]["form"] == {
        "grant_type": "client_credentials",
        "client_id": "bank-mtls",
    }


async def test_mtls_with_a_wrong_certificate_is_refused(
    sandbox_tls: SandboxServer, ca: trustme.CA, tmp_path: Path
) -> None:
    client = OAuthClient(settings(tmp_path / "ca.pem"))
    # From the trusted CA but for another name: the TLS handshake passes, the client is refused.
    cert, key = client_cert(ca, "someone-else.example", tmp_path)
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, key))
    assert caught.value.error == "invalid_client"
    # From a CA the server does not trust: the handshake fails and no request body arrives.
    before = len(sandbox_tls.state.requests)
    cert, key = client_cert(trustme.CA(), "client.bank.example", tmp_path)
    with pytest.raises(TransportError):
        await client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, key))
    await client.aclose()
    assert len(sandbox_tls.state.requests) == before


@pytest.mark.parametrize("engine", ["stdlib", "httpx"])
def test_mtls_on_the_blocking_client_presents_the_certificate_on_both_engines(
    sandbox_tls: SandboxServer, ca: trustme.CA, tmp_path: Path, engine: Engine
) -> None:
    client = SyncOAuthClient(settings(tmp_path / "ca.pem"), engine=engine)
    try:
        cert, key = client_cert(ca, "client.bank.example", tmp_path)
        token = client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, key))
        assert token.access_token.reveal()
        # From a CA the server does not trust: the handshake fails and no request body arrives.
        before = len(sandbox_tls.state.requests)
        (tmp_path / "other").mkdir()
        cert, key = client_cert(trustme.CA(), "client.bank.example", tmp_path / "other")
        with pytest.raises(TransportError):
            client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, key))
        assert len(sandbox_tls.state.requests) == before
    finally:
        client.close()


async def test_a_self_signed_client_certificate_registered_by_jwks_is_accepted(
    sandbox_tls: SandboxServer, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank-self")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "self.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    sandbox_tls.state.add_client(
        {
            "client_id": "bank-self",
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "jwks": certificate_jwks(str(path)),
        }
    )
    client = OAuthClient(settings(tmp_path / "ca.pem"))
    token = await client.grant(
        client_credentials.plan, mtls_credentials(sandbox_tls, path, pem_of(key), "bank-self")
    )
    await client.aclose()
    assert token.access_token.reveal()


async def test_a_key_that_does_not_match_the_certificate_is_a_clear_error(
    sandbox_tls: SandboxServer, ca: trustme.CA, tmp_path: Path
) -> None:
    cert, _ = client_cert(ca, "client.bank.example", tmp_path)
    _, other_key = client_cert(ca, "other.example", tmp_path)
    client = OAuthClient(settings(tmp_path / "ca.pem"))
    with pytest.raises(ValidationError, match="do not belong together"):
        await client.grant(client_credentials.plan, mtls_credentials(sandbox_tls, cert, other_key))
    await client.aclose()


def test_the_client_key_is_read_from_memory_not_a_file(tmp_path: Path) -> None:
    canary = Secret("-----BEGIN PRIVATE KEY-----\ncanary\n-----END PRIVATE KEY-----\n")
    with _key_file(canary) as path:
        assert path.startswith("/proc/self/fd/")
        assert Path(path).read_text() == canary.reveal()
        target = os.readlink(path)
        assert target.startswith("/memfd:")
