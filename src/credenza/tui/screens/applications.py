"""Applications: provider, organisation, type, owners, environments and production readiness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from credenza.config.changes import ApplicationChange
from credenza.config.model import Application
from credenza.services.status import Attention
from credenza.tui.advice import keys_in
from credenza.tui.commands import Command, bindings
from credenza.tui.dialogs.application_form import ApplicationForm
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.format import word
from credenza.tui.screens.base import TableScreen
from credenza.tui.widgets.table import Cell


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
    SECTION_COMMANDS: ClassVar[tuple[Command, ...]] = (
        Command("add", "a", "Add", "Add application", "a new application record"),
        Command("edit", "e", "Edit", "Edit {row}", "change the application's fields"),
        Command(
            "remove", "delete,d", "Remove", "Remove {row}", "remove it and its keyring entries"
        ),
        Command("open", None, "Open", "Environments of {row}", "open the Environments section"),
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings(MODE, SECTION_COMMANDS)

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        theme = self.app.current_theme
        # A handful of distinct values ("ready", "3/5 done"): one Text each, shared by the rows.
        readiness: dict[tuple[int, int], Text] = {}
        for application in self.workspace.applications.all():
            checklist = self.workspace.checklist.items(application.id)
            done = sum(item.ok for item in checklist)
            ready = readiness.get((done, len(checklist)))
            if ready is None:
                ready = readiness[done, len(checklist)] = (
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

    def select_attention(self, item: Attention) -> None:
        self.select_key(item.application)

    def empty_detail(self) -> Text:
        said = keys_in(self.app, "No applications yet: press {applications.add} to add one.")
        return Text(said, style="italic")

    def detail(self, key: str) -> Text:
        application = self.workspace.applications.get(key)
        theme = self.app.current_theme
        text = Text()
        text.append(f"{application.name}", style="bold")
        text.append(f"  ({application.id}, {application.type})\n")
        # The checklist first: at 80×24 it is what the panel shows without scrolling.
        text.append("Production checklist\n", style="bold")
        for item in self.workspace.checklist.items(application.id):
            text.append("  ")
            text.append_text(
                word(theme, "✓ done " if item.ok else "✗ to do", "good" if item.ok else "warn")
            )
            text.append(f"  {item.label}")
            if item.detail:
                text.append(f" — {item.detail}", style="dim")
            text.append("\n")
        for label, value in (
            ("Provider", application.provider),
            ("Organisation", application.organisation),
            ("Owners", ", ".join(application.owners)),
            ("Description", application.description),
            ("URL", application.url),
            ("Callback URL", application.callback_url),
            ("Grant types", ", ".join(application.grant_types)),
            ("APIs used", ", ".join(application.apis)),
            ("Client provider", application.client_provider),
            (
                "Portal people",
                "; ".join(
                    f"{m.who} ({m.role}{', ' + m.identity if m.identity else ''})"
                    for m in application.members
                ),
            ),
        ):
            text.append(f"{label:>15}: ", style="dim")
            text.append(f"{value or '—'}\n")
        for note in self.workspace.applications.notes(application.id):
            text.append(f"{'Note':>15}: ", style="dim")
            text.append(f"{note}\n")
        return text

    # -- actions --------------------------------------------------------------------------------

    def action_add(self) -> None:
        async def save(change: ApplicationChange) -> Application:
            assert isinstance(change.name, str)
            return await self.call(self.workspace.applications.add, change.name, change)

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
        application = self.workspace.applications.get(key)

        # The file as the form saw it: a change made meanwhile (the CLI) is a conflict, not lost.
        opened = self.workspace.config_digest

        async def save(change: ApplicationChange) -> Application:
            return await self.call(self.workspace.applications.edit, key, change, expected=opened)

        def edited(result: Application | None) -> None:
            if result is not None:
                self.reload()
                self.notify(f"saved {result.name}")

        self.app.push_screen(ApplicationForm(save, application), edited)

    def action_remove(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        application = self.workspace.applications.get(key)
        body = (
            f"This removes {application.name}, its {len(application.environments)} environment(s) "
            f"and {len(application.contracts)} contract record(s), and deletes its secrets and "
            "cached tokens from the keyring. The provider keeps the registration."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"removing {application.name}",
                    self.call(self.workspace.applications.remove, key),
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

    def row_label(self, key: str) -> str | None:
        return self.workspace.applications.get(key).name
