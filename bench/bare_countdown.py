"""Baseline for the countdown CPU rows: a bare DataTable app updating the visible countdowns at 1 Hz.

`python bench/bare_countdown.py COUNT`: COUNT rows of a token table; once a second it writes the
countdown cell of each row in view with `update_cell` (Textual's documented way), nothing else.
"""

from __future__ import annotations

import sys
import time

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static


class Bare(App[None]):
    # Under credenza's token list (34 lines at 40 rows): the tab bar, the detail panel and the
    # footer. The same blank lines here, so that both update the same number of visible rows.
    CSS = "DataTable { height: 1fr; } #around { height: 6; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.expires = [time.time() + 600 + number for number in range(count)]

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        yield Static(id="around")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Application", key="application")
        table.add_column("Env", key="environment")
        table.add_column("Expires in", key="expires")
        for number in range(self.count):
            table.add_row(f"App {number:05d}", "production", self.left(number), key=str(number))
        self.set_interval(1.0, self.tick)

    def left(self, number: int) -> str:
        seconds = int(self.expires[number] - time.time())
        return f"{seconds // 60}m{seconds % 60:02d}s left"

    def tick(self) -> None:
        table = self.query_one(DataTable)
        first = int(table.scroll_y)
        for number in range(first, min(self.count, first + table.size.height)):
            table.update_cell(str(number), "expires", self.left(number))


if __name__ == "__main__":
    Bare(int(sys.argv[1]) if len(sys.argv) > 1 else 500).run()
