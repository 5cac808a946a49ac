"""Applications: add and edit through the form (validation, warnings), remove with confirmation."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.application_form import ApplicationForm
from credenza.tui.dialogs.confirm import ConfirmDialog
from tests.tui.conftest import detail_text, select_row, settle, table_rows


async def test_add_an_application_through_the_form(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ApplicationForm)
        await pilot.press(*"Acme Billing", "tab", *"stripe", "tab", *"Acme Ltd", "tab")
        await pilot.press(*"ana@acme.io")
        messages = str(app.screen.query_one("#form-messages", Static).content)
        assert "production needs two owners (warning)" in messages
        assert not app.screen.query_one("#save", Button).disabled  # a warning does not block
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ApplicationForm)
        application = app.workspace.applications.get("acme-billing")
        assert application.provider == "stripe"
        assert application.owners == ["ana@acme.io"]
        assert "Acme Billing" in [row[0] for row in table_rows(app)]
        assert app.screen.selected_key() == "acme-billing"


async def test_the_form_blocks_bad_urls_and_emails(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        await pilot.press(*"Broken", "tab", "tab", "tab", *"not-an-email")
        form = app.screen
        assert form.query_one("#save", Button).disabled
        assert "'not-an-email' is not an email address" in str(
            form.query_one("#form-messages", Static).content
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ApplicationForm)
        await pilot.press("escape")
        assert [a.name for a in app.workspace.applications.all()].count("Broken") == 0


async def test_edit_an_application(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await select_row(pilot, "pipedrive-crm-sync")
        await pilot.press("e")
        await settle(pilot)
        callback = app.screen.query_one("#field-callback_url", Input)
        callback.value = ""
        callback.focus()
        await pilot.press(*"https://crm.acme.io/oauth/callback", "ctrl+s")
        await settle(pilot)
        assert (
            app.workspace.applications.get("pipedrive-crm-sync").callback_url
            == "https://crm.acme.io/oauth/callback"
        )
        assert "✓ done   a real callback URL" in detail_text(app)


async def test_remove_needs_the_name_typed(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await select_row(pilot, "telenor-sms-gateway")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.query_one("#confirm", Button).disabled
        await pilot.press(*"Telenor SMS Gateway", "enter")
        await settle(pilot)
        assert "telenor-sms-gateway" not in [a.id for a in app.workspace.applications.all()]
        assert len(table_rows(app)) == 4
        assert not app.workspace.secrets.get_raw("telenor-sms-gateway/production/client_secret")


async def test_the_production_checklist_is_in_the_detail_panel(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await select_row(pilot, "pipedrive-crm-sync")
        text = detail_text(app)
        # Pipedrive's own checklist: a working callback URL and the app approved, no owners.
        assert "two application owners" not in text
        assert (
            "✗ to do  the app submitted for approval in Developer Hub, and approved — not "
            "confirmed yet" in text
        )
        assert "✓ done   a real callback URL" in text
        assert "(loopback: `credenza login` signs in here)" in text


async def test_every_checklist_line_is_reachable_at_80_by_24(app: CredenzaApp) -> None:
    from textual.containers import VerticalScroll

    async with app.run_test(size=(80, 24)) as pilot:
        await select_row(pilot, "chorus-line-test")  # the longest checklist of the demo
        panel = app.screen.query_one("#detail", VerticalScroll)
        lines = detail_text(app).splitlines()
        first = next(i for i, line in enumerate(lines) if "Production checklist" in line)
        last = next(i for i, line in enumerate(lines) if "you have access has arrived" in line)
        # The checklist comes first: the panel shows it whole at once, or after two J presses.
        for _ in range(2):
            top = int(panel.scroll_y)
            if top <= first and last < top + panel.scrollable_content_region.height:
                break
            await pilot.press("J")
            await pilot.pause()
        top = int(panel.scroll_y)
        assert last < top + panel.scrollable_content_region.height
        # The fields below it are still reachable.
        assert panel.max_scroll_y > 0
        for _ in range(20):
            await pilot.press("J")
        await pilot.pause()
        assert panel.scroll_y == panel.max_scroll_y


async def test_the_wheel_scrolls_the_details_panel(app: CredenzaApp) -> None:
    from textual import events
    from textual.containers import VerticalScroll

    async with app.run_test(size=(80, 24)) as pilot:
        await select_row(pilot, "pipedrive-crm-sync")
        panel = app.screen.query_one("#detail", VerticalScroll)
        assert panel.scroll_y == 0
        for _ in range(8):  # what a terminal sends for wheel turns over the panel
            await pilot._post_mouse_events([events.MouseScrollDown], "#detail", offset=(5, 2))
        await pilot.pause()
        assert panel.scroll_y == panel.max_scroll_y > 0
