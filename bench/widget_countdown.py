"""credenza's countdown list alone: COUNT tokens ticking at 1 Hz, as the Tokens screen would draw
them. Measured beside the bare DataTable app until the Tokens screen uses this widget.

`python bench/widget_countdown.py COUNT`
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult
from textual.widgets import Static

from credenza.oauth.tokens import Token
from credenza.secrets import Secret
from credenza.tui.widgets.countdown import CountdownList, CountdownRow


class Widget(App[None]):
    # The lines credenza draws around its token list, as in bare_countdown.py.
    CSS = "CountdownList { height: 1fr; } #around { height: 6; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        yield CountdownList(
            [("application", "Application", 24), ("environment", "Env", 12)],
            clock=lambda: datetime.now(UTC),
        )
        yield Static(id="around")

    def on_mount(self) -> None:
        now = datetime.now(UTC)
        countdown = self.query_one(CountdownList)
        countdown.set_rows(
            CountdownRow(
                f"app-{n:05d}",
                (f"App {n:05d}", "production"),
                Token(Secret("t"), "Bearer", now, now + timedelta(seconds=3000 + n)),
                (f"app-{n:05d}",),
            )
            for n in range(self.count)
        )
        countdown.focus()
        self.set_interval(1.0, countdown.tick)


if __name__ == "__main__":
    Widget(int(sys.argv[1]) if len(sys.argv) > 1 else 500).run()
