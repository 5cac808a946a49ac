"""A section builds its rows once when first shown and once each time it is shown again: Textual
calls each class's on_mount and on_screen_resume itself, and resumes a new mode's screen twice."""

from __future__ import annotations

import pytest

from credenza.tui.app import CredenzaApp
from credenza.tui.screens.base import TableScreen
from credenza.tui.screens.environments import EnvironmentsScreen
from credenza.tui.screens.tokens import TokensScreen
from tests.tui.conftest import settle


@pytest.fixture
def reloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each section's rebuild of its rows, by the section's class name."""
    seen: list[str] = []
    for section in (EnvironmentsScreen, TokensScreen):
        original = section.reload

        def counting(screen: TableScreen, *args: object, _original: object = original) -> None:
            seen.append(type(screen).__name__)
            _original(screen, *args)  # type: ignore[operator]

        monkeypatch.setattr(section, "reload", counting)
    return seen


async def test_a_section_builds_its_rows_once_per_showing(
    app: CredenzaApp, reloads: list[str]
) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert reloads == ["EnvironmentsScreen"]
        await pilot.press("4")
        await settle(pilot)
        # Mounted with what this process holds, then once more with the index a worker read.
        assert reloads.count("TokensScreen") == 2
        reloads.clear()
        await pilot.press("2")
        await settle(pilot)
        assert reloads == ["EnvironmentsScreen"]
