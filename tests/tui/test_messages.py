"""Workers' results are messages posted on the app, which relays them to every section: a token
fetched anywhere reaches the Tokens section at once, without it polling the token store."""

from __future__ import annotations

from textual.message import Message

from credenza.tui.app import CredenzaApp
from credenza.tui.messages import TokenFetched
from credenza.tui.screens.tokens import TokensScreen
from tests.tui.conftest import settle, table_rows


async def test_a_token_fetched_from_the_palette_is_on_tokens_without_a_tick(
    app: CredenzaApp,
) -> None:
    posted: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TokensScreen)
        assert screen.ticker is not None
        screen.ticker.pause()  # no tick may bring the row: only the message
        assert table_rows(app) == []
        fetch = next(
            command
            for command in app.get_system_commands(screen)
            if command.title.startswith("Fetch token for Telenor")
        )
        fetch.callback()
        await settle(pilot)
        assert [row[0] for row in table_rows(app)] == ["Telenor SMS Gateway"]
        fetched = list({id(m): m for m in posted if isinstance(m, TokenFetched)}.values())
        assert [m.session.application_id for m in fetched] == ["telenor-sms-gateway"]
