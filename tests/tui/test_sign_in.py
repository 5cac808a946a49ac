"""`l` on Environments signs a person in: the URL dialog with Copy, the consent page, Cancel."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.oauth.grants.loopback import LoopbackListener
from credenza.sandbox.demo import Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.sign_in import SignInDialog
from tests.grants_helpers import browse_and_decide
from tests.tui.conftest import detail_text, goto, settle

PIPEDRIVE = "pipedrive-crm-sync/sandbox"


async def shown_url(pilot: Pilot[None]) -> str:
    for _ in range(750):  # up to ~15 s on a loaded machine
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
        for _ in range(750):  # up to ~15 s on a loaded machine
            if not isinstance(app.screen, SignInDialog):
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert "signed in as" in detail_text(app)
        sessions = list(app.workspace.tokens.held())
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
    callback = app.workspace.applications.get("pipedrive-crm-sync").callback_url
    assert callback is not None
    async with LoopbackListener(callback):  # nothing listens there any more
        pass


async def test_sign_in_on_a_client_credentials_application_says_why_not(
    app: CredenzaApp,
) -> None:
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", "telenor-sms-gateway/production")
        await pilot.press("l")
        await settle(pilot)
        assert not isinstance(app.screen, SignInDialog)


async def test_over_ssh_the_device_code_is_shown_with_its_countdown(
    app: CredenzaApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.1 50000 192.0.2.2 22")
    device_grant = "urn:ietf:params:oauth:grant-type:device_code"
    demo.server.state.clients["pipedrive-crm-sync-sandbox"].grant_types.append(device_grant)
    demo.server.state.device_interval = 0
    app.workspace.applications.edit(
        "pipedrive-crm-sync",
        ApplicationChange(grant_types=["authorization_code", "refresh_token", device_grant]),
    )
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        for _ in range(750):  # up to ~15 s on a loaded machine
            screen = app.screen
            if isinstance(screen, SignInDialog) and screen._device is not None:
                break
            await pilot.pause(0.02)
        dialog = app.screen
        assert isinstance(dialog, SignInDialog)
        device = dialog._device
        assert device is not None
        target = dialog.query_one("#sign-in-target", Static).content
        assert str(target) == device.user_code
        assert "the code expires in 10:00" in str(
            dialog.query_one("#sign-in-status", Static).content
        )
        async with httpx.AsyncClient() as browser:
            done = await browser.post(
                f"{demo.server.issuer}/device",
                data={"user_code": device.user_code, "decision": "approve"},
            )
        assert done.status_code == 200
        for _ in range(750):  # up to ~15 s on a loaded machine
            if not isinstance(app.screen, SignInDialog):
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert [s.user for s in app.workspace.tokens.held()] == [True]


def _ask_for_openid(app: CredenzaApp, demo: Demo) -> None:
    """The demo's Pipedrive sandbox app signs in with openid too; the person's email differs from
    the access token's sub, so what the dashboard shows can only come from the id_token."""
    state = demo.server.state
    state.clients["pipedrive-crm-sync-sandbox"].scope.append("openid")
    state.user_email = "ada.lovelace@example.org"
    app.workspace.environments.edit(
        "pipedrive-crm-sync", "sandbox", EnvironmentChange(scopes=["openid", "deals:read"])
    )


async def _approve_in_browser(pilot: Pilot[None]) -> None:
    url = await shown_url(pilot)
    assert "nonce=" in url
    await browse_and_decide(url, "approve")
    for _ in range(750):  # up to ~15 s on a loaded machine
        status = pilot.app.screen.query("#sign-in-status")
        if not isinstance(pilot.app.screen, SignInDialog) or "✗" in str(
            status.first(Static).content
        ):
            break
        await pilot.pause(0.02)
    await settle(pilot)


async def test_an_openid_sign_in_shows_who_the_id_token_names_on_tokens_and_inspect(
    app: CredenzaApp, demo: Demo
) -> None:
    _ask_for_openid(app, demo)
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        await _approve_in_browser(pilot)
        assert "signed in as ada.lovelace@example.org" in detail_text(app)
        await pilot.press("4")
        await settle(pilot)
        assert "account: ada.lovelace@example.org" in detail_text(app)
        await pilot.press("i")
        await settle(pilot)
        shown = "\n".join(str(s.content) for s in app.screen.query(Static))
        assert "id_token claims (checked at sign-in)" in shown
        assert "email: ada.lovelace@example.org" in shown
        (id_token,) = demo.server.state.issued_id_tokens
        assert id_token not in shown


async def test_a_tampered_id_token_fails_the_dashboards_sign_in_and_keeps_nothing(
    app: CredenzaApp, demo: Demo
) -> None:
    _ask_for_openid(app, demo)
    demo.server.state.id_token_fault = "bad_signature"
    async with app.run_test(size=(110, 40)) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        await _approve_in_browser(pilot)
        dialog = app.screen
        assert isinstance(dialog, SignInDialog)
        status = str(dialog.query_one("#sign-in-status", Static).content)
        assert "signature does not verify" in status
    resolved = app.workspace.environments.resolve("pipedrive-crm-sync", "sandbox")
    assert app.workspace.tokens.user_session(resolved) is None
    assert app.workspace.tokens.held() == []


async def test_a_sign_in_posts_the_token_for_the_tokens_section_and_the_count(
    app: CredenzaApp, demo: Demo
) -> None:
    from textual.message import Message

    from credenza.tui.messages import TokenFetched

    posted: list[Message] = []
    async with app.run_test(size=(110, 40), message_hook=posted.append) as pilot:
        await goto(pilot, "2", PIPEDRIVE)
        await pilot.press("l")
        landing = await browse_and_decide(await shown_url(pilot), "approve")
        assert landing.status_code == 200
        for _ in range(750):  # up to ~15 s on a loaded machine
            if not isinstance(app.screen, SignInDialog):
                break
            await pilot.pause(0.02)
        await settle(pilot)
        fetched = list({id(m): m for m in posted if isinstance(m, TokenFetched)}.values())
        assert [(m.session.application_id, m.session.user) for m in fetched] == [
            ("pipedrive-crm-sync", True)
        ]
