"""The baseline for the dashboard benchmarks: a minimal Textual app showing a 1,000-row table."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Provider", "Organisation", "Environments", "Ready")
        for number in range(1000):
            table.add_row(
                f"row {number:04d}", "provider", "organisation", "sandbox, production", "2/5"
            )


if __name__ == "__main__":
    Minimal().run()
