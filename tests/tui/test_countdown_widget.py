"""The countdown list: live countdowns, only changed lines repainted, sorted without re-sorting."""

from __future__ import annotations

from datetime import timedelta

from textual.app import App, ComposeResult

from credenza.oauth.tokens import Token
from credenza.secrets import Secret
from credenza.tui.widgets.countdown import CountdownList, CountdownRow
from tests.tui.conftest import START, FrozenClock

COLUMNS = [("application", "Application", 12), ("environment", "Env", 10)]


def token(seconds: int, lifetime: int | None = None) -> Token:
    issued = START - timedelta(seconds=(lifetime or seconds) - seconds)
    return Token(
        access_token=Secret("t"),
        token_type="Bearer",
        issued_at=issued,
        expires_at=issued + timedelta(seconds=lifetime or seconds),
    )


def row(name: str, seconds: int, lifetime: int | None = None) -> CountdownRow:
    return CountdownRow(name, (name, "production"), token(seconds, lifetime), (name,))


class Host(App[None]):
    def __init__(self, rows: list[CountdownRow], clock: FrozenClock) -> None:
        super().__init__()
        self.rows, self.clock = rows, clock
        self.highlighted: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield CountdownList(COLUMNS, clock=self.clock)

    def on_mount(self) -> None:
        self.query_one(CountdownList).set_rows(self.rows)

    def on_countdown_list_highlighted(self, message: CountdownList.Highlighted) -> None:
        self.highlighted.append(message.key)


def lines(widget: CountdownList) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_rows_are_drawn_in_order_under_a_header() -> None:
    clock = FrozenClock()
    app = Host([row("zeta", 300), row("alpha", 90), row("mid", 45)], clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        shown = lines(app.query_one(CountdownList))
        assert shown[0].split() == ["Application", "Env", "Expires", "in", "Lifetime", "left"]
        assert [line.split()[0] for line in shown[1:4]] == ["alpha", "mid", "zeta"]
        assert "1m30s left" in shown[1]
        assert "45s left" in shown[2]
        assert shown[3].endswith("100%")


async def test_a_tick_moves_the_countdown_and_says_expired() -> None:
    clock = FrozenClock()
    app = Host([row("alpha", 90)], clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        widget = app.query_one(CountdownList)
        clock.advance(60)
        assert widget.tick() == 1
        assert "30s left" in lines(widget)[1]
        assert lines(widget)[1].endswith(" 33%")
        clock.advance(31)
        widget.tick()
        assert "expired" in lines(widget)[1]


async def test_a_tick_repaints_only_the_visible_lines_that_changed() -> None:
    clock = FrozenClock()
    # 200 tokens; two with "1h59m" left (the text changes once a minute), the rest minutes.
    rows = [row(f"app-{n:03d}", 7170, 7200) for n in range(2)]
    rows += [row(f"app-{n:03d}", 600 + n) for n in range(2, 200)]
    app = Host(rows, clock)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        widget = app.query_one(CountdownList)
        assert widget.tick() == 0  # nothing changed since the lines were drawn
        clock.advance(1)
        # 11 rows in view under the header; the two long tokens still read "1h59m" and 100%:
        # 9 lines repainted, and none of the 189 out of view.
        assert widget.tick() == 9
        assert widget.tick() == 0


async def test_rows_scrolled_into_view_show_the_current_countdown() -> None:
    clock = FrozenClock()
    app = Host([row(f"app-{n:03d}", 600 + n) for n in range(50)], clock)
    async with app.run_test(size=(80, 6)) as pilot:
        await pilot.pause()
        widget = app.query_one(CountdownList)
        clock.advance(100)
        widget.tick()
        await pilot.press("G")
        await pilot.pause()
        assert "app-049" in lines(widget)[-1]
        assert "10m49s left" not in lines(widget)[-1]
        assert "9m09s left" in lines(widget)[-1]


async def test_rows_added_and_removed_keep_their_order_and_the_cursor() -> None:
    clock = FrozenClock()
    app = Host([row("alpha", 90), row("gamma", 90)], clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        widget = app.query_one(CountdownList)
        await pilot.press("j")
        assert widget.cursor_key == "gamma"
        widget.upsert_row(row("beta", 60))
        widget.upsert_row(row("delta", 60))
        widget.upsert_row(row("alpha", 30))  # replaced, not duplicated
        assert widget.keys == ["alpha", "beta", "delta", "gamma"]
        assert widget.cursor_key == "gamma"
        widget.remove_row("gamma")
        assert widget.keys == ["alpha", "beta", "delta"]
        assert widget.cursor_key == "delta"
        await pilot.pause()
        assert "30s left" in lines(widget)[1]


async def test_moving_the_cursor_reports_the_highlighted_key() -> None:
    clock = FrozenClock()
    app = Host([row(f"app-{n}", 90) for n in range(3)], clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        await pilot.press("j", "j", "j", "k")
        await pilot.pause()
        assert app.highlighted == ["app-0", "app-1", "app-2", "app-1"]
        assert app.query_one(CountdownList).cursor_key == "app-1"


async def test_enter_reports_the_selected_key() -> None:
    clock = FrozenClock()
    selected: list[str] = []

    class Selecting(Host):
        def on_countdown_list_selected(self, message: CountdownList.Selected) -> None:
            selected.append(message.key)

    app = Selecting([row("alpha", 90), row("beta", 90)], clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        await pilot.press("j", "enter")
        await pilot.pause()
    assert selected == ["beta"]
