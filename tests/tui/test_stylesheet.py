"""Switching sections parses only new CSS; a new theme still re-parses and restyles."""

from __future__ import annotations

from typing import Any

import pytest
from textual.css import stylesheet

from credenza.tui.app import CredenzaApp
from tests.tui.conftest import settle


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CSS source Textual parses, by where it was read from."""
    seen: list[str] = []
    parse = stylesheet.parse  # type: ignore[attr-defined]

    def counting(scope: str, css: str, read_from: Any, **options: Any) -> Any:
        seen.append(str(read_from))
        return parse(scope, css, read_from, **options)

    monkeypatch.setattr(stylesheet, "parse", counting)
    return seen


async def test_a_sections_first_visit_parses_only_the_css_it_brings(
    app: CredenzaApp, parses: list[str]
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")  # the first switch parses the stylesheet as a whole
        await settle(pilot)
        for key in ("3", "4", "1"):
            parses.clear()
            await pilot.press(key)
            await settle(pilot)
            # Textual's own stylesheet parsed every source again on each first visit.
            assert len(parses) < len(app.stylesheet.source) / 2, key
        await pilot.press("2", "3", "4", "1")  # and what shows late (the token list) mounted
        await settle(pilot)
        parses.clear()
        await pilot.press("2", "3", "4", "1")
        await settle(pilot)
        assert parses == []


async def test_a_new_theme_is_parsed_and_every_section_follows_it(
    app: CredenzaApp, parses: list[str]
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "1")
        await settle(pilot)
        before = app.screen.styles.background
        parses.clear()
        app.theme = "nord" if app.theme != "nord" else "gruvbox"
        await settle(pilot)
        assert parses
        after = app.screen.styles.background
        assert after != before
        await pilot.press("2")  # made under the old theme: restyled, not kept as it was
        await settle(pilot)
        assert app.screen.styles.background == after
