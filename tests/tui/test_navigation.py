"""Keys, sections, filter, help and the command palette."""

from __future__ import annotations

from textual.widgets import OptionList

from credenza.tui.app import CredenzaApp
from credenza.tui.screens.applications import ApplicationsScreen
from credenza.tui.screens.contracts import ContractsScreen
from credenza.tui.screens.environments import EnvironmentsScreen
from credenza.tui.screens.tokens import TokensScreen
from tests.tui.conftest import settle, table_rows, table_screen, wait_until


async def test_number_keys_switch_sections(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, ApplicationsScreen)
        for key, screen in (
            ("2", EnvironmentsScreen),
            ("3", ContractsScreen),
            ("4", TokensScreen),
            ("1", ApplicationsScreen),
        ):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen)


async def test_j_and_k_move_and_enter_opens_the_environments(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("j", "j", "k")
        assert table_screen(app).selected_key() == "chorus-line-test"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EnvironmentsScreen)
        assert table_screen(app).selected_key() == "chorus-line-test/sandbox"


async def test_slash_filters_the_table_and_escape_clears_it(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        assert len(table_rows(app)) == 5
        await pilot.press("slash", *"telenor")
        assert [row[0] for row in table_rows(app)] == ["Telenor SMS Gateway"]
        await pilot.press("enter", "escape")
        assert len(table_rows(app)) == 5


async def test_the_filter_matches_fields_hidden_at_80_columns(app: CredenzaApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"logistics")  # the organisation, not a column at 80 columns
        assert [row[0] for row in table_rows(app)] == ["Telenor SMS Gateway"]


async def test_question_mark_lists_the_keys_that_work_here(app: CredenzaApp) -> None:
    from textual.widgets import Static

    from credenza.tui.dialogs.help import HelpDialog

    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("2", "question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpDialog)
        keys = dict(app.screen.keys)
        assert keys["r"] == "Reset"
        assert keys["v"] == "Reveal"
        assert keys["2"] == "Environments"
        await pilot.press("escape")
        assert isinstance(app.screen, EnvironmentsScreen)
        assert app.screen.query_one("#detail-text", Static) is not None


async def test_palette_offers_sections_and_every_action_on_the_selected_row(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        table_screen(app).select_key("telenor-sms-gateway/production")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Go to Tokens" in titles
        assert "Reset secret for Telenor SMS Gateway / production" in titles
        assert "Fetch token for Telenor SMS Gateway / production" in titles


async def test_palette_fetches_a_token(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Fetch token for Telenor SMS Gateway")
        options = app.screen.query_one(OptionList)
        # The palette searches in a worker: enter before it has a hit would run nothing.
        await wait_until(pilot, lambda: options.highlighted is not None)
        await pilot.press("enter")
        await settle(pilot)
        assert [s.application_id for s in app.workspace.tokens.held()] == ["telenor-sms-gateway"]
