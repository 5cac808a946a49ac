"""Environments added and edited in the dashboard: discovery from an issuer, expiry, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime

from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static

from credenza.config.changes import EnvironmentChange
from credenza.sandbox.demo import Demo
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.environment_form import EnvironmentForm
from credenza.workspace import Workspace
from tests.tui.conftest import cell, detail_text, goto, press_button, settle, table_rows

NVM = "newvoicemedia-insights/production"


def messages(app: CredenzaApp) -> str:
    return str(app.screen.query_one("#form-messages", Static).content)


async def type_into(pilot: Pilot[None], app: CredenzaApp, field: str, text: str) -> None:
    """Clear a field and paste ``text`` into it, as a person enters a URL or a client_id (the
    form checks it on every change; a key press per character re-checked it on each)."""
    box = app.screen.query_one(f"#field-{field}", Input)
    box.value = ""
    box.focus()
    await pilot.pause()
    box.post_message(events.Paste(text))
    await pilot.pause()


async def test_add_an_environment_with_endpoints_discovered_from_the_issuer(
    app: CredenzaApp, demo: Demo
) -> None:
    issuer = demo.server.issuer
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", "telenor-sms-gateway/production")
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EnvironmentForm)
        assert form.query_one("#field-application", Select).value == "telenor-sms-gateway"
        assert form.query_one("#save", Button).disabled  # no name, no client_id yet
        await pilot.press(*"staging")
        await type_into(pilot, app, "client_id", "telenor-sms-gateway-staging")
        await type_into(pilot, app, "issuer", issuer)
        await press_button(pilot, "#discover")
        assert "endpoints filled from the issuer's metadata" in messages(app)
        assert form.query_one("#field-token_url", Input).value == f"{issuer}/oauth/token"
        assert form.query_one("#field-revocation_url", Input).value.startswith(issuer)
        await type_into(pilot, app, "scopes", "sms:send sms:read")
        await type_into(pilot, app, "secret_expires_at", "2027-05-01")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, EnvironmentForm)
        environment = app.workspace.environments.resolve("telenor-sms-gateway", "staging")
        assert environment.token_url == f"{issuer}/oauth/token"
        assert environment.environment.scopes == ("sms:send", "sms:read")
        assert environment.environment.secret_expires_at == datetime(2027, 5, 1, tzinfo=UTC)
        assert ["Telenor SMS Gateway", "staging"] in [row[:2] for row in table_rows(app)]


async def test_the_form_shows_the_loaders_own_errors_and_blocks_saving(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", NVM)
        await pilot.press("e")
        await settle(pilot)
        await type_into(pilot, app, "token_url", "not a url")
        assert "token url: not a URL" in messages(app)
        await type_into(pilot, app, "secret_expires_at", "next May")
        assert "a date as YYYY-MM-DD" in messages(app)
        assert app.screen.query_one("#save", Button).disabled
        await pilot.press("ctrl+s", "escape")
        await settle(pilot)
        assert app.workspace.environments.resolve("newvoicemedia-insights", "production").token_url


async def test_edit_the_secret_expiry_and_the_table_and_header_follow(
    app: CredenzaApp, demo: Demo
) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", NVM)
        assert cell(app, NVM, "expires") == "2026-12-05 12d"  # within the warning days
        due_before = app.attention_count
        await pilot.press("e")
        await settle(pilot)
        await type_into(pilot, app, "secret_expires_at", "2028-01-31")
        await pilot.press("ctrl+s")
        await settle(pilot)
        environment = app.workspace.environments.resolve(NVM.split("/")[0], "production")
        assert environment.environment.secret_expires_at == datetime(2028, 1, 31, tzinfo=UTC)
        assert environment.environment.client_id == "newvoicemedia-insights-production"
        assert cell(app, NVM, "expires") == "2028-01-31"
        assert "2028-01-31 (e changes it)" in detail_text(app)
        assert due_before is not None
        assert app.attention_count == due_before - 1


async def test_a_change_made_meanwhile_by_the_cli_is_a_conflict_never_undone(
    app: CredenzaApp, demo: Demo
) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", NVM)
        await pilot.press("e")
        await settle(pilot)
        # Meanwhile, another credenza (the CLI) edits the same environment.
        cli = Workspace.open(demo.config_path, secrets=SecretStore(MemoryKeyring()))
        cli.environments.edit(
            "newvoicemedia-insights",
            "production",
            EnvironmentChange(revocation_url="https://cli.example.net/revoke"),
        )
        await type_into(pilot, app, "secret_expires_at", "2028-01-31")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EnvironmentForm)  # still open, saying why
        assert "changed on disk by another credenza" in messages(app)
        assert "`credenza" not in messages(app)
        again = Workspace.open(demo.config_path, secrets=SecretStore(MemoryKeyring()))
        saved = again.environments.resolve("newvoicemedia-insights", "production")
        assert saved.environment.revocation_url == "https://cli.example.net/revoke"
        assert saved.environment.secret_expires_at != datetime(2028, 1, 31, tzinfo=UTC)


async def test_a_new_client_id_shows_what_it_means_without_blocking_the_save(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await goto(pilot, "2", NVM)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EnvironmentForm)
        assert "⚠" not in messages(app)  # the client_id as it is: nothing to say
        await type_into(pilot, app, "client_id", "nvm-new")
        assert "⚠ the stored secret belongs to the old client_id" in messages(app)
        assert not form.query_one("#save", Button).disabled
        await pilot.press("ctrl+s")
        await settle(pilot)
        resolved = app.workspace.environments.resolve("newvoicemedia-insights", "production")
        assert resolved.environment.client_id == "nvm-new"
