"""Signing in as a user: the URL to open (with Copy), or the device code with its countdown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.services.tokens.records import SessionToken
from credenza.tui.advice import problem

if TYPE_CHECKING:
    from credenza.oauth.grants.device import DeviceAuthorization
    from credenza.services.sign_in import SignInMethod
    from credenza.workspace import Workspace


class SignInDialog(ModalScreen[SessionToken | None]):
    """Runs one sign-in in a worker; dismisses with the user's session, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="sign_in.cancel")
    ]

    def __init__(
        self,
        workspace: Workspace,
        app_id: str,
        env_name: str,
        method: SignInMethod,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(classes="dialog")
        self.workspace = workspace
        self.app_id = app_id
        self.env_name = env_name
        self.method = method
        self.clock = clock
        self.label = workspace.environments.resolve(app_id, env_name).label
        self._to_copy: str | None = None
        self._device: DeviceAuthorization | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box", id="sign-in-box"):
            yield Label(f"Sign in · {self.label}", classes="dialog-title")
            yield Static("Starting…", markup=False, id="sign-in-how")
            yield Static("", markup=False, id="sign-in-target")
            yield Static("", markup=False, id="sign-in-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", id="copy", compact=True, disabled=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel").focus()
        self._sign_in()

    @work(exclusive=True, group="sign-in")
    async def _sign_in(self) -> None:
        sign_in = self.workspace.sign_in
        try:
            if self.method == "browser":
                session = await sign_in.with_browser(
                    self.app_id, self.env_name, None, show=self._show_url
                )
            else:
                pending = await sign_in.start_device(self.app_id, self.env_name, None)
                self._show_device(pending.device)
                session = await sign_in.finish_device(pending)
        except CredenzaError as exc:
            self._status(f"✗ {problem(self.app, exc)}")
            self.query_one("#cancel", Button).label = "Close"
            return
        self.dismiss(session)

    def _show_url(self, url: str) -> None:
        self._to_copy = url
        self.query_one("#sign-in-how", Static).update(
            "Open this URL in a browser on this machine, and approve:"
        )
        self.query_one("#sign-in-target", Static).update(clean(url, limit=None))
        self.query_one("#copy", Button).disabled = False
        self._status("Waiting for the browser to come back…")

    def _show_device(self, device: DeviceAuthorization) -> None:
        self._device = device
        # The server chose these: cleaned before they reach the screen.
        uri = clean(device.verification_uri_complete or device.verification_uri, limit=None)
        self._to_copy = uri
        self.query_one("#sign-in-how", Static).update(
            f"On any device, open {clean(device.verification_uri, limit=None)} and enter:"
        )
        self.query_one("#sign-in-target", Static).update(clean(device.user_code, limit=40))
        self.query_one("#copy", Button).disabled = False
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self._device is None:
            return
        left = max(0, int((self._device.expires_at - self.clock()).total_seconds()))
        self._status(f"Waiting for approval · the code expires in {left // 60}:{left % 60:02d}")

    def _status(self, text: str) -> None:
        self.query_one("#sign-in-status", Static).update(text)

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        if self._to_copy is not None:
            self.app.copy_to_clipboard(self._to_copy)
            self.notify("copied to the clipboard (OSC 52)")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        # Cancelling the worker closes the loopback listener; nothing was stored yet.
        self.workers.cancel_group(self, "sign-in")
        self.dismiss(None)
