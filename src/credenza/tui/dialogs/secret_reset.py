"""The secret reset dialog: says what will happen, confirms, verifies, and shows a new secret once."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from credenza.errors import CredenzaError
from credenza.next_steps import step
from credenza.secrets import Secret
from credenza.tui.advice import advice, key_for_step

if TYPE_CHECKING:
    from credenza.config.model import Rotation
    from credenza.services.resets import ResetResult
    from credenza.workspace import Workspace


class SecretResetDialog(ModalScreen["ResetResult | None"]):
    """Resets one environment's secret through the workspace; dismisses with the result."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="secret_reset.cancel")
    ]

    def __init__(
        self,
        workspace: Workspace,
        app_id: str,
        env_name: str,
        *,
        rotation: Rotation | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.rotation = rotation  # the provider's own record, where it was read
        self.workspace = workspace
        self.app_id = app_id
        self.env_name = env_name
        resolved = workspace.environments.resolve(app_id, env_name)
        self.app_name = resolved.application.name
        self.production = env_name == "production"
        self.manual = not workspace.providers.adapter_for(resolved.application).issues_secrets
        self.policy = workspace.resets.reset_policy(app_id, env_name)
        self.owner: bool | None = None  # asked where only owners may reset (Chorus)
        self.plan = self._plan()
        self.portal = resolved.profile.portal_url
        self.result: ResetResult | None = None
        self._secret_to_copy: Secret | None = None  # a provider-issued secret, shown once

    def _plan(self) -> list[str]:
        """The provider's own plan; a step the user takes is named as its key on this row."""
        plan = self.workspace.resets.reset_plan(
            self.app_id, self.env_name, owner=self.owner, rotation=self.rotation
        )
        lines = [plan.title]
        for item in plan.items:
            key = key_for_step(self.app, item.then) if item.then else None
            lines.append(f"• {item.words}: press {key} on this row" if key else f"• {item.words}")
        return lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box", id="reset-box"):
            yield Label(
                f"Reset secret · {self.app_name} / {self.env_name}",
                classes="dialog-title",
                markup=False,
            )
            if self.policy.asks_owner:
                yield Label("Are you an owner of this application?", classes="before-reset")
                yield Select(
                    [("yes, I am an owner", "yes"), ("no, someone else is", "no")],
                    prompt="only owners may reset it: choose",
                    id="owner",
                    classes="before-reset",
                )
            yield Static("\n".join(self.plan), markup=False, id="plan")
            if self.manual and self.portal:
                yield Static(f"Portal: {self.portal}", markup=False)
            if self.production:
                yield Label(
                    f"Production: type {self.app_name} to confirm",
                    classes="before-reset",
                    markup=False,
                )
                yield Input(
                    id="typed", placeholder="the application's name", classes="before-reset"
                )
            if self.manual:
                yield Label("New secret from the portal")
                yield Input(
                    id="new-secret", password=True, placeholder="paste the new client secret"
                )
            yield Static(id="reset-status", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    "Reset secret",
                    variant="error",
                    id="reset",
                    disabled=not self._may_reset(""),
                    compact=True,
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        focus = (
            "#owner"
            if self.policy.asks_owner
            else "#typed"
            if self.production
            else "#new-secret"
            if self.manual
            else "#cancel"
        )
        self.query_one(focus).focus()

    def _may_reset(self, typed: str) -> bool:
        if self.policy.asks_owner and self.owner is not True:
            return False
        return not self.production or typed.strip() == self.app_name

    def _typed_name(self) -> str:
        return self.query_one("#typed", Input).value if self.production else ""

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#reset", Button).disabled = not self._may_reset(event.value)

    @on(Input.Submitted, "#typed")
    def _typed_enter(self, event: Input.Submitted) -> None:
        # Enter once the name matches: on to the new secret's box (a portal), or the reset.
        if not self._may_reset(event.value) or self.query_one("#reset", Button).disabled:
            return
        if self.manual:
            self.query_one("#new-secret", Input).focus()
        else:
            self._reset()

    @on(Select.Changed, "#owner")
    def _owner_chosen(self, event: Select.Changed) -> None:
        self.owner = None if event.value is Select.BLANK else event.value == "yes"
        self.plan = self._plan()
        if self.owner is False:
            # The owner resets it and sends the new secret; storing it is the s key.
            store = key_for_step(self.app, step("set_secret")) or "s"
            self.plan.append(
                f"• when the new secret reaches you, close this and press {store} to store it"
            )
        self.query_one("#plan", Static).update("\n".join(self.plan))
        self.query_one("#reset", Button).disabled = not self._may_reset(self._typed_name())

    @on(Button.Pressed, "#reset")
    def _reset(self) -> None:
        new_secret: Secret | None = None
        if self.manual:
            box = self.query_one("#new-secret", Input)
            new_secret = Secret(box.value)
            box.value = ""
        self.query_one("#reset", Button).disabled = True
        self._status("⟳ resetting and verifying with a token call…")
        self.run_worker(self._run(new_secret), exclusive=True, group="reset")

    async def _run(self, new_secret: Secret | None) -> None:
        from credenza.services.resets import UnstoredSecretError

        try:
            result = await self.workspace.resets.reset(self.app_id, self.env_name, new_secret)
        except UnstoredSecretError as exc:
            self._show_once(exc.secret, f"✗ {advice(self.app, exc)}", stored=False)
            return
        except CredenzaError as exc:
            self._status(f"✗ {advice(self.app, exc)}")
            self.query_one("#reset", Button).disabled = False
            return
        self.result = result
        lines = [f"✓ rotated at {result.rotated_at:%Y-%m-%d %H:%M} UTC"]
        lines += [f"! {w}" for w in result.warnings]
        if result.new_secret is not None:
            self._show_once(result.new_secret, "\n".join(lines), stored=True)
        else:
            self._status("\n".join([*lines, "✓ the new secret works and is stored"]))
            self._finish()

    def _show_once(self, secret: Secret, message: str, *, stored: bool) -> None:
        # Asked for: the provider issued it, and this is the only time it is shown.
        where = (
            "shown once; stored in the keyring"
            if stored
            else "NOT stored anywhere: copy it now, it is not shown again"
        )
        self._status(f"{message}\nNew secret ({where}):\n{secret.reveal()}")
        self._secret_to_copy = secret
        buttons = self.query_one(".dialog-buttons", Horizontal)
        buttons.mount(Button("Copy", id="copy", compact=True), before=0)
        self._finish()

    def _finish(self) -> None:
        for widget in self.query(".before-reset"):
            widget.display = False
        self.query_one("#reset", Button).display = False
        self.query_one("#cancel", Button).label = "Close"

    def _status(self, text: str) -> None:
        self.query_one("#reset-status", Static).update(text)

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        if self._secret_to_copy is not None:
            self.app.copy_to_clipboard(self._secret_to_copy.reveal())
        self.notify("copied to the clipboard (OSC 52)")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if any(w.is_running and w.node is self for w in self.workers if w.group == "reset"):
            # The provider may have issued the new secret already: stay until it is kept.
            self.notify("the reset is finishing; the dialog closes when the new secret is kept")
            return
        self.dismiss(self.result)
