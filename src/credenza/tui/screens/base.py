"""What every section shares: the mode bar, a filterable table, a detail panel, tasks, commands.

A little over 400 lines: what every section shares (its table, filter, detail panel, row
building in chunks and the selection kept across reloads) is one base.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import RowDoesNotExist
from textual.worker import Worker

from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.tui.advice import advice
from credenza.tui.commands import Command, PaletteEntry, palette
from credenza.tui.context import Dashboard
from credenza.tui.messages import ConfigChanged, TaskFailed
from credenza.tui.widgets.footer import FittingFooter
from credenza.tui.widgets.mode_bar import ModeBar
from credenza.tui.widgets.table import Cell, PlainCell, TableCell, VimTable, plain

if TYPE_CHECKING:
    from credenza.services.status import Attention
    from credenza.workspace import Workspace

T = TypeVar("T")
# Rows built before the first frame (more than a terminal shows), then rows per step after it.
FIRST_ROWS = 200
CHUNK_ROWS = 500
DRAW_WAIT = 0.5  # seconds: the longest the rest waits for the first rows to be drawn

WIDE_AT = 130  # columns; below this a section shows its NARROW columns, the rest in its panel


class TableScreen(Screen[None]):
    """A section: a filterable table of rows, and a panel with the highlighted row's details."""

    MODE: ClassVar[str] = ""
    # What a person can do here, each declared once: the section's BINDINGS are made from
    # them (bindings(MODE, SECTION_COMMANDS)) and so are its palette entries.
    SECTION_COMMANDS: ClassVar[tuple[Command, ...]] = ()
    AUTO_FOCUS = "#table"
    COLUMNS: ClassVar[list[tuple[str, str]]] = []
    NARROW: ClassVar[set[str]] = set()
    # Shorter headings for narrow columns, where the wide heading would set the width.
    NARROW_LABELS: ClassVar[dict[str, str]] = {}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="table.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="table.clear_filter"),
        Binding(
            "J",
            "scroll_detail(1)",
            "Scroll details down (or tab into them, then arrows)",
            show=False,
            id="detail.down",
        ),
        Binding("K", "scroll_detail(-1)", "Scroll details up", show=False, id="detail.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._row_keys: list[str] = []
        self.wide: bool | None = None
        self._suspended = False  # by another section or a dialog: rebuilt when shown again
        # The last task message per row, kept until the next task on that row replaces it.
        self.messages: dict[str, tuple[str, str]] = {}
        self._dashboard: Dashboard | None = None
        # The deferred row build: bumped by every reload, so an older build stops adding rows.
        self._generation = 0
        self._building = False
        self._builder: Worker[None] | None = None  # the worker adding the rest of the rows
        # A row asked for (select_key) before the build reached it.
        self._wanted: str | None = None

    @property
    def credenza(self) -> Dashboard:
        # The workspace is handed to the app; screens reach it through this protocol. Checked
        # once: isinstance against a runtime-checkable Protocol inspects every member (~90 µs),
        # and rows() asks once per row — 90 ms of the first frame at 1,000 applications.
        if self._dashboard is None:
            assert isinstance(self.app, Dashboard)
            self._dashboard = self.app
        return self._dashboard

    @property
    def workspace(self) -> Workspace:
        return self.credenza.workspace

    def compose(self) -> ComposeResult:
        yield ModeBar(self.MODE)
        with Vertical(id="body"):
            yield Input(placeholder="filter: type to narrow the rows, escape to clear", id="filter")
            yield self.make_table()
            # A scroll box: a long panel (the production checklist) is read by J/K, the wheel,
            # or tab into it and the arrow keys, whatever the terminal's height.
            with VerticalScroll(id="detail"):
                yield Static(id="detail-text", markup=False)
        yield FittingFooter()

    def make_table(self) -> Widget:
        """The widget with id "table"; a section that draws its rows otherwise overrides this
        and the methods that reach into it (columns, reload, selected_key, select_key)."""
        return VimTable(id="table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._set_columns(self.app.size.width >= WIDE_AT)
        self.show_attention()
        self.mounted()

    # Textual calls the on_mount and on_screen_resume of every class in a screen's MRO by
    # itself: a section that overrode them and called super() ran these twice (the Tokens
    # screen built its rows six times before its first countdown). Sections use these hooks.

    def mounted(self) -> None:
        """What a section does once it is mounted and its rows are first built."""

    def resumed(self) -> None:
        """What a section does each time it is shown again (after another section or a dialog)."""

    def show_attention(self) -> None:
        """The mode bar's count of what needs attention, as the app last worked it out."""
        self.query_one(ModeBar).set_count(self.credenza.attention_count)

    def on_resize(self) -> None:
        if (self.size.width >= WIDE_AT) != self.wide:
            self._set_columns(self.size.width >= WIDE_AT)

    @property
    def columns(self) -> list[str]:
        """The keys of the columns shown at the current width."""
        return [
            key for key, _ in self.COLUMNS if self.wide or not self.NARROW or key in self.NARROW
        ]

    def _set_columns(self, wide: bool) -> None:
        self.wide = wide
        table = self.query_one("#table", VimTable)
        table.clear(columns=True)
        labels = dict(self.COLUMNS) | ({} if wide else self.NARROW_LABELS)
        for key in self.columns:
            table.add_column(labels[key], key=key)
        self.reload()

    def on_screen_suspend(self) -> None:
        self._suspended = True

    def on_screen_resume(self) -> None:
        self.credenza.release_notifications()  # held while a dialog was open
        # Only after a suspend: a section's first showing (resumed twice by Textual's switch of
        # mode) follows the mount, which has just built the rows.
        if self._suspended:
            self._suspended = False
            self.reload()
            self.show_attention()
        self.resumed()

    @on(ConfigChanged)
    def _config_changed(self, message: ConfigChanged) -> None:
        # Relayed by the app to every section: one in another mode reloads when shown again.
        if self.app.current_mode == self.MODE:
            self.reload()

    def select_attention(self, item: Attention) -> None:
        """Put the cursor on the row where ``item`` (from the ! list) is fixed."""

    # -- rows -----------------------------------------------------------------------------------

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        """(row key, cells) for every row; subclasses build them from the workspace."""
        return []

    def reload(self) -> None:
        """Rebuild the rows (on data changes, not on clock ticks), keeping the cursor's row.

        The first FIRST_ROWS rows (more than any terminal shows) are built at once; the rest
        after the next frame, in chunks, by a worker that a newer reload (a filter keystroke, a
        change) replaces. So the first frame of 10,000 applications costs what 200 do, and each
        row's cells (an application's checklist) are worked out only as the row is built.
        """
        table = self.query_one("#table", VimTable)
        keep = self._wanted if self._wanted is not None else self.selected_key()
        self._wanted = None
        self._generation += 1
        table.clear()
        table.rows_drawn.clear()
        self._row_keys = []
        rows = self._matching_rows()
        first = list(islice(rows, FIRST_ROWS + 1))
        self._building = len(first) > FIRST_ROWS
        self._add_rows(table, first[:FIRST_ROWS])
        if keep is not None:
            self.select_key(keep)  # a row not built yet: the worker puts the cursor there
        if self._building:
            rest, generation = chain(first[FIRST_ROWS:], rows), self._generation

            async def build() -> None:
                await self._build_rest(rest, generation)

            # A callable, not a coroutine: a build replaced before it starts never runs.
            self._builder = self.run_worker(build, name="rows", group="rows", exclusive=True)
        self.show_detail()

    def _matching_rows(self) -> Iterator[tuple[str, list[TableCell]]]:
        """(key, the shown columns' cells) of every row the filter lets through, made lazily."""
        needle = self.filter_text.lower()
        shown = [index for index, (key, _) in enumerate(self.COLUMNS) if key in self.columns]
        shared: dict[str, PlainCell] = {}
        for key, cells in self.rows():
            # The filter matches every field, shown or not (at 80 columns some are in the panel).
            if needle and not any(needle in str(cell).lower() for cell in cells):
                continue
            yield key, [plain(cells[index], shared) for index in shown]

    def _add_rows(self, table: VimTable, rows: Iterable[tuple[str, list[TableCell]]]) -> None:
        for key, cells in rows:
            table.add_row(*cells, key=key)
            self._row_keys.append(key)

    async def _build_rest(
        self, rows: Iterator[tuple[str, list[TableCell]]], generation: int
    ) -> None:
        """The rows after the first FIRST_ROWS, once the first of them are drawn."""
        table = self.query_one("#table", VimTable)
        # A table that is not drawn (hidden, no height) still gets its rows.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(table.rows_drawn.wait(), DRAW_WAIT)
        # The app reads its own queue only once its start-up is over: until then it draws
        # nothing on the terminal, and rows added now would only delay the first frame.
        started = asyncio.Event()
        self.app.call_later(started.set)
        await started.wait()
        table.refresh()  # drawn during start-up, never shown: draw it now, and wait for that
        await self.wait_for_refresh()
        while generation == self._generation:
            chunk = list(islice(rows, CHUNK_ROWS))
            if not chunk:
                break
            # On the last row (G while rows are still coming): stay on the last row.
            at_end = self._wanted is None and table.cursor_row == table.row_count - 1
            self._add_rows(table, chunk)
            if at_end:
                table.move_cursor(row=table.row_count - 1)
            if self._wanted is not None and self._wanted in {key for key, _ in chunk}:
                wanted, self._wanted = self._wanted, None
                self.select_key(wanted)
            await asyncio.sleep(0.01)  # keys and repaints between chunks
        if generation == self._generation:
            self._building = False
            self._wanted = None

    @property
    def building(self) -> bool:
        """True while rows after the first FIRST_ROWS are still being added."""
        return self._building

    def row_keys(self) -> list[str]:
        return list(self._row_keys)

    def selected_key(self) -> str | None:
        table = self.query_one("#table", VimTable)
        if not self._row_keys or table.cursor_row < 0 or table.cursor_row >= len(self._row_keys):
            return None
        return self._row_keys[table.cursor_row]

    def select_key(self, key: str) -> None:
        """Put the cursor on ``key``'s row; a row not built yet gets it once it is."""
        table = self.query_one("#table", VimTable)
        try:
            index = table.get_row_index(key)
        except RowDoesNotExist:
            if self._building:
                self._wanted = key
            return
        self._wanted = None
        table.move_cursor(row=index)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes enter for itself and says so with RowSelected.
        self.action_open()

    def show_detail(self) -> None:
        from credenza.tui.format import word

        panel = self.query_one("#detail-text", Static)
        key = self.selected_key()
        if key is None:
            panel.update(self.no_match() if self.filter_text else self.empty_detail())
            return
        try:
            text = self.detail(key)
        except (CredenzaError, KeyError):  # the row went away (removed elsewhere): show nothing
            panel.update(self.empty_detail())
            return
        if key in self.messages:
            message, kind = self.messages[key]
            text.append("\n")
            text.append_text(word(self.app.current_theme, message, kind))
        if not all(line.isprintable() for line in text.plain.split("\n")):
            # Something from outside slipped past its screen's cleaning: show it plain.
            text = Text("\n".join(clean(line, limit=None) for line in text.plain.split("\n")))
        panel.update(text)

    def no_match(self) -> Text:
        text = Text("no match for ", style="italic")
        text.append(repr(self.filter_text))
        text.append(" (escape clears the filter)", style="italic")
        return text

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one("#detail", VerticalScroll).scroll_relative(y=lines * 3, animate=False)

    def detail(self, key: str) -> Text:
        return Text(key)

    def empty_detail(self) -> Text:
        return Text("Nothing here yet.", style="italic")

    def set_detail_message(self, message: str, kind: str = "info", key: str | None = None) -> None:
        """Show a task's progress or outcome under the details of its row."""
        key = key or self.selected_key()
        if key is None:
            return
        self.messages[key] = (message, kind)
        if key == self.selected_key():
            self.show_detail()

    # -- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("shown") or self.filter_text:
            box.value = ""
            box.remove_class("shown")
            self.filter_text = ""
            self.reload()
            self.query_one("#table").focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.reload()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#table").focus()

    def action_open(self) -> None:
        """Enter on a row; sections override it (Applications opens the environments)."""
        self.show_detail()

    # -- commands and tasks ---------------------------------------------------------------------

    def commands(self) -> list[PaletteEntry]:
        """Palette entries (title, help, callback): those of SECTION_COMMANDS that have one."""
        key = self.selected_key()
        return palette(
            self.SECTION_COMMANDS, self.row_label(key) if key is not None else None, self
        )

    def row_label(self, key: str) -> str | None:
        """A row as the palette names it ("Telenor SMS / production"); None: no row commands."""
        return None

    def run_task(
        self,
        label: str,
        work: Coroutine[Any, Any, T],
        done: Callable[[T], Awaitable[None] | None] | None = None,
        *,
        group: str = "network",
    ) -> None:
        """Run a workspace call in a worker: say it runs, and end in a toast and the detail panel.

        One call per label at a time: a second press of the same key while the first call runs
        starts nothing (exclusive per label, so a fetch on another row still runs). Failures
        say what happened and which key fixes it, and post TaskFailed.
        """

        key = self.selected_key()  # the row the task is about, even if the cursor moves on
        name = f"{group}:{label}"
        if any(w.name == name and not w.is_finished for w in self.workers):
            work.close()  # never awaited: the call is not made
            self.notify(f"still {label}…", severity="warning", markup=False)
            return

        async def task() -> None:
            self.set_detail_message(f"⟳ {label}…", "info", key)
            try:
                result = await work
            except CredenzaError as exc:
                said = advice(self.app, exc)
                self.notify(said, title=f"{label} failed", severity="error", timeout=8)
                self.set_detail_message(f"✗ {label} failed: {said}", "bad", key)
                self.app.post_message(TaskFailed(label, said))
                return
            if key is not None and self.messages.get(key, ("", ""))[0].startswith("⟳"):
                del self.messages[key]
            if done is not None:
                outcome = done(result)
                if asyncio.iscoroutine(outcome):
                    await outcome
            self.show_detail()

        self.run_worker(task(), name=name, group=name, exclusive=True, exit_on_error=False)

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking workspace call (config file, keyring) off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)
