"""The Environments section's edits: add an environment, edit one, remove one (with its secrets)."""

from __future__ import annotations

from credenza.config.changes import EnvironmentChange
from credenza.config.model import Environment
from credenza.tui.advice import keys_in
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.environment_form import EnvironmentForm, EnvironmentTarget
from credenza.tui.messages import ConfigChanged
from credenza.tui.screens.environment_secrets import SecretCommands, env_key


class EditCommands(SecretCommands):
    """Add, edit and remove environments; the rows are its subclass's."""

    def _form(self, target: EnvironmentTarget | None, app_id: str | None) -> EnvironmentForm:
        workspace = self.workspace
        # The file as the form saw it: a change made meanwhile (the CLI) is a conflict, not lost.
        opened = workspace.config_digest

        async def save(app: str, name: str, change: EnvironmentChange) -> Environment:
            if target is None:
                return await self.call(workspace.environments.add, app, name, change)
            return await self.call(workspace.environments.edit, app, name, change, expected=opened)

        return EnvironmentForm(
            save,
            workspace.environments.endpoints_from_issuer,
            applications=[(a.name, a.id) for a in workspace.applications.all()],
            target=target,
            app_id=app_id,
            warnings=workspace.environments.client_id_warnings,
        )

    def action_add(self) -> None:
        selected = self._selected()
        app_id = selected[0] if selected else self.credenza.selected_application
        if not self.workspace.applications.all():
            first = keys_in(
                self.app, "add an application first ({app.applications}, then {applications.add})"
            )
            self.notify(first, severity="warning")
            return

        def added(environment: Environment | None) -> None:
            if environment is not None:
                self.app.post_message(ConfigChanged())
                self.notify(
                    keys_in(
                        self.app,
                        "environment added: press {environments.set_secret} to store its secret",
                    )
                )

        self.app.push_screen(self._form(None, app_id), added)

    def action_edit(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return
        target = EnvironmentTarget(app_id, env_name, resolved.environment)

        def edited(result: Environment | None) -> None:
            if result is not None:
                self.app.post_message(ConfigChanged())
                self.notify(f"saved {app_id} / {env_name}")

        self.app.push_screen(self._form(target, app_id), edited)

    def action_remove(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return
        body = (
            f"This removes the environment {env_name} of {resolved.application.name} from the "
            "config, and deletes its secret and cached tokens from your keyring. The provider "
            "keeps the client: revoke it there if nothing uses it any more."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"removing {app_id} / {env_name}",
                    self.call(self.workspace.environments.remove, app_id, env_name),
                    lambda _: self._removed(env_key(app_id, env_name), resolved.label),
                    group="config",
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove {resolved.label}?",
                body,
                action="Remove",
                # As for a production reset, the application's name is typed: one key is too little.
                type_to_confirm=resolved.application.name if env_name == "production" else None,
            ),
            confirmed,
        )

    def _removed(self, key: str, label: str) -> None:
        self.revealed.pop(key, None)
        self.app.post_message(ConfigChanged())
        self.notify(f"removed {label}")
