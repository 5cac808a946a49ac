"""Dashboard fixtures: a seeded demo workspace on a frozen clock, and helpers to drive it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot

from credenza.sandbox.demo import Demo, build_demo
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.base import TableScreen
from credenza.tui.widgets.countdown import CountdownList
from credenza.tui.widgets.table import VimTable
from tests.servers import free_callback

# pytest-textual-snapshot's fixture: compares an app's screenshot with the stored SVG.
SnapCompare = Callable[..., bool]

START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
# The origin snapshots show, whatever free port the sandbox has: nothing listens on it.
SHOWN_ORIGIN = "127.0.0.1:47613"


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def demo(tmp_path: Path, clock: FrozenClock) -> Iterator[Demo]:
    # The sign-in's callback on a free port: the demo's fixed one may be in use on this machine.
    built = build_demo(
        tmp_path,
        clock=clock,
        seed=7,
        pipedrive_callback=free_callback("/pipedrive/callback"),
        live_tokens=False,
    )
    yield built
    built.server.stop()


@pytest.fixture
def app(demo: Demo, clock: FrozenClock) -> CredenzaApp:
    return CredenzaApp(demo.workspace, clock=clock)


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the screen repaint."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_rows(app: CredenzaApp) -> list[list[str]]:
    table = app.screen.query_one("#table")
    if isinstance(table, CountdownList):  # the Tokens section draws its own rows
        return [list(table.row(key).cells) for key in table.keys]
    assert isinstance(table, VimTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def cell(app: CredenzaApp, row_key: str, column: str) -> str:
    table = app.screen.query_one("#table")
    if isinstance(table, CountdownList):
        return table.cell_text(row_key, column)
    assert isinstance(table, VimTable)
    value = table.get_cell(row_key, column)
    return value.plain if isinstance(value, Text) else str(value)


def table_screen(app: App[Any]) -> TableScreen:
    """The section on screen, asserted to be one (so a test may read its rows)."""
    screen = app.screen
    assert isinstance(screen, TableScreen)
    return screen


def detail_text(app: CredenzaApp) -> str:
    from textual.widgets import Static

    content = app.screen.query_one("#detail-text", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def goto(pilot: Pilot[None], section: str, key: str) -> None:
    """Switch to a section by its key (1-4) and put the cursor on a row."""
    await pilot.press(section)
    await settle(pilot)
    await select_row(pilot, key)


async def select_row(pilot: Pilot[None], key: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, TableScreen)
    screen.select_key(key)
    await pilot.pause()
    assert screen.selected_key() == key


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 15
) -> None:
    """Let the app run until ``condition`` holds (a worker or a timer got there), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await pilot.pause(0.02)


async def press_button(pilot: Pilot[None], selector: str) -> None:
    """Focus a button (as tab would) and press enter: works wherever it is scrolled to."""
    button = pilot.app.screen.query_one(selector)
    while button.has_class("-active"):  # Textual ignores presses during the press animation
        await pilot.pause(0.05)
    button.focus()
    await pilot.press("enter")
    await settle(pilot)
