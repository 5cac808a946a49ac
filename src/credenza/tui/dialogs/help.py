"""The keys that work here, and what they do: credenza's own first, the table's built-in ones after."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class HelpDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.toggle"),
    ]

    def __init__(
        self, section: str, keys: list[tuple[str, str]], built_in: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(classes="dialog")
        self.section = section
        self.keys = keys
        self.built_in = list(built_in)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Label(f"Keys · {self.section}", classes="dialog-title", markup=False)
            yield Static(_table(self.keys), id="own-keys")
            if self.built_in:
                yield Label("\nBuilt into the table and Textual", classes="help-heading")
                yield Static(_table(self.built_in), id="built-in-keys")

    def action_close(self) -> None:
        self.dismiss(None)


def _table(keys: list[tuple[str, str]]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("does")
    for key, description in keys:
        table.add_row(key, description)
    return table
