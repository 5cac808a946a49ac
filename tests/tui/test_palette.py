"""The command palette offers only what can work: no client_credentials fetch for an
application whose tokens come from a person signing in."""

from __future__ import annotations

from credenza.tui.app import CredenzaApp
from tests.tui.conftest import settle


async def test_the_palette_offers_a_fetch_only_where_the_client_gets_its_own_token(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Fetch token for Chorus Line Test / sandbox" in titles
        assert not any(title.startswith("Fetch token for Pipedrive") for title in titles)
