"""Loopback http:// calls skip loading CA certificates, and nothing about https changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from credenza.errors import TransportError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.plan import ClientCredentials
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.servers import recording_app, serve_tls

trustme = pytest.importorskip("trustme")


async def test_http_and_https_calls_from_one_client_each_verify_as_before(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    registered = sandbox.state.add_client({"client_id": "plain"})
    authority, stranger = trustme.CA(), trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    client = OAuthClient(replace(FAST, ca_bundle=str(ca_file)))
    received: list[bytes] = []
    try:
        token = await client.grant(
            client_credentials.plan,
            ClientCredentials(
                token_url=f"{sandbox.issuer}/oauth/token",
                client_id="plain",
                secret=Secret(registered.client_secret),
            ),
        )
        assert token.access_token.reveal()
        with serve_tls(recording_app(received), authority.issue_cert("127.0.0.1"), tmp_path) as ok:
            trusted = ClientCredentials(
                token_url=f"{ok.issuer}/token", client_id="a", secret=Secret("s")
            )
            assert (
                await client.grant(client_credentials.plan, trusted)
            ).access_token.reveal() == "stolen"
        (tmp_path / "other").mkdir()
        other = tmp_path / "other"
        with serve_tls(recording_app(received), stranger.issue_cert("127.0.0.1"), other) as bad:
            untrusted = ClientCredentials(
                token_url=f"{bad.issuer}/token", client_id="a", secret=Secret("s")
            )
            with pytest.raises(TransportError, match="not trusted"):
                await client.grant(client_credentials.plan, untrusted)
    finally:
        await client.aclose()
    assert len(received) == 1


async def test_the_client_for_http_urls_trusts_no_certificate_authority(tmp_path: Path) -> None:
    """Should an https URL ever reach the http-only client, verification fails, never passes."""
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    client = OAuthClient(replace(FAST, ca_bundle=str(ca_file)))
    received: list[bytes] = []
    try:
        with serve_tls(recording_app(received), authority.issue_cert("127.0.0.1"), tmp_path) as ok:
            async with client._http(plain=True).lane() as plain:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await plain.post(f"{ok.issuer}/token", data={"grant_type": "x"})
    finally:
        await client.aclose()
    assert received == []
