"""The Environments section's secret commands: set, reset (and finish or discard one left
unfinished), reveal for a few seconds, retire the previous secret after an overlap rotation."""

from __future__ import annotations

from credenza.config.model import Rotation
from credenza.errors import CredenzaError
from credenza.secrets import CheckedSecret, Secret
from credenza.services.environments import ResolvedEnvironment
from credenza.services.resets import ResetResult
from credenza.tui.advice import advice, problem
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.pending_secret import PendingChoice, PendingSecretDialog
from credenza.tui.dialogs.secret_input import SecretInputDialog
from credenza.tui.dialogs.secret_reset import SecretResetDialog
from credenza.tui.messages import ConfigChanged
from credenza.tui.screens.base import TableScreen

REVEAL_SECONDS = 10.0


def env_key(app_id: str, env_name: str) -> str:
    return f"{app_id}/{env_name}"


def split_key(key: str) -> tuple[str, str]:
    app_id, _, env_name = key.partition("/")
    return app_id, env_name


class SecretCommands(TableScreen):
    """What the Environments section does with a row's secret; the rows are its subclass's."""

    def __init__(self) -> None:
        super().__init__()
        self.revealed: dict[str, Secret] = {}

    def _selected(self) -> tuple[str, str] | None:
        key = self.selected_key()
        return split_key(key) if key else None

    def _resolved(self, app_id: str, env_name: str) -> ResolvedEnvironment | None:
        """The selected row's environment, or None with the reason said: the row may be stale
        (another process removed or renamed it), and a key press never ends the dashboard."""
        try:
            return self.workspace.environments.resolve(app_id, env_name)
        except CredenzaError as exc:
            self.notify(advice(self.app, exc), title=f"{app_id} / {env_name}", severity="error")
            self.app.post_message(ConfigChanged())  # the rows as the file has them now
            return None

    def action_set_secret(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def entered(secret: Secret | None) -> None:
            if secret is None:
                return

            def stored(checked: CheckedSecret) -> None:
                self.app.post_message(ConfigChanged())
                self.notify(
                    f"stored the secret for {app_id} / {env_name} ({checked.secret.masked()})"
                )
                for warning in checked.warnings:
                    self.notify(warning, severity="warning")

            self.run_task(
                "storing the secret in the keyring",
                self.call(self.workspace.credentials.set, app_id, env_name, secret),
                stored,
                group="keyring",
            )

        self.app.push_screen(
            SecretInputDialog(
                f"Set secret · {app_id} / {env_name}",
                "Stored in the OS keyring, never in the config file.",
            ),
            entered,
        )

    def action_reset_secret(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def checked(found: tuple[Secret | None, Rotation | None]) -> None:
            pending, rotation = found
            if pending is None:
                self._open_reset(app_id, env_name, rotation)
            else:
                self._offer_recovery(app_id, env_name, pending.masked())

        async def look() -> tuple[Secret | None, Rotation | None]:
            pending = await self.call(self.workspace.resets.pending, app_id, env_name)
            if pending is not None:
                return pending, None
            try:  # the plan says what the provider really does (the sandbox's record)
                return None, await self.workspace.resets.rotation(app_id, env_name)
            except CredenzaError:
                return None, None  # the dialog then says the profile's word, and fails later

        # A reset left unfinished holds a secret the provider showed once: a new reset would
        # replace it, so finishing that one comes first.
        self.run_task(f"checking {app_id} / {env_name} for an unfinished reset", look(), checked)

    def _offer_recovery(self, app_id: str, env_name: str, masked: str) -> None:
        label = f"{app_id} / {env_name}"

        def recovered(result: ResetResult | None) -> None:
            self.app.post_message(ConfigChanged())
            if result is None:
                self.set_detail_message("nothing was pending any more", "info")
                return
            lines = ["✓ the secret the provider issued is stored as the current one"]
            lines += [f"⚠ {warning}" for warning in result.warnings]
            self.set_detail_message("\n".join(lines), "good" if result.verified else "warn")
            self.notify(f"reset of {label} finished")

        def discarded(found: bool) -> None:
            self.app.post_message(ConfigChanged())
            self.set_detail_message(
                "the pending secret is discarded; the current one is unchanged"
                if found
                else "nothing was pending any more",
                "info",
            )

        def sure(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"discarding the pending secret of {label}",
                    self.workspace.resets.discard_pending(app_id, env_name),
                    discarded,
                )

        def chosen(choice: PendingChoice | None) -> None:
            if choice == "finish":
                self.run_task(
                    f"finishing the reset of {label}",
                    self.workspace.resets.recover(app_id, env_name),
                    recovered,
                )
            elif choice == "discard":
                self.app.push_screen(
                    ConfirmDialog(
                        f"Discard the pending secret of {label}?",
                        f"The pending secret ({masked}) is deleted from your keyring. A secret "
                        "shown once is not shown again; the current secret stays.",
                        action="Discard",
                        type_to_confirm=env_name,
                    ),
                    sure,
                )

        self.app.push_screen(PendingSecretDialog(label, masked), chosen)

    def _open_reset(self, app_id: str, env_name: str, rotation: Rotation | None = None) -> None:
        def done(result: ResetResult | None) -> None:
            self.app.post_message(ConfigChanged())
            if result is not None:
                self.notify(f"secret of {app_id} / {env_name} rotated")

        try:
            dialog = SecretResetDialog(self.workspace, app_id, env_name, rotation=rotation)
        except CredenzaError as exc:  # a key or a public client: nothing to reset
            self.notify(problem(self.app, exc), title="reset", severity="error", timeout=8)
            return
        self.app.push_screen(dialog, done)

    def action_reveal(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        app_id, env_name = split_key(key)

        def shown(secret: Secret) -> None:
            self.revealed[key] = secret
            self.reload()
            self.set_timer(REVEAL_SECONDS, lambda: self._hide(key))

        self.run_task(
            "reading the keyring",
            self.call(self.workspace.credentials.reveal, app_id, env_name),
            shown,
            group="keyring",
        )

    def _hide(self, key: str) -> None:
        if self.revealed.pop(key, None) is not None and self.is_mounted:
            self.reload()

    def action_retire_previous(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return

        def known(rotation: Rotation) -> None:
            # The provider's own record (the sandbox's client), not the profile's default.
            if rotation != "overlap":
                self.notify(
                    f"{resolved.label}: the provider rotates by cut-over, so a reset already "
                    "ended the old secret; there is nothing to retire",
                    severity="warning",
                )
                return
            self.app.push_screen(
                ConfirmDialog(
                    f"Retire the previous secret of {resolved.label}?",
                    "Do this once every system that used the old secret uses the new one: from "
                    "now on the provider refuses the old secret.",
                    action="Retire",
                ),
                confirmed,
            )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"retiring the previous secret of {app_id} / {env_name}",
                    self.workspace.resets.retire_previous(app_id, env_name),
                    lambda _: self.set_detail_message(
                        "✓ the previous secret is retired: only the new one works", "good"
                    ),
                )

        self.run_task(
            f"asking how {app_id} / {env_name} rotates",
            self.workspace.resets.rotation(app_id, env_name),
            known,
        )
