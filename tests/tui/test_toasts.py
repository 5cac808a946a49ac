"""A toast never covers a dialog: toasts wait under it and show when it closes."""

from __future__ import annotations

from textual.widgets._toast import Toast

from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.confirm import ConfirmDialog
from tests.tui.conftest import settle


def _shown(app: CredenzaApp) -> list[str]:
    """The text of every toast a person can see on the screen on top."""
    return [
        str(toast.render())
        for toast in app.screen.query(Toast)
        if toast.region.area > 0 and app.screen.region.overlaps(toast.region)
    ]


async def test_toasts_wait_under_a_dialog_and_show_when_it_closes(app: CredenzaApp) -> None:
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.notify("said before the dialog", timeout=600)
        await pilot.pause()
        assert any("said before the dialog" in text for text in _shown(app))
        closed: list[bool | None] = []
        app.push_screen(ConfirmDialog("Remove it?", "Really?"), closed.append)
        await settle(pilot)
        app.notify("said during the dialog")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert _shown(app) == []  # neither the earlier toast nor the new one covers it
        await pilot.press("escape")
        await settle(pilot)
        assert closed == [False]
        shown = " ".join(_shown(app))
        assert "said during the dialog" in shown
        assert "said before the dialog" in shown
