"""What needs attention (the header's count), one row each; enter goes to the row to fix it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from credenza.oauth.untrusted import clean
from credenza.services.status import Attention, StatusReport
from credenza.tui.advice import keys_in
from credenza.tui.sections import WHERE
from credenza.tui.widgets.table import VimTable


def what(item: Attention) -> str:
    """The item in a few words, for the table; config and server text cleaned."""
    subject = clean(item.subject or "", limit=60)
    detail = clean(item.detail or "", limit=120)
    day = f"{item.when:%Y-%m-%d}" if item.when else ""
    match item.kind:
        case "reset_unfinished":
            return "a secret reset did not finish"
        case "secret_expired":
            return f"secret expired on {day}"
        case "refresh_failed":
            return f"token refresh failed: {detail}"
        case "client_id_shared":
            return f"client_id {detail} also used by {subject}"
        case "rotation_overdue":
            return f"rotation overdue since {day} ({detail})"
        case "secret_expiring":
            return f"secret expires {day} (in {item.days} days)"
        case "checklist_open":
            return f"to do: {subject}" + (f" ({detail})" if detail else "")
        case "contract_pending":
            return f"{subject}: waiting for the provider"
        case "scope_requested":
            return f"scope {subject} asked of the provider, not granted yet"


def row_key(index: int) -> str:
    return str(index)


class AttentionDialog(ModalScreen[Attention | None]):
    """Dismisses with the item chosen (the app goes to its row), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="attention.close"),
        Binding("exclamation_mark", "close", "Close", show=False, id="attention.toggle"),
    ]

    def __init__(self, report: StatusReport) -> None:
        super().__init__(classes="dialog")
        self.report = report

    def compose(self) -> ComposeResult:
        due = len(self.report.due)
        waiting = len(self.report.items) - due
        title = (
            f"Needs attention: {due} due, {waiting} waiting"
            if self.report.items
            else "Needs attention: nothing"
        )
        with Vertical(classes="dialog-box attention", id="attention-box"):
            yield Label(title, classes="dialog-title", markup=False)
            table: VimTable = VimTable(id="attention-table", cursor_type="row")
            yield table
            yield Static(id="attention-advice", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#attention-table", VimTable)
        table.add_column("", key="level")
        table.add_column("What", key="what")
        table.add_column("Where", key="where")
        theme = self.app.current_theme
        from credenza.tui.format import clip, word

        for index, item in enumerate(self.report.items):
            table.add_row(
                word(theme, "due", "bad") if item.level == "due" else word(theme, "wait", "info"),
                Text(clip(what(item), 36)),
                Text(clip(f"{clean(item.application_name)} / {item.environment or '—'}", 22)),
                key=row_key(index),
            )
        if not self.report.items:
            self.query_one("#attention-advice", Static).update(
                "Nothing needs attention: no secret expiring or overdue, every production "
                "checklist done, no contract waiting."
            )
        table.focus()
        self._advise()

    @on(DataTable.RowHighlighted)
    def _advise(self) -> None:
        item = self.selected()
        if item is None:
            return
        _, keys = WHERE[item.kind]
        keys = keys_in(self.app, keys)
        text = Text(what(item), style="bold")
        text.append(f"\n{clean(item.application_name)}")
        if item.environment:
            text.append(f" / {item.environment}")
        text.append(f"\nenter goes there, then {keys}")
        self.query_one("#attention-advice", Static).update(text)

    def selected(self) -> Attention | None:
        table = self.query_one("#attention-table", VimTable)
        if not self.report.items or table.cursor_row < 0:
            return None
        return self.report.items[min(table.cursor_row, len(self.report.items) - 1)]

    @on(DataTable.RowSelected)
    def _go(self) -> None:
        self.dismiss(self.selected())

    def action_close(self) -> None:
        self.dismiss(None)
