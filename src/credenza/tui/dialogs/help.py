"""The keys that work here, and what they do."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class HelpDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, section: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog")
        self.section = section
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("key", style="bold")
        table.add_column("does")
        for key, description in self.keys:
            table.add_row(key, description)
        with VerticalScroll(classes="dialog-box"):
            yield Label(f"Keys · {self.section}", classes="dialog-title")
            yield Static(table)
            yield Static(
                "\nctrl+p opens the command palette: every section and every action on the highlighted row."
            )

    def action_close(self) -> None:
        self.dismiss(None)
