"""What users of posting and harlequin expect: clickable tabs, nothing cut off at 60x20, a filter
that says when nothing matches, a theme that persists, ? with credenza's keys first, one call per
key press, and messages from the workers."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from credenza.sandbox.demo import Demo
from credenza.services.preferences import Preferences
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.help import HelpDialog
from credenza.tui.messages import TokenFetched
from credenza.tui.screens.contracts import ContractsScreen
from credenza.tui.screens.tokens import TokensScreen
from credenza.tui.sections import SECTIONS
from credenza.tui.widgets.mode_bar import ModeBar, ModeTab
from tests.tui.conftest import FrozenClock, detail_text, goto, settle, table_rows

TELENOR = "telenor-sms-gateway/production"


async def test_the_section_tabs_are_clickable(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.click("#tab-contracts")
        await settle(pilot)
        assert isinstance(app.screen, ContractsScreen)
        await pilot.click("#tab-tokens")
        await settle(pilot)
        assert isinstance(app.screen, TokensScreen)


async def test_at_60_by_20_the_mode_bar_and_the_footer_are_whole(app: CredenzaApp) -> None:
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        for section in SECTIONS:
            await pilot.press(section.key)
            await settle(pilot)
            screen = app.screen
            bar = screen.query_one(ModeBar)
            shown = [w for w in bar.query(Static) if w.display and str(w.render()).strip()]
            assert len([w for w in shown if isinstance(w, ModeTab)]) == 4
            for widget in shown:
                region = widget.region
                assert region.right <= 60, f"{widget} is cut off at {region}"
                assert region.width >= len(str(widget.render())), f"{widget} is cut short"
            assert "!" in "".join(str(w.render()) for w in shown)  # the count is there too
            keys = list(screen.query(FooterKey))
            assert keys
            assert all(key.region.right <= 60 for key in keys)
            assert keys[-1].key == "question_mark"  # where the keys that did not fit are
            assert all(key.region.width > 0 for key in keys)


async def test_a_filter_with_no_match_says_so(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("slash", *"zzz")
        await pilot.pause()
        assert table_rows(app) == []
        assert "no match for 'zzz'" in detail_text(app)
        assert "No applications yet" not in detail_text(app)


async def test_the_chosen_theme_persists(demo: Demo, clock: FrozenClock, tmp_path: Path) -> None:
    path = tmp_path / "user-config" / "preferences.toml"
    demo.workspace.preferences = Preferences(path)
    first = CredenzaApp(demo.workspace, clock=clock)
    async with first.run_test(size=(80, 24)) as pilot:
        assert first.theme != "nord"
        first.theme = "nord"
        await settle(pilot)
    assert 'theme = "nord"' in path.read_text()
    demo.workspace.preferences = Preferences(path)  # a new start reads the file again
    second = CredenzaApp(demo.workspace, clock=clock)
    async with second.run_test(size=(80, 24)) as pilot:
        assert second.theme == "nord"


async def test_question_mark_lists_credenzas_keys_before_the_tables(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("2", "question_mark")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, HelpDialog)
        own = [description for _, description in dialog.keys]
        built_in = [description for _, description in dialog.built_in]
        assert own[:3] == ["Fetch", "Set secret", "Reset"]
        assert "Retire old secret" in own
        assert "Needs attention" in own
        assert "Scroll details up" in own
        assert "Cursor up" in built_in
        assert "Page down" in built_in
        assert not {key for key, _ in dialog.keys} & {key for key, _ in dialog.built_in}


async def test_a_second_press_while_a_fetch_runs_starts_no_second_call(
    app: CredenzaApp, demo: Demo
) -> None:
    demo.server.state.add_fault(
        {"mode": "latency", "latency_ms": 400, "client_id": "telenor-sms-gateway-production"}
    )
    posted: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("f", "f")
        await settle(pilot)
        issued = [
            t
            for t in demo.server.state.tokens.values()
            if t.client_id == "telenor-sms-gateway-production" and t.kind == "access"
        ]
        assert len(issued) == 1
        assert any("still fetching" in str(n.message) for n in app._notifications)
        # The hook sees a message at each node it bubbles through: count each once.
        fetched = list({id(m): m for m in posted if isinstance(m, TokenFetched)}.values())
        assert [m.session.application_id for m in fetched] == ["telenor-sms-gateway"]


async def test_config_text_is_never_markup(app: CredenzaApp) -> None:
    from credenza.config.changes import ApplicationChange

    app.workspace.applications.edit(
        "telenor-sms-gateway", ApplicationChange(name="Telenor [bold red]SMS[/]")
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "2", TELENOR)
        assert table_rows(app)[-1][0] == "Telenor [bold red]SMS[/]"
