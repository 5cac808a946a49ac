"""Environments: set, reveal (and hide), verify, fetch; reset through the dialog for both providers."""

from __future__ import annotations

import msgspec
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from credenza.config.model import Provider
from credenza.sandbox.demo import Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.pending_secret import PendingSecretDialog
from credenza.tui.dialogs.secret_reset import SecretResetDialog
from credenza.tui.screens.environments import EnvironmentsScreen
from tests.tui.conftest import (
    FrozenClock,
    cell,
    detail_text,
    goto,
    paste,
    press_button,
    settle,
    table_screen,
)

TELENOR = "telenor-sms-gateway/production"


async def open_reset(pilot: Pilot[None]) -> SecretResetDialog:
    """r on the selected environment: the reset dialog, in the provider's own terms."""
    await pilot.press("r")
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, SecretResetDialog)
    return dialog


async def test_set_secret_then_fetch_a_token(app: CredenzaApp, demo: Demo) -> None:
    registered = demo.server.state.clients["chorus-line-test-sandbox"]
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", "chorus-line-test/sandbox")
        await pilot.press("s")
        await settle(pilot)
        await paste(pilot, registered.client_secret)
        await pilot.press("enter")
        await settle(pilot)
        assert (
            app.workspace.credentials.reveal("chorus-line-test", "sandbox").reveal()
            == registered.client_secret
        )
        await pilot.press("f")
        await settle(pilot)
        assert "✓ token fetched" in detail_text(app)
        assert len(app.workspace.tokens.held()) == 1


async def test_reveal_shows_the_secret_then_hides_it(app: CredenzaApp, demo: Demo) -> None:
    secret = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        assert secret not in detail_text(app)
        await pilot.press("v")
        await settle(pilot)
        assert secret in detail_text(app)
        assert cell(app, TELENOR, "secret") == "shown"
        environments = app.screen
        assert isinstance(environments, EnvironmentsScreen)
        environments._hide(TELENOR)  # what the 10-second timer calls
        await pilot.pause()
        assert secret not in detail_text(app)


async def test_verify_reports_a_wrong_secret_in_the_panel(app: CredenzaApp) -> None:
    app.workspace.credentials.set("telenor-sms-gateway", "production", "definitely-wrong")
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("t")
        await settle(pilot)
        assert "✗ wrong_secret" in detail_text(app)
        assert "definitely-wrong" not in detail_text(app)


async def test_sandbox_reset_of_production_needs_the_name_and_shows_the_secret_once(
    app: CredenzaApp, demo: Demo, clock: FrozenClock
) -> None:
    old = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        clock.advance(3600)
        dialog = await open_reset(pilot)
        plan = str(dialog.query_one("#plan", Static).content)
        assert "the old secret stops working at once" in plan
        assert "tokens already issued stay valid until they expire" in plan
        assert dialog.query_one("#reset", Button).disabled
        await pilot.press(*"Telenor SMS Gateway")
        assert not dialog.query_one("#reset", Button).disabled
        await press_button(pilot, "#reset")
        new = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
        assert new != old
        assert new in str(dialog.query_one("#reset-status", Static).content)
        assert app.workspace.credentials.reveal("telenor-sms-gateway", "production").reveal() == new
        await pilot.press("escape")
        await settle(pilot)
        assert cell(app, TELENOR, "age") == "0s ago"  # the rotation time is recorded


async def test_manual_reset_with_a_failed_verification_keeps_the_old_secret(
    app: CredenzaApp, demo: Demo
) -> None:
    # Telenor as a real provider's portal: the user resets there and pastes the new secret.
    app.workspace.providers.add("telenor", Provider(name="Telenor", profile="telenor"))
    old = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        dialog = await open_reset(pilot)
        assert dialog.manual
        await pilot.press(*"Telenor SMS Gateway")
        dialog.query_one("#new-secret", Input).focus()
        await paste(pilot, "not-the-new-secret")
        await press_button(pilot, "#reset")
        status = str(dialog.query_one("#reset-status", Static).content)
        assert "the new secret did not work, so the old one was kept" in status
        assert app.workspace.credentials.reveal("telenor-sms-gateway", "production").reveal() == old
        # Now the real reset in the portal, and the right secret pasted.
        new = demo.server.state.reset_secret("telenor-sms-gateway-production").client_secret
        dialog.query_one("#new-secret", Input).focus()
        await paste(pilot, new)
        await press_button(pilot, "#reset")
        assert "the new secret works and is stored" in str(
            dialog.query_one("#reset-status", Static).content
        )
        assert app.workspace.credentials.reveal("telenor-sms-gateway", "production").reveal() == new


async def test_retire_previous_secret_after_an_overlap_reset(app: CredenzaApp, demo: Demo) -> None:
    # A provider that rotates with overlap (Entra ID, Okta): both secrets work until retired.
    provider = app.workspace.config.providers["telenor"]
    app.workspace.providers.add("telenor", msgspec.structs.replace(provider, rotation="overlap"))
    client = demo.server.state.clients["telenor-sms-gateway-production"]
    client.rotation = "overlap"
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        assert "overlap: after a reset both secrets work until P retires" in detail_text(app)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"Telenor SMS Gateway")
        await press_button(pilot, "#reset")
        assert client.previous_secret is not None  # the old one still works
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await press_button(pilot, "#confirm")
        assert client.previous_secret is None
        assert "✓ the previous secret is retired" in detail_text(app)


async def test_retire_on_a_cut_over_provider_says_there_is_nothing_to_retire(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("P")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("nothing to retire" in str(n.message) for n in app._notifications)


async def test_verify_without_a_secret_advises_the_key_not_the_command(app: CredenzaApp) -> None:
    app.workspace.credentials.remove("telenor-sms-gateway", "production")
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("t")
        await settle(pilot)
        assert "press s to set the secret" in detail_text(app)
        assert "credenza secret set" not in detail_text(app)


async def test_chorus_reset_asks_whether_you_are_an_owner(app: CredenzaApp, demo: Demo) -> None:
    from textual.widgets import Select

    key = "chorus-line-test/production"
    old = demo.server.state.clients["chorus-line-test-production"].client_secret
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", key)
        dialog = await open_reset(pilot)

        def plan() -> str:
            return str(dialog.query_one("#plan", Static).content)

        assert "(Chorus" in plan()
        dialog.query_one("#typed", Input).focus()
        await pilot.press(*"Chorus Line Test")  # typed before answering: still not allowed
        assert dialog.query_one("#reset", Button).disabled
        dialog.query_one("#owner", Select).value = "no"
        await pilot.pause()
        assert "ask an owner (aroha@example.net, wiremu@example.net)" in plan()
        assert "press s to store it" in plan()
        assert dialog.query_one("#reset", Button).disabled
        dialog.query_one("#owner", Select).value = "yes"
        await pilot.pause()
        assert "you are an owner: reset it in Anypoint > My applications" in plan()
        assert dialog.query_one("#typed", Input).value == "Chorus Line Test"
        assert not dialog.query_one("#reset", Button).disabled
        await press_button(pilot, "#reset")
        assert demo.server.state.clients["chorus-line-test-production"].client_secret != old


async def test_remove_an_environment_takes_its_secret_and_tokens(
    app: CredenzaApp, demo: Demo
) -> None:
    session, _ = await app.workspace.tokens.token("chorus-line-test", "sandbox")
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", "chorus-line-test/sandbox")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "deletes its secret and cached tokens" in str(
            app.screen.query(Static).last().render()
        )
        await pilot.press("escape")  # a change of mind changes nothing
        await settle(pilot)
        assert "sandbox" in app.workspace.applications.get("chorus-line-test").environments
        await pilot.press("d")
        await settle(pilot)
        await press_button(pilot, "#confirm")
        await settle(pilot)
        assert "sandbox" not in app.workspace.applications.get("chorus-line-test").environments
        assert "chorus-line-test/sandbox" not in [key for key in table_screen(app)._row_keys]
        assert not app.workspace.secrets.get_raw("chorus-line-test/sandbox/client_secret")
        assert (
            app.workspace.tokens.cached("chorus-line-test", "sandbox", session.fingerprint) is None
        )
        assert "chorus-line-test/production" in table_screen(app)._row_keys  # the other one stays


async def test_removing_production_needs_the_application_name_typed(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.query_one("#confirm", Button).disabled
        await pilot.press(*"production")  # the environment's name is not enough
        assert app.screen.query_one("#confirm", Button).disabled
        app.screen.query_one("#typed", Input).value = ""
        await pilot.press(*"Telenor SMS Gateway", "enter")
        await settle(pilot)
        assert not app.workspace.applications.get("telenor-sms-gateway").environments


async def test_an_unfinished_reset_is_counted_and_r_finishes_it_instead_of_a_new_one(
    app: CredenzaApp, demo: Demo
) -> None:
    # A portal with one-time links (NewVoiceMedia's way): the pasted secret is kept as pending
    # when the provider does not take it yet.
    app.workspace.providers.add("telenor", Provider(name="Telenor", profile="newvoicemedia"))
    old = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    one_time = "N" * 40
    due_before = len(app.workspace.status.report().due)
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        dialog = await open_reset(pilot)
        await pilot.press(*"Telenor SMS Gateway")
        dialog.query_one("#new-secret", Input).focus()
        await paste(pilot, one_time)
        await press_button(pilot, "#reset")
        status = str(dialog.query_one("#reset-status", Static).content)
        assert "kept in the keyring as pending" in status
        # The next step is a key on this row, not the CLI's `credenza secret recover`.
        assert "press r on this row to recover the pending secret" in status
        assert "credenza secret" not in status
        await pilot.press("escape")
        await settle(pilot)
        # Counted in the header at once, without the keyring read of the ! list.
        assert app.attention_count == due_before + 1
        assert app.workspace.credentials.reveal("telenor-sms-gateway", "production").reveal() == old
        # The provider takes it now; r offers to finish the reset, not to start another.
        registered = demo.server.state.clients["telenor-sms-gateway-production"]
        registered.client_secret = one_time
        resolved = app.workspace.environments.resolve("telenor-sms-gateway", "production")
        registered.token_endpoint_auth_method = resolved.auth_method
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, PendingSecretDialog)
        await press_button(pilot, "#finish")
        await settle(pilot)
        assert "stored as the current one" in detail_text(app)
        secret = app.workspace.credentials.reveal("telenor-sms-gateway", "production")
        assert secret.reveal() == one_time
        assert app.workspace.resets.pending("telenor-sms-gateway", "production") is None
        assert app.attention_count == due_before


async def test_a_mistyped_pending_secret_is_discarded_from_r_and_the_current_one_stays(
    app: CredenzaApp, demo: Demo
) -> None:
    app.workspace.providers.add("telenor", Provider(name="Telenor", profile="newvoicemedia"))
    old = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    due_before = len(app.workspace.status.report().due)
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        dialog = await open_reset(pilot)
        await pilot.press(*"Telenor SMS Gateway")
        dialog.query_one("#new-secret", Input).focus()
        await paste(pilot, "m" * 40)  # a wrong paste from a one-time link
        await press_button(pilot, "#reset")
        await pilot.press("escape")
        await settle(pilot)
        assert app.attention_count == due_before + 1
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, PendingSecretDialog)
        await press_button(pilot, "#discard")
        assert isinstance(app.screen, ConfirmDialog)
        app.screen.query_one("#typed", Input).focus()
        await pilot.press(*"production", "enter")
        await settle(pilot)
        assert "pending secret is discarded" in detail_text(app)
        assert app.workspace.resets.pending("telenor-sms-gateway", "production") is None
        assert app.workspace.credentials.reveal("telenor-sms-gateway", "production").reveal() == old
        assert app.attention_count == due_before
        # And r now starts a new reset, not the recovery.
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, SecretResetDialog)


async def test_a_key_on_a_row_removed_elsewhere_says_so_and_the_dashboard_stays(
    app: CredenzaApp,
) -> None:
    from credenza.config.store import ConfigStore
    from credenza.workspace import Workspace

    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", "chorus-line-test/sandbox")
        # The CLI, in another terminal, removes the environment under the cursor.
        other = Workspace(
            store=ConfigStore(app.workspace.context.store.path), secrets=app.workspace.secrets
        )
        other.environments.remove("chorus-line-test", "sandbox")
        app.workspace.reload()
        await pilot.press("d")  # the row is stale: said, and the rows follow the file
        await settle(pilot)
        assert app.is_running
        assert not isinstance(app.screen, ConfirmDialog)
        assert "chorus-line-test/sandbox" not in table_screen(app)._row_keys


async def test_a_dialog_closed_leaves_the_cursor_where_it_was(app: CredenzaApp) -> None:
    """Opened from Applications (enter), Environments follows that application once; closing a
    dialog later must not move the cursor back to it, or the next key acts on another row."""
    async with app.run_test(size=(60, 20)) as pilot:
        await goto(pilot, "1", "chorus-line-test")
        await pilot.press("enter")
        await settle(pilot)
        assert str(table_screen(app).selected_key()).startswith("chorus-line-test/")
        await pilot.press("G")
        await settle(pilot)
        last = table_screen(app).selected_key()
        assert not str(last).startswith("chorus-line-test/")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert table_screen(app).selected_key() == last
        # Opening an application from Applications again still follows it.
        await goto(pilot, "1", "chorus-line-test")
        await pilot.press("enter")
        await settle(pilot)
        assert str(table_screen(app).selected_key()).startswith("chorus-line-test/")


async def test_fetch_and_verify_on_a_sign_in_environment_say_to_press_l(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", "pipedrive-crm-sync/sandbox")
        for key in ("f", "t"):
            await pilot.press(key)
            await settle(pilot)
            text = detail_text(app)
            assert "press l to sign in" in text, key
            assert "ask the provider" not in text


async def test_the_reset_plan_names_the_retire_step_as_its_key_not_a_command(
    app: CredenzaApp, demo: Demo
) -> None:
    provider = app.workspace.config.providers["telenor"]
    app.workspace.providers.add("telenor", msgspec.structs.replace(provider, rotation="overlap"))
    demo.server.state.clients["telenor-sms-gateway-production"].rotation = "overlap"
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        dialog = await open_reset(pilot)
        plan = str(dialog.query_one("#plan", Static).content)
        assert "retire the old one: press P on this row" in plan
        assert "credenza" not in plan.replace("credenza stores", "").replace("credenza keeps", "")
