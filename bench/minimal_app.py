"""Baseline for the first-frame rows: a minimal Textual app showing the same rows as a table.

`python bench/minimal_app.py COUNT`: COUNT rows named like the dashboard's applications, seven
columns of text, a footer; no config, no keyring, no checklist.
"""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer


class Minimal(App[None]):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(
            "Name", "Provider", "Organisation", "Type", "Owners", "Environments", "Production"
        )
        for number in range(self.count):
            table.add_row(
                f"App {number:05d}", "sandbox", "—", "private", "2", "sandbox, production", "1/5"
            )


if __name__ == "__main__":
    Minimal(int(sys.argv[1]) if len(sys.argv) > 1 else 1000).run()
