"""Regenerate screenshots/*.svg from the demo workspace: `uv run python scripts/screenshots.py`.

Drives the dashboard headless on a seeded demo with a frozen clock, so the pictures change only
when the dashboard does.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot

from credenza.sandbox.demo import build_demo
from credenza.tui.app import CredenzaApp

OUT = Path(__file__).resolve().parents[1] / "screenshots"
SIZE = (100, 30)  # a size people have (the README shows them at it)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def applications(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("j", "j", "j")


async def environments(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("2")


async def contracts(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("3", "j", "j")


async def tokens(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("2", "f", "j", "f", "j", "f", "G", "f")
    await settle(pilot)
    clock.now += timedelta(seconds=50)
    await pilot.press("4")
    await settle(pilot)
    pilot.app.screen.tick()  # type: ignore[attr-defined]
    pilot.app.clear_notifications()


async def secret_reset(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("2", "G", "r")
    await settle(pilot)
    await pilot.press(*"Telenor SMS Gateway")


async def attention(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("exclamation_mark")
    await settle(pilot)


async def environment_form(pilot: Pilot[None], clock: Clock) -> None:
    await pilot.press("2", "j", "j", "j", "j", "e")
    await settle(pilot)


SHOTS: dict[str, Callable[[Pilot[None], Clock], Awaitable[None]]] = {
    "applications": applications,
    "environments": environments,
    "contracts": contracts,
    "tokens": tokens,
    "secret-reset": secret_reset,
    "attention": attention,
    "environment-form": environment_form,
}


async def shoot(
    name: str,
    app: CredenzaApp,
    clock: Clock,
    steps: Callable[[Pilot[None], Clock], Awaitable[None]],
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await steps(pilot, clock)
        await settle(pilot)
        app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
    print(f"screenshots/{name}.svg")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, steps in SHOTS.items():
        clock = Clock()
        with tempfile.TemporaryDirectory() as directory:
            # Built outside the event loop: the demo sets itself up with its own.
            demo = build_demo(Path(directory), clock=clock, seed=7, port=47614)
            try:
                app = CredenzaApp(demo.workspace, clock=clock, demo_label="demo workspace")
                asyncio.run(shoot(name, app, clock, steps))
            finally:
                demo.server.stop()


if __name__ == "__main__":
    main()
