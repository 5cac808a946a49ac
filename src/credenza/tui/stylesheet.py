"""A stylesheet that keeps its parsed CSS while neither the theme's variables nor the CSS change.

Textual's App.refresh_css runs on every switch of section: it hands the stylesheet the theme's
variables (which drops the parse cache) and re-parses every CSS source in a fresh stylesheet, so
each switch parsed the dashboard's ~28 sources again (~25 ms, an eighth of the dashboard's CPU
in a session of section switches). A parse depends only on the sources and the variables: when
both are what the last re-parse had, its rules are the rules it would make, so they stand. A new
theme (other variables) or new CSS re-parses as Textual does.
"""

from __future__ import annotations

from typing import Any

from textual.css.stylesheet import Stylesheet


class KeptParseStylesheet(Stylesheet):
    """Textual's Stylesheet, re-parsing only when its variables or sources changed."""

    def __init__(self, *, variables: dict[str, str] | None = None) -> None:
        super().__init__(variables=variables)
        self._parsed_from: tuple[dict[str, str], dict[Any, Any]] | None = None

    def set_variables(self, variables: dict[str, str]) -> None:
        if variables != self._variables:
            super().set_variables(variables)

    def reparse(self) -> None:
        if self._parsed_from == (self._variables, self.source) and not self._require_parse:
            return
        super().reparse()
        self._parsed_from = (dict(self._variables), dict(self.source))

    def copy(self) -> Stylesheet:
        stylesheet = KeptParseStylesheet(variables=self._variables.copy())
        stylesheet.source = self.source.copy()
        return stylesheet
