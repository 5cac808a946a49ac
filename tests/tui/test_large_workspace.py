"""A large workspace: the first rows before the first frame, the rest after it, and the filter,
the cursor and the jump from another section still reach every row."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from textual.pilot import Pilot
from textual.widgets import Input

from credenza.config.store import ConfigStore
from credenza.secrets import SecretStore
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.base import CHUNK_ROWS, FIRST_ROWS
from credenza.workspace import Workspace
from tests.tui.conftest import FrozenClock, settle, table_rows, table_screen

# The first rows before the first frame, then two whole steps and part of a third after it.
COUNT = FIRST_ROWS + 2 * CHUNK_ROWS + 100


@pytest.fixture
def large(tmp_path: Path, secret_store: SecretStore) -> Workspace:
    path = tmp_path / "large.toml"
    applications = [
        {
            "id": f"app-{n:05d}",
            "name": f"App {n:05d}",
            "provider": "sandbox",
            "owners": ["a@example.com", "b@example.com"],
            "environments": {
                env: {"client_id": f"app-{n:05d}-{env}", "token_url": "https://id.example/token"}
                for env in ("sandbox", "production")
            },
        }
        for n in range(COUNT)
    ]
    path.write_text(tomli_w.dumps({"version": 1, "applications": applications}))
    return Workspace(store=ConfigStore(path), secrets=secret_store)


async def built(pilot: Pilot[None]) -> None:
    """Settle until the section's rows are all built: a filter change reaches the screen as a
    message, so its build may start after the first settle."""
    await settle(pilot)
    for _ in range(50):
        if not table_screen(pilot.app).building:
            return
        await settle(pilot)
    raise AssertionError("the rows were never all built")


async def test_every_row_is_there_once_the_build_after_the_first_frame_is_done(
    large: Workspace,
) -> None:
    assert COUNT > FIRST_ROWS
    app = CredenzaApp(large, clock=FrozenClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await built(pilot)
        rows = table_rows(app)
        assert len(rows) == COUNT
        assert rows[-1][0] == f"App {COUNT - 1:05d}"
        assert table_screen(app).row_keys()[FIRST_ROWS] == f"app-{FIRST_ROWS:05d}"
        assert not table_screen(app).building
        assert rows[0][-1] == "1/4 done"  # the readiness cell, worked out row by row


async def test_filtering_a_large_workspace_finds_the_last_application(large: Workspace) -> None:
    app = CredenzaApp(large, clock=FrozenClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        box.value = f"App {COUNT - 1:05d}"  # as typed, in one change (one rebuild, not nine)
        await built(pilot)
        assert [row[0] for row in table_rows(app)] == [f"App {COUNT - 1:05d}"]
        box.value = "App 01"  # App 01000 … App 01999: past the first rows, built after them
        await built(pilot)
        names = [row[0] for row in table_rows(app)]
        assert names == [f"App {n:05d}" for n in range(1000, COUNT)]
        await pilot.press("escape")
        await built(pilot)
        assert len(table_rows(app)) == COUNT


async def test_the_cursor_waits_for_a_row_not_built_yet(large: Workspace) -> None:
    app = CredenzaApp(large, clock=FrozenClock())
    last = f"app-{COUNT - 1:05d}"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = table_screen(app)
        screen.reload()  # as after an edit: the first rows now, the rest after the next frame
        assert screen.building
        screen.select_key(last)
        await built(pilot)
        assert screen.selected_key() == last
        # Enter opens its environments, whose rows for it are built late too.
        await pilot.press("enter")
        await built(pilot)
        assert table_screen(app).selected_key() == f"{last}/sandbox"


async def test_g_while_rows_are_still_coming_ends_on_the_last_application(
    large: Workspace,
) -> None:
    app = CredenzaApp(large, clock=FrozenClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await built(pilot)
        screen = table_screen(app)
        screen.reload()
        assert screen.building
        await pilot.press("G")
        await built(pilot)
        assert screen.selected_key() == f"app-{COUNT - 1:05d}"
