"""The refresh_token grant: rotation at the sandbox, the old token dead, the unrotated kept."""

from __future__ import annotations

import pytest

from credenza.errors import TokenEndpointError
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials, refresh
from credenza.oauth.grants.refresh import was_rotated
from credenza.oauth.plan import ClientCredentials
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from tests.conftest import FAST


async def test_refresh_rotates_and_the_used_refresh_token_is_dead(sandbox: SandboxServer) -> None:
    registered = sandbox.state.add_client(
        {"client_id": "rot", "scope": "a", "grant_types": ["client_credentials", "refresh_token"]}
    )
    credentials = ClientCredentials(
        token_url=f"{sandbox.issuer}/oauth/token",
        client_id="rot",
        secret=Secret(registered.client_secret),
    )
    client = OAuthClient(FAST)
    first = await client.grant(client_credentials.plan, credentials)
    assert first.refresh_token is not None
    second = await client.grant(refresh.plan, credentials, first.refresh_token)
    assert second.refresh_token is not None
    assert was_rotated(second, first.refresh_token)
    with pytest.raises(TokenEndpointError) as caught:
        await client.grant(refresh.plan, credentials, first.refresh_token)
    await client.aclose()
    assert caught.value.error == "invalid_grant"
    refreshed = sandbox.state.lookup(second.access_token.reveal())
    assert refreshed is not None
    assert refreshed.scope == ["a"]
