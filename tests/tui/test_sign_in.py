"""`l` on Environments signs a person in: the URL dialog with Copy, the consent page, Cancel."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot

from credenza.oauth.grants.authorization_code import LoopbackListener
from credenza.sandbox.demo import PIPEDRIVE_CALLBACK, Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.sign_in import SignInDialog
from tests.grants_helpers import browse_and_decide
from tests.tui.conftest import detail_text, goto, settle

PIPEDRIVE = "pipedrive-crm-sync/sandbox"


async def shown_url(pilot: Pilot[None]) -> str:
    for _ in range(200):
        screen = pilot.app.screen
        if isinstance(screen, SignInDialog) and screen._to_copy:
            return screen._to_copy
        await pilot.pause(0.02)
    raise AssertionError("the dialog never showed a URL")


async def test_sign_in_through_the_consent_page_puts_a_user_token_in_tokens(
    app: CredenzaApp, demo: Demo
) -> None:
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        url = await shown_url(pilot)
        assert url.startswith(f"{demo.server.issuer}/oauth/authorize?")
        assert isinstance(app.screen, SignInDialog)
        landing = await browse_and_decide(url, "approve")
        assert landing.status_code == 200
        for _ in range(200):
            if not isinstance(app.screen, SignInDialog):
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert "signed in as" in detail_text(app)
        sessions = list(app.workspace.tokens.sessions.values())
        assert [s.user for s in sessions] == [True]
        assert sessions[0].account == demo.server.state.user
        assert sessions[0].token.refresh_token is not None
        await pilot.press("4")
        await settle(pilot)
        assert f"account: {demo.server.state.user}" in detail_text(app)
        assert "kept in the keyring only" in detail_text(app)


async def test_cancel_closes_the_listener_and_stores_nothing(app: CredenzaApp, demo: Demo) -> None:
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        await shown_url(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SignInDialog)
        await asyncio.sleep(0.05)
    resolved = app.workspace.environments.resolve("pipedrive-crm-sync", "sandbox")
    assert app.workspace.tokens.user_session(resolved) is None
    async with LoopbackListener(PIPEDRIVE_CALLBACK):  # nothing listens there any more
        pass


async def test_sign_in_on_a_client_credentials_application_says_why_not(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", "telenor-sms-gateway/production")
        await pilot.press("l")
        await settle(pilot)
        assert not isinstance(app.screen, SignInDialog)
