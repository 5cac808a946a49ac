"""Add or edit an application: validated fields, warnings that do not block."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import msgspec
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from credenza.config.changes import ApplicationChange, apply_change
from credenza.config.model import Application
from credenza.errors import CredenzaError
from credenza.tui.advice import problem

FIELDS = [
    ("name", "Name", "Pipedrive CRM Sync"),
    ("provider", "Provider", "telenor, pipedrive, anypoint… or your own"),
    ("organisation", "Organisation", "the organisation it is registered to"),
    ("owners", "Owners", "emails, comma-separated (production needs two)"),
    ("description", "Description", ""),
    ("url", "Application URL", "https://…"),
    ("callback_url", "Callback URL", "exactly one, https://…"),
    ("grant_types", "Grant types", "client_credentials, authorization_code, refresh_token"),
    ("apis", "APIs used", "comma-separated API names"),
]
LISTS = {"owners", "grant_types", "apis"}


def form_values(application: Application | None) -> dict[str, str]:
    if application is None:
        return {"grant_types": "client_credentials"}
    values: dict[str, str] = {}
    for key, _, _ in FIELDS:
        value = getattr(application, key)
        values[key] = ", ".join(value) if key in LISTS else (value or "")
    return values


def check(
    values: dict[str, str], current: Application | None = None
) -> tuple[ApplicationChange, list[str], list[str]]:
    """(change, errors, warnings): errors block saving, warnings do not.

    The errors are the config loader's own: the form asks the model, it has no rules of its own.
    """
    fields: dict[str, Any] = {}
    for key, _, _ in FIELDS:
        raw = values.get(key, "").strip()
        if key in LISTS:
            fields[key] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            fields[key] = raw or None
    if not fields["grant_types"]:
        fields["grant_types"] = ["client_credentials"]
    name = fields.pop("name") or ""
    change = ApplicationChange(name=name, **fields)
    errors: list[str] = []
    if not name:
        errors.append("name: required")
    else:
        try:
            apply_change(current or Application(id="new", name=name), change)
        except ValueError as exc:
            errors.append(str(exc))
    warnings: list[str] = []
    if len(fields["owners"]) < 2:
        warnings.append("production needs two owners")
    if fields["callback_url"]:
        from credenza.services.checklist import is_placeholder_url

        if is_placeholder_url(fields["callback_url"]):
            warnings.append("the callback URL is a placeholder; replace it before production")
    return change, errors, warnings


class ApplicationForm(ModalScreen[Application | None]):
    """Dismisses with the saved application, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="application_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="application_form.save"),
    ]

    def __init__(
        self,
        save: Callable[[ApplicationChange], Awaitable[Application]],
        application: Application | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.save_callback = save
        self.application = application

    def compose(self) -> ComposeResult:
        values = form_values(self.application)
        with VerticalScroll(classes="dialog-box form"):
            yield Label(
                "Edit application" if self.application else "Add application",
                classes="dialog-title",
            )
            for key, label, placeholder in FIELDS:
                yield Label(label)
                yield Input(value=values.get(key, ""), placeholder=placeholder, id=f"field-{key}")
                if key == "owners":
                    yield Label("Type")
                    yield Select(
                        [("private", "private"), ("public", "public")],
                        value=self.application.type if self.application else "private",
                        allow_blank=False,
                        id="field-type",
                    )
            yield Static(id="form-messages", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()
        self._validate()

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in FIELDS}

    @on(Input.Changed)
    def _validate(self) -> None:
        _, errors, warnings = check(self._values(), self.application)
        lines = [f"✗ {e}" for e in errors] + [f"! {w} (warning)" for w in warnings]
        self.query_one("#form-messages", Static).update("\n".join(lines))
        self.query_one("#save", Button).disabled = bool(errors)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        change, errors, _ = check(self._values(), self.application)
        if errors:
            return
        kind = self.query_one("#field-type", Select).value
        change = msgspec.structs.replace(change, type="public" if kind == "public" else "private")

        async def save() -> None:
            try:
                application = await self.save_callback(change)
            except CredenzaError as exc:
                self.query_one("#form-messages", Static).update(f"✗ {problem(self.app, exc)}")
                return
            self.dismiss(application)

        self.run_worker(save(), exclusive=True, group="form")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
