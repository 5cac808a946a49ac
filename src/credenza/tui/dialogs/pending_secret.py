"""Asks what to do with a secret a reset left pending: finish the reset with it, or discard it."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

PendingChoice = Literal["finish", "discard"]


class PendingSecretDialog(ModalScreen[PendingChoice | None]):
    """Dismisses "finish", "discard", or None (cancelled: the pending secret stays)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="pending_secret.cancel")
    ]

    def __init__(self, label: str, masked: str) -> None:
        super().__init__(classes="dialog")
        self.label = label
        self.masked = masked

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Label(f"Unfinished reset of {self.label}", classes="dialog-title", markup=False)
            yield Static(
                f"A reset of this secret did not finish: a new secret ({self.masked}) is kept in "
                "your keyring as pending. Finishing checks it with a token call and stores it "
                "as the current secret; a new reset would replace it, so this comes first.\n"
                "If it was mistyped (a one-time link opens once), discard it: the current "
                "secret stays as it is.",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Finish reset", compact=True, variant="primary", id="finish")
                yield Button("Discard pending", compact=True, variant="error", id="discard")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#finish").focus()

    @on(Button.Pressed, "#finish")
    def _finish(self) -> None:
        self.dismiss("finish")

    @on(Button.Pressed, "#discard")
    def _discard(self) -> None:
        self.dismiss("discard")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
