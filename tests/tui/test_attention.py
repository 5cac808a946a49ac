"""What needs attention: the header's count, the list on !, and enter going to the row to fix."""

from __future__ import annotations

from textual.widgets import Static

from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.attention import AttentionDialog
from credenza.tui.screens.applications import ApplicationsScreen
from credenza.tui.screens.environments import EnvironmentsScreen
from credenza.tui.widgets.mode_bar import ModeBar
from tests.tui.conftest import settle


def header(app: CredenzaApp) -> str:
    bar = app.screen.query_one(ModeBar)
    return "".join(str(s.render()) for s in bar.query(Static) if s.display)


async def test_the_header_counts_what_is_due_as_credenza_status_does(app: CredenzaApp) -> None:
    due = len(app.workspace.status.report().due)
    assert due > 0
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.attention_count == due
        assert f"! {due} need attention" in header(app)
        await pilot.press("2")
        await settle(pilot)
        assert f"! {due} need attention" in header(app)  # every section's header


async def test_bang_lists_them_and_enter_goes_to_the_expiring_secret(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("exclamation_mark")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AttentionDialog)
        kinds = [item.kind for item in dialog.report.items]
        assert "secret_expiring" in kinds
        assert "checklist_open" in kinds
        assert "contract_pending" in kinds  # waiting on the provider, listed after what is due
        for _ in range(kinds.index("secret_expiring")):
            await pilot.press("j")
        advice = str(dialog.query_one("#attention-advice", Static).content)
        assert "secret expires 2026-12-05 (in 12 days)" in advice
        assert "NewVoiceMedia Insights / production" in advice
        assert "press r to rotate it" in advice
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EnvironmentsScreen)
        assert app.screen.selected_key() == "newvoicemedia-insights/production"


async def test_clicking_the_count_opens_the_list_and_a_checklist_item_opens_its_application(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.click("#attention-count")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AttentionDialog)
        kinds = [item.kind for item in dialog.report.items]
        index = kinds.index("checklist_open")
        item = dialog.report.items[index]
        for _ in range(index):
            await pilot.press("j")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApplicationsScreen)
        assert app.screen.selected_key() == item.application
