"""Applications: provider, organisation, type, owners, environments and production readiness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from credenza.config.model import Application
from credenza.tui.dialogs.application_form import ApplicationForm
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.format import word
from credenza.tui.screens.base import Cell, Command, TableScreen


class ApplicationsScreen(TableScreen):
    MODE = "applications"
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("name", "Name"),
        ("provider", "Provider"),
        ("organisation", "Organisation"),
        ("type", "Type"),
        ("owners", "Owners"),
        ("environments", "Environments"),
        ("ready", "Production"),
    ]
    NARROW: ClassVar[set[str]] = {"name", "provider", "environments", "ready"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="applications.add"),
        Binding("e", "edit", "Edit", id="applications.edit"),
        Binding("delete,d", "remove", "Remove", id="applications.remove"),
    ]

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        theme = self.app.current_theme
        for application in self.workspace.applications():
            checklist = self.workspace.checklist(application.id)
            done = sum(item.ok for item in checklist)
            ready = (
                word(theme, "ready", "good")
                if done == len(checklist)
                else word(theme, f"{done}/{len(checklist)} done", "warn")
            )
            yield (
                application.id,
                [
                    application.name,
                    application.provider or "—",
                    application.organisation or "—",
                    application.type,
                    str(len(application.owners)),
                    ", ".join(application.environments) or "none",
                    ready,
                ],
            )

    def empty_detail(self) -> Text:
        return Text("No applications yet: press a to add one.", style="italic")

    def detail(self, key: str) -> Text:
        application = self.workspace.application(key)
        theme = self.app.current_theme
        text = Text()
        text.append(f"{application.name}", style="bold")
        text.append(f"  ({application.id}, {application.type})\n")
        for label, value in (
            ("Provider", application.provider),
            ("Organisation", application.organisation),
            ("Owners", ", ".join(application.owners)),
            ("Description", application.description),
            ("URL", application.url),
            ("Callback URL", application.callback_url),
            ("Grant types", ", ".join(application.grant_types)),
            ("APIs used", ", ".join(application.apis)),
        ):
            text.append(f"{label:>13}: ", style="dim")
            text.append(f"{value or '—'}\n")
        text.append("Production checklist\n", style="bold")
        for item in self.workspace.checklist(application.id):
            text.append("  ")
            text.append_text(
                word(theme, "✓ done " if item.ok else "✗ to do", "good" if item.ok else "warn")
            )
            text.append(f"  {item.label}")
            if item.detail:
                text.append(f" — {item.detail}", style="dim")
            text.append("\n")
        return text

    # -- actions --------------------------------------------------------------------------------

    def action_add(self) -> None:
        async def save(fields: dict[str, Any]) -> Application:
            name = fields.pop("name")
            return await self.call(self.workspace.add_application, name, **fields)

        def added(application: Application | None) -> None:
            if application is not None:
                self.reload()
                self.select_key(application.id)
                self.notify(f"added {application.name}")

        self.app.push_screen(ApplicationForm(save), added)

    def action_edit(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        application = self.workspace.application(key)

        async def save(fields: dict[str, Any]) -> Application:
            return await self.call(self.workspace.edit_application, key, **fields)

        def edited(result: Application | None) -> None:
            if result is not None:
                self.reload()
                self.notify(f"saved {result.name}")

        self.app.push_screen(ApplicationForm(save, application), edited)

    def action_remove(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        application = self.workspace.application(key)
        body = (
            f"This removes {application.name}, its {len(application.environments)} environment(s) "
            f"and {len(application.contracts)} contract record(s), and deletes its secrets and "
            "cached tokens from the keyring. The provider keeps the registration."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"removing {application.name}",
                    self.call(self.workspace.remove_application, key),
                    lambda _: self._removed(application.name),
                    group="config",
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove {application.name}?",
                body,
                action="Remove",
                type_to_confirm=application.name,
            ),
            confirmed,
        )

    def _removed(self, name: str) -> None:
        self.reload()
        self.notify(f"removed {name}")

    def action_open(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.credenza.selected_application = key
            self.app.switch_mode("environments")

    def commands(self) -> list[Command]:
        commands: list[Command] = [("Add application", "a new application record", self.action_add)]
        key = self.selected_key()
        if key:
            name = self.workspace.application(key).name
            commands += [
                (f"Edit {name}", "change the application's fields", self.action_edit),
                (f"Remove {name}", "remove it and its keyring entries", self.action_remove),
                (
                    f"Environments of {name}",
                    "open the Environments section",
                    self.action_open,
                ),
            ]
        return commands
