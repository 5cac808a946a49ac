"""Tokens: live countdown on a frozen clock, refresh, revoke, copy, inspect, auto-refresh."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from credenza.sandbox.demo import Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.token_inspect import TokenInspectDialog
from credenza.tui.screens.tokens import TokensScreen, token_key
from credenza.tui.widgets.countdown import CountdownList
from tests.tui.conftest import FrozenClock, cell, goto, press_button, settle

CHORUS = "chorus-line-test/sandbox/"  # a 90-second token


async def fetch_chorus(pilot: Pilot[None]) -> TokensScreen:
    await goto(pilot, "2", "chorus-line-test/sandbox")
    await pilot.press("f")
    await settle(pilot)
    await pilot.press("4")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TokensScreen)
    return screen


async def test_the_countdown_moves_with_the_clock_and_says_expired(
    app: CredenzaApp, clock: FrozenClock
) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await fetch_chorus(pilot)
        assert cell(app, CHORUS, "expires") == "1m30s left"
        assert cell(app, CHORUS, "bar").startswith("██████████ 100%")
        clock.advance(60)
        screen.tick()
        assert cell(app, CHORUS, "expires") == "30s left"
        assert cell(app, CHORUS, "bar").endswith(" 33%")
        clock.advance(31)
        screen.tick()
        assert cell(app, CHORUS, "expires") == "expired"


async def test_refresh_replaces_the_token(app: CredenzaApp) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        await fetch_chorus(pilot)
        before = app.workspace.tokens.held()[0].token.access_token
        await pilot.press("r")
        await settle(pilot)
        after = app.workspace.tokens.held()[0].token.access_token
        assert after != before


async def test_revoke_asks_then_the_provider_refuses_the_token(
    app: CredenzaApp, demo: Demo
) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        await fetch_chorus(pilot)
        token = app.workspace.tokens.held()[0].token.access_token.reveal()
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await press_button(pilot, "#confirm")
        assert demo.server.state.tokens[token].revoked
        assert app.workspace.tokens.held() == []


async def test_telenor_tokens_are_logged_out_by_get(app: CredenzaApp, demo: Demo) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        await goto(pilot, "2", "telenor-sms-gateway/production")
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("4", "x")
        await settle(pilot)
        assert "Log out (GET + Bearer)" in str(
            app.screen.query_one(".dialog-title", Static).content
        )
        await press_button(pilot, "#confirm")
        assert demo.server.state.requests[-1]["method"] == "GET"
        assert demo.server.state.requests[-1]["path"] == "/oauth/logout"


async def test_copy_uses_the_clipboard(app: CredenzaApp) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        await fetch_chorus(pilot)
        await pilot.press("c")
        token = app.workspace.tokens.held()[0].token.access_token.reveal()
        assert app.clipboard == token


async def test_inspect_decodes_claims_and_asks_the_provider(app: CredenzaApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await fetch_chorus(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, TokenInspectDialog)
        texts = " ".join(str(w.content) for w in app.screen.query(Static))
        assert '"alg": "HS256"' in texts or "alg: HS256" in texts
        assert "sub: chorus-line-test-sandbox" in texts
        assert "Introspection (RFC 7662): active" in texts


async def test_auto_refresh_fires_ahead_of_expiry(app: CredenzaApp, clock: FrozenClock) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await fetch_chorus(pilot)
        before = app.workspace.tokens.held()[0].token.access_token
        await pilot.press("A")
        assert cell(app, CHORUS, "auto") == "on"
        clock.advance(30)
        screen.tick()
        await settle(pilot)
        assert app.workspace.tokens.held()[0].token.access_token == before
        clock.advance(50)  # 10 s left: inside the refresh window
        screen.tick()
        await settle(pilot)
        assert app.workspace.tokens.held()[0].token.access_token != before


async def test_enter_on_a_token_opens_its_inspection(app: CredenzaApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await fetch_chorus(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TokenInspectDialog)


async def test_scopes_a_server_granted_reach_the_list_without_escapes(app: CredenzaApp) -> None:
    from dataclasses import replace

    async with app.run_test(size=(160, 30)) as pilot:
        screen = await fetch_chorus(pilot)
        session = app.workspace.tokens.held()[0]
        hostile = replace(session.token, scopes=("read\x1b]52;c;ZXZpbA==\x07", "write\x9b2J"))
        app.workspace.tokens.store.hold(replace(session, token=hostile), cached=False)
        screen.reload()
        await pilot.pause()
        shown = cell(app, CHORUS, "scopes")
        assert shown.isprintable()
        assert shown.startswith("read")


async def test_tokens_cached_by_another_process_are_listed_without_reading_the_keyring(
    app: CredenzaApp, demo: Demo
) -> None:
    """Thousands of cached tokens took a minute to read from gnome-keyring: the screen lists
    them from the token index, and reads a token's value only to use, copy or inspect it."""
    cached = set()
    for app_id, env in (
        ("anypoint-order-hub", "sandbox"),
        ("anypoint-order-hub", "production"),
        ("chorus-line-test", "production"),
    ):
        session, _ = await demo.workspace.tokens.token(app_id, env)
        cached.add(token_key(session))
    demo.workspace.tokens.store.let_go_of_all()  # as a new dashboard finds them: cached only
    reads: list[str] = []
    secrets = demo.workspace.secrets
    get_many = secrets.get_many  # every keyring read goes through it

    def reading(names):  # type: ignore[no-untyped-def]
        wanted = list(names)
        reads.extend(wanted)
        return get_many(wanted)

    secrets.get_many = reading  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TokensScreen)
        assert set(screen.countdowns.keys) == cached
        assert reads == []
        await pilot.press("c")  # a copy needs the value: one read
        await settle(pilot)
        assert len(reads) == 1
        assert app.clipboard == app.workspace.tokens.held()[0].token.access_token.reveal()


async def test_the_demo_opens_with_tokens_counting_down(tmp_path: Path, clock: FrozenClock) -> None:
    import asyncio

    from credenza.sandbox.demo import build_demo
    from tests.servers import free_callback

    # build_demo runs its own event loop: off this one.
    demo = await asyncio.to_thread(
        build_demo, tmp_path, clock=clock, seed=7, pipedrive_callback=free_callback("/cb")
    )
    try:
        app = CredenzaApp(demo.workspace, clock=clock)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, TokensScreen)
            rows = {key.split("/")[0] for key in screen.query_one("#table", CountdownList).keys}
            assert rows == {"telenor-sms-gateway", "chorus-line-test", "anypoint-order-hub"}
            before = cell(app, "chorus-line-test/sandbox/", "expires")
            clock.advance(30)
            screen.tick()
            assert cell(app, "chorus-line-test/sandbox/", "expires") != before
    finally:
        demo.server.stop()
