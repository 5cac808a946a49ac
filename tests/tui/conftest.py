"""Dashboard fixtures: a seeded demo workspace on a frozen clock, and helpers to drive it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual import events
from textual.app import App
from textual.pilot import Pilot

from credenza.config.local import LocalState
from credenza.config.store import ConfigStore
from credenza.sandbox import SandboxServer, SandboxState
from credenza.sandbox.demo import Demo, build_demo
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.base import TableScreen
from credenza.tui.widgets.countdown import CountdownList
from credenza.tui.widgets.table import VimTable
from credenza.workspace import Workspace
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


@dataclass(frozen=True)
class _Built:
    """A demo built once in a worker, as the `demo` fixture's tests start from it."""

    origin: str  # its sandbox's, in the config and the keyring entries
    callback: str  # the sign-in's, in the config and the client's redirect URIs
    config: str
    entries: dict[tuple[str, str], str]
    local: LocalState  # the demo keeps this person's state (when each secret was set) in memory
    state: SandboxState


_BUILT: list[_Built] = []


def _built_once(directory: Path) -> _Built:
    """Build the demo once per worker (~0.2 s of CPU each time, for ~100 tests) and keep what
    it made: the config text, the keyring entries and the sandbox's state."""
    if not _BUILT:
        keyring = MemoryKeyring()
        built = build_demo(
            directory,
            clock=FrozenClock(),
            seed=7,
            pipedrive_callback=free_callback("/pipedrive/callback"),
            live_tokens=False,
            keyring=keyring,
        )
        built.server.stop()
        callback = built.workspace.applications.get("pipedrive-crm-sync").callback_url
        assert callback is not None
        _BUILT.append(
            _Built(
                origin=built.server.issuer,
                callback=callback,
                config=built.config_path.read_text(),
                entries=dict(keyring.entries),
                local=built.workspace.context.local_state,
                state=built.server.state,
            )
        )
    return _BUILT[0]


def _state_like(
    state: SandboxState, clock: FrozenClock, swap: Callable[[str], str]
) -> SandboxState:
    """A copy of ``state`` on ``clock``: every record copied (the randomness where it was, so a
    reset draws what it would have drawn), the signing keys shared (they are never changed)."""
    copy = SandboxState(token_ttl=state.token_ttl)
    memo: dict[int, Any] = {id(state.id_token_key): state.id_token_key}
    for name, value in vars(state).items():
        if name not in ("lock", "clock"):
            setattr(copy, name, deepcopy(value, memo))
    copy.clock = lambda: clock().timestamp()
    for client in copy.clients.values():
        client.redirect_uris = [swap(uri) for uri in client.redirect_uris]
    return copy


@pytest.fixture
def demo(tmp_path: Path, clock: FrozenClock) -> Iterator[Demo]:
    """The demo workspace, as `build_demo` makes it, copied from the one this worker built: its
    own sandbox (a new port), config, keyring and clock. The sign-in's callback on a free port:
    the demo's fixed one may be in use on this machine."""
    built = _built_once(tmp_path / "built-once")
    callback = free_callback("/pipedrive/callback")
    state = _state_like(built.state, clock, lambda uri: uri.replace(built.callback, callback))
    server = SandboxServer(state).start()

    def swap(text: str) -> str:
        return text.replace(built.origin, server.issuer).replace(built.callback, callback)

    config_path = tmp_path / "credenza.toml"
    config_path.write_text(swap(built.config))
    config_path.chmod(0o600)
    keyring = MemoryKeyring()
    keyring.entries = {key: swap(value) for key, value in built.entries.items()}
    workspace = Workspace(
        store=ConfigStore(config_path),
        secrets=SecretStore(keyring),
        clock=clock,
        local=deepcopy(built.local),
    )
    yield Demo(workspace=workspace, server=server, config_path=config_path)
    server.stop()


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


async def paste(pilot: Pilot[None], text: str) -> None:
    """Paste ``text`` where the focus is, as a terminal's bracketed paste arrives: one event (a
    secret from a one-time link is pasted, not typed: a key press each re-drew the dialog)."""
    await pilot.pause()  # a focus() just asked for lands first
    focused = pilot.app.focused
    assert focused is not None, "nothing has the focus to paste into"
    focused.post_message(events.Paste(text))
    await pilot.pause()


async def press_button(pilot: Pilot[None], selector: str) -> None:
    """Focus a button (as tab would) and press enter: works wherever it is scrolled to."""
    button = pilot.app.screen.query_one(selector)
    while button.has_class("-active"):  # Textual ignores presses during the press animation
        await pilot.pause(0.05)
    button.focus()
    await pilot.press("enter")
    await settle(pilot)
