"""Asks yes or no; for dangerous actions, asks the user to type a name."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses True when confirmed. With ``type_to_confirm``, the name must be typed first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel")
    ]

    def __init__(
        self, title: str, body: str, *, action: str = "Confirm", type_to_confirm: str | None = None
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body
        self.action = action
        self.type_to_confirm = type_to_confirm

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, markup=False)
            if self.type_to_confirm:
                yield Label(f"Type {self.type_to_confirm} to confirm:", markup=False)
                yield Input(id="typed")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    self.action,
                    compact=True,
                    variant="error",
                    id="confirm",
                    disabled=bool(self.type_to_confirm),
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        (self.query_one("#typed") if self.type_to_confirm else self.query_one("#cancel")).focus()

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value.strip() != self.type_to_confirm

    @on(Input.Submitted, "#typed")
    def _submitted(self) -> None:
        if not self.query_one("#confirm", Button).disabled:
            self.dismiss(True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
