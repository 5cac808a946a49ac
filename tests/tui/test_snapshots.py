"""Snapshots of each section and of the secret reset dialog, at 80x24 and one wide, frozen in time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from credenza.sandbox.demo import Demo, build_demo
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.tokens import TokensScreen
from tests.tui.conftest import SHOWN_ORIGIN, FrozenClock, SnapCompare

SMALL = (80, 24)
WIDE = (160, 40)


@pytest.fixture
def snapshot_demo(tmp_path: Path, clock: FrozenClock) -> Iterator[Demo]:
    # A free port, so that two runs on one machine never collide; the snapshots show it as
    # SHOWN_ORIGIN (SnapshotApp), so that they repeat.
    built = build_demo(tmp_path, clock=clock, seed=7)
    yield built
    built.server.stop()


class SnapshotApp(CredenzaApp):
    """The dashboard, its screenshots showing the sandbox's free port as SHOWN_ORIGIN's (both
    have five digits: ephemeral ports are 32768 and up, so no column moves), and a masked
    token's last characters as xxxx (the sandbox's tokens are JWTs naming that issuer)."""

    sandbox_origin = ""

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        svg = super().export_screenshot(title=title, simplify=simplify)
        svg = svg.replace(self.sandbox_origin, SHOWN_ORIGIN)
        return re.sub("(•{8})[A-Za-z0-9_.~+/=-]{4}", r"\1xxxx", svg)


@pytest.fixture
def snapshot_app(snapshot_demo: Demo, clock: FrozenClock) -> CredenzaApp:
    app = SnapshotApp(snapshot_demo.workspace, clock=clock, demo_label="demo workspace")
    app.sandbox_origin = snapshot_demo.server.issuer.removeprefix("http://")
    assert len(app.sandbox_origin) == len(SHOWN_ORIGIN)
    return app


async def _settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_applications(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=SMALL)


def test_applications_wide(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=WIDE, press=["j"])


def test_environments(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=SMALL, press=["2"])


def test_contracts(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("3", "j", "j")
        await _settle(pilot)

    assert snap_compare(snapshot_app, terminal_size=SMALL, run_before=run_before)


def test_tokens_counting_down(
    snap_compare: SnapCompare, snapshot_app: CredenzaApp, clock: FrozenClock
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("2", "f", "j", "f", "G", "f")
        await _settle(pilot)
        clock.advance(45)
        await pilot.press("4")
        await _settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, TokensScreen)
        screen.tick()
        await pilot.pause()
        pilot.app.clear_notifications()

    assert snap_compare(snapshot_app, terminal_size=SMALL, run_before=run_before)


def test_secret_reset_dialog(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("2", "G", "r")
        await _settle(pilot)

    assert snap_compare(snapshot_app, terminal_size=SMALL, run_before=run_before)


def test_help(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(100, 30), press=["4", "question_mark"])


def test_attention_list(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("exclamation_mark")
        await _settle(pilot)

    assert snap_compare(snapshot_app, terminal_size=SMALL, run_before=run_before)


def test_checklist_first_in_the_panel(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    # Chorus's checklist, the longest, whole at 80×24 without scrolling the panel.
    async def run_before(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("j")
        await _settle(pilot)

    assert snap_compare(snapshot_app, terminal_size=SMALL, run_before=run_before)


def test_environments_at_60_by_20(snap_compare: SnapCompare, snapshot_app: CredenzaApp) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await _settle(pilot)

    assert snap_compare(snapshot_app, terminal_size=(60, 20), run_before=run_before)
