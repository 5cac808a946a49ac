"""A token list with live countdowns, drawn line by line: a tick repaints only what changed.

DataTable repaints every visible row, all cells through Rich, whenever one cell changes; a list
of 500 countdowns changes a cell in every visible row every second. This widget draws each
line itself (Textual's line API), keeps its rows in sorted order as they are added and removed
(never re-sorting on a tick), and on a tick looks only at the rows in view, asking Textual to
repaint just the lines whose countdown text or tone changed.

Cells must already be safe to show: text from a server or a config passes credenza's one
untrusted-text function before it is handed here.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from credenza.oauth.tokens import Token
from credenza.tui.format import BAR_WIDTH, duration, tone

COUNTDOWN_WIDTH = 14
BAR_CELLS = BAR_WIDTH + 5  # the bar, a space and "100%"
GAP = 2


@dataclass(frozen=True)
class CountdownRow:
    """One token: its key, the text cells before the countdown (one per column), the token."""

    key: str
    cells: tuple[str, ...]
    token: Token
    sort_key: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[tuple[str, ...], str]:
        return (self.sort_key, self.key)


State = tuple[str, str, int, int]


def countdown_state(token: Token, now: datetime) -> State:
    """(countdown text, tone kind, filled bar cells, percent left): all a line's live part
    depends on; a line is repainted only when this changes."""
    left = token.seconds_left(now)
    if left is None:
        return ("no expiry given", "", -1, 0)
    fraction = token.lifetime_fraction_left(now) or 0.0
    filled, percent = round(fraction * BAR_WIDTH), round(fraction * 100)
    if left <= 0:
        return ("expired", "bad", 0, 0)
    kind = (
        "good"
        if fraction > 0.5 and left > 60
        else "warn"
        if fraction > 0.15 and left > 20
        else "bad"
    )
    return (f"{duration(left)} left", kind, filled, percent)


class CountdownList(ScrollView, can_focus=True):
    """Rows of tokens under a header line; ``tick()`` once a second keeps the countdowns live."""

    DEFAULT_CSS = """
    CountdownList { height: 1fr; }
    CountdownList > .countdown-list--header { text-style: bold; color: $text-accent; }
    CountdownList > .countdown-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    CountdownList:blur > .countdown-list--cursor { background: $block-cursor-blurred-background; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "countdown-list--header",
        "countdown-list--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False, id="countdown.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="countdown.up"),
        Binding("home,g", "first", "First", show=False, id="countdown.first"),
        Binding("end,G", "last", "Last", show=False, id="countdown.last"),
        Binding("pagedown", "page_down", "Page down", show=False, id="countdown.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="countdown.page_up"),
        Binding("enter", "select", "Open", show=False, id="countdown.select"),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    class Highlighted(Message):
        """The cursor moved to the row with this key (None when the list is empty)."""

        def __init__(self, countdown_list: CountdownList, key: str | None) -> None:
            super().__init__()
            self.countdown_list = countdown_list
            self.key = key

        @property
        def control(self) -> CountdownList:
            return self.countdown_list

    class Selected(Message):
        """Enter was pressed on the row with this key."""

        def __init__(self, countdown_list: CountdownList, key: str) -> None:
            super().__init__()
            self.countdown_list = countdown_list
            self.key = key

        @property
        def control(self) -> CountdownList:
            return self.countdown_list

    def __init__(
        self,
        columns: Sequence[tuple[str, str, int]],
        *,
        clock: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)  # (key, label, width) of the cells before the countdown
        self.clock = clock
        self._rows: dict[str, CountdownRow] = {}
        self._order: list[tuple[tuple[str, ...], str]] = []
        # What each row's line shows now: a tick repaints a line only when this changes.
        self._drawn: dict[str, State] = {}
        self._styles: dict[str, Style] = {}
        self._update_virtual_size()

    # -- rows ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    @property
    def keys(self) -> list[str]:
        return [key for _, key in self._order]

    def row(self, key: str) -> CountdownRow:
        return self._rows[key]

    def set_columns(self, columns: Sequence[tuple[str, str, int]]) -> None:
        """New leading columns (say, fewer on a narrow terminal); rows must match them."""
        self.columns = tuple(columns)
        self._update_virtual_size()
        self.refresh()

    def cell_text(self, key: str, column: str) -> str:
        """What the row shows in a column (a leading column's key, "expires" or "bar")."""
        row = self._rows[key]
        text, _, filled, percent = countdown_state(row.token, self.clock())
        if column == "expires":
            return text
        if column == "bar":
            return (
                "—" if filled < 0 else "█" * filled + "░" * (BAR_WIDTH - filled) + f" {percent:>3}%"
            )
        index = [column_key for column_key, _, _ in self.columns].index(column)
        return row.cells[index]

    def index_of(self, key: str) -> int:
        row = self._rows[key]
        return bisect.bisect_left(self._order, row.order)

    @property
    def cursor_key(self) -> str | None:
        return self._order[self.cursor][1] if self._order else None

    def set_rows(self, rows: Iterable[CountdownRow]) -> None:
        """Replace every row (one sort, here, not on every tick); the cursor stays on its key."""
        keep = self.cursor_key
        self._rows = {row.key: row for row in rows}
        self._order = sorted(row.order for row in self._rows.values())
        self._drawn.clear()
        self._changed(keep)

    def upsert_row(self, row: CountdownRow) -> None:
        """Add a row, or replace the one with its key, keeping the order without a re-sort."""
        keep = self.cursor_key
        old = self._rows.get(row.key)
        if old is not None:
            del self._order[bisect.bisect_left(self._order, old.order)]
        self._rows[row.key] = row
        bisect.insort(self._order, row.order)
        self._drawn.pop(row.key, None)
        self._changed(keep or row.key)

    def remove_row(self, key: str) -> None:
        old = self._rows.pop(key, None)
        if old is None:
            return
        keep = self.cursor_key
        del self._order[bisect.bisect_left(self._order, old.order)]
        self._drawn.pop(key, None)
        self._changed(None if keep == key else keep)

    def select(self, key: str) -> None:
        if key in self._rows:
            self.cursor = self.index_of(key)

    def _changed(self, keep: str | None) -> None:
        self._update_virtual_size()
        if keep is not None and keep in self._rows:
            index = self.index_of(keep)
        else:
            index = min(self.cursor, max(0, len(self._order) - 1))
        if index != self.cursor:
            self.cursor = index
        else:
            self.post_message(self.Highlighted(self, self.cursor_key))
        self.refresh()

    def _update_virtual_size(self) -> None:
        width = sum(width + GAP for _, _, width in self.columns) + COUNTDOWN_WIDTH + GAP + BAR_CELLS
        self.virtual_size = Size(width, len(self._order) + 1)  # + the header line

    # -- the tick -----------------------------------------------------------------------------

    def tick(self) -> int:
        """Repaint the lines in view whose countdown changed; returns how many."""
        now = self.clock()
        first = self.scroll_offset.y
        repainted = 0
        for index in range(first, min(len(self._order), first + max(0, self.size.height - 1))):
            key = self._order[index][1]
            state = countdown_state(self._rows[key].token, now)
            if self._drawn.get(key) != state:
                self._drawn[key] = state
                self.refresh_line(index + 1)
                repainted += 1
        return repainted

    # -- drawing ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        key = self._order[index][1]
        row = self._rows[key]
        state = countdown_state(row.token, self.clock())
        self._drawn[key] = state
        base = self.rich_style
        if index == self.cursor:
            base += self.get_component_rich_style("countdown-list--cursor")
        segments = [
            Segment(_fit(text, column_width) + " " * GAP, base)
            for text, (_, _, column_width) in zip(row.cells, self.columns, strict=False)
        ]
        text, kind, filled, percent = state
        segments.append(
            Segment(_fit(text, COUNTDOWN_WIDTH) + " " * GAP, base + self._tone(kind, bold=True))
        )
        if filled >= 0:
            fraction_kind = "good" if percent > 50 else "warn" if percent > 15 else "bad"
            segments += [
                Segment("█" * filled, base + self._tone(fraction_kind)),
                Segment("░" * (BAR_WIDTH - filled), base + Style(dim=True)),
                Segment(f" {percent:>3}%", base),
            ]
        else:
            segments.append(Segment("—", base))
        return Strip(segments).crop_extend(0, width, base)

    def _header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("countdown-list--header")
        labels = [(label, column_width) for _, label, column_width in self.columns]
        labels += [("Expires in", COUNTDOWN_WIDTH), ("Lifetime left", BAR_CELLS)]
        text = "".join(_fit(label, column_width) + " " * GAP for label, column_width in labels)
        return Strip([Segment(text, style)]).crop_extend(0, width, style)

    def _tone(self, kind: str, *, bold: bool = False) -> Style:
        if not kind:
            return Style(italic=True)
        name = f"{self.app.current_theme.name}:{kind}:{bold}"
        if name not in self._styles:
            self._styles[name] = Style.parse(
                f"{'bold ' if bold else ''}{tone(self.app.current_theme, kind)}"
            )
        return self._styles[name]

    # -- the cursor ---------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._keep_in_view(new)
        self.post_message(self.Highlighted(self, self.cursor_key))

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self._order) - 1))

    def _keep_in_view(self, index: int) -> None:
        rows_in_view = max(1, self.size.height - 1)
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows_in_view:
            self.scroll_to(y=index - rows_in_view + 1, animate=False)

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self._order) - 1

    def action_page_down(self) -> None:
        self.cursor += max(1, self.size.height - 1)

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.size.height - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self, self.cursor_key))


def _fit(text: str, width: int) -> str:
    """Exactly ``width`` cells: padded, or cut with an ellipsis (cells are plain, narrow text)."""
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
