"""Asks for a secret in a masked field; it never echoes."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from credenza.secrets import Secret


class SecretInputDialog(ModalScreen[Secret | None]):
    """Dismisses with the typed secret, wrapped so that nothing can print it by accident."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="secret_input.cancel")
    ]

    def __init__(self, title: str, body: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            if self.body:
                yield Static(self.body, markup=False)
            yield Input(password=True, placeholder="paste the client secret", id="secret")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Store", variant="primary", id="store", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#store")
    def _store(self) -> None:
        box = self.query_one("#secret", Input)
        value = box.value
        box.value = ""
        self.dismiss(Secret(value))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
