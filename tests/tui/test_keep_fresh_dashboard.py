"""The dashboard's A (keep fresh) is stored as this person's choice: a new dashboard on the same
workspace shows the token kept, and the agent's keep file holds it."""

from __future__ import annotations

from pathlib import Path

from credenza.config.keep import KeptTokens, read_kept
from credenza.sandbox.demo import Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.tokens import TokensScreen
from tests.tui.conftest import FrozenClock, cell, goto, settle

CHORUS = "chorus-line-test/sandbox/"


async def show_tokens(app: CredenzaApp, *, fetch: bool) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        if fetch:
            await goto(pilot, "2", "chorus-line-test/sandbox")
            await pilot.press("f")
            await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert isinstance(app.screen, TokensScreen)
        if fetch:
            assert cell(app, CHORUS, "auto") == "off"
            await pilot.press("A")
            await settle(pilot)
        assert cell(app, CHORUS, "auto") == "on"
        assert "kept fresh" in app.screen.detail(CHORUS).plain


async def test_a_on_a_token_is_kept_after_a_restart(
    demo: Demo, clock: FrozenClock, tmp_path: Path
) -> None:
    keep_file = tmp_path / "state" / "keep.toml"
    demo.workspace.context.kept = KeptTokens(keep_file)
    await show_tokens(CredenzaApp(demo.workspace, clock=clock), fetch=True)
    [entry] = read_kept(keep_file)
    assert (entry.application, entry.environment) == ("chorus-line-test", "sandbox")
    assert entry.workspace == demo.workspace.context.workspace_id
    # A new dashboard, its keep file read afresh: the row shows kept without pressing A.
    demo.workspace.context.kept = KeptTokens(keep_file)
    await show_tokens(CredenzaApp(demo.workspace, clock=clock), fetch=False)
    # And A again stops keeping it, in the file too.
    third = CredenzaApp(demo.workspace, clock=clock)
    async with third.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert cell(third, CHORUS, "auto") == "off"
    assert read_kept(keep_file) == []
