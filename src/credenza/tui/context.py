"""What a screen may ask of the app it runs in, without importing the app (no import cycle)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from credenza.workspace import Workspace


@runtime_checkable
class Dashboard(Protocol):
    """The app, as screens see it: the workspace it was handed, its clock, the selection."""

    workspace: Workspace
    clock: Callable[[], datetime]
    selected_application: str | None
    # How many things are due (the header's count); None until first worked out.
    attention_count: int | None

    def release_notifications(self) -> None:
        """Show the toasts held while a dialog was open."""
