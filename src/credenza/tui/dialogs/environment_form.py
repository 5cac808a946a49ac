"""Add or edit an environment: client_id, endpoints (discovered from an issuer), scopes, expiry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from credenza.config.auth_methods import AUTH_METHODS
from credenza.config.changes import EnvironmentChange, apply_change
from credenza.config.model import Environment
from credenza.errors import CredenzaError
from credenza.next_steps import Advice
from credenza.oauth.untrusted import clean
from credenza.tui.advice import advice, said_as_keys

# (field, label, placeholder); the order of the form.
FIELDS = [
    ("client_id", "client_id", "as the provider's portal shows it"),
    ("issuer", "Issuer", "https://… (D or Discover fills the endpoints below)"),
    ("token_url", "Token URL", "https://…/oauth/token"),
    ("revocation_url", "Revocation URL", "optional: RFC 7009"),
    ("introspection_url", "Introspection URL", "optional: RFC 7662"),
    ("logout_url", "Logout URL", "optional: a GET with the token as Bearer"),
    ("scopes", "Scopes", "space-separated; empty: the client's default"),
    ("audience", "Audience", "optional"),
    ("resource", "Resource", "optional: RFC 8707"),
    ("secret_expires_at", "Secret expires", "YYYY-MM-DD, as the portal says (optional)"),
]
ENDPOINTS = ("token_url", "revocation_url", "introspection_url", "logout_url")
DEFAULT_METHOD = "default"


@dataclass(frozen=True)
class EnvironmentTarget:
    """What the form saves to: an application, an environment name, and (editing) the record."""

    app_id: str
    name: str
    environment: Environment | None


Save = Callable[[str, str, EnvironmentChange], Awaitable[Environment]]
Discover = Callable[[str], Awaitable[EnvironmentChange]]
# (application, environment, client_id) -> what that client_id means there (the CLI's warnings).
Warnings = Callable[[str, str, str], list[Advice]]


def form_values(environment: Environment | None) -> dict[str, str]:
    if environment is None:
        return {}
    values: dict[str, str] = {}
    for key, _, _ in FIELDS:
        value = getattr(environment, key)
        if key == "scopes":
            values[key] = " ".join(value)
        elif key == "secret_expires_at":
            values[key] = f"{value:%Y-%m-%d}" if value else ""
        else:
            values[key] = value or ""
    return values


def parse_date(text: str) -> datetime:
    """A day as people write it; the secret is taken to expire at the start of it (UTC)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ValueError("secret expires: a date as YYYY-MM-DD, e.g. 2027-05-01") from None
    return day.replace(tzinfo=UTC)


def check(
    values: dict[str, str], auth_method: str, current: Environment | None
) -> tuple[EnvironmentChange, list[str]]:
    """(change, errors). Only what differs from ``current`` is in the change; the errors are
    the config loader's own (the form asks the model, it has no rules of its own)."""
    fields: dict[str, Any] = {}
    errors: list[str] = []
    before = form_values(current)
    for key, _, _ in FIELDS:
        raw = values.get(key, "").strip()
        if current is not None and raw == before[key]:
            continue  # unchanged: stays UNSET, so the edit touches only what the person changed
        value: Any
        if key == "scopes":
            value = raw.split() or None
        elif key == "secret_expires_at":
            try:
                value = parse_date(raw) if raw else None
            except ValueError as exc:
                errors.append(str(exc))
                continue
        else:
            value = raw or None
        fields[key] = value
    method = None if auth_method == DEFAULT_METHOD else auth_method
    if current is None or method != current.auth_method:
        fields["auth_method"] = method
    if "client_id" in fields and not fields["client_id"]:
        errors.append("client_id: required")
        del fields["client_id"]
    change = EnvironmentChange(**fields)
    if not errors:
        try:
            apply_change(current or Environment(client_id=fields["client_id"]), change)
        except ValueError as exc:
            errors.append(str(exc))
    return change, errors


class EnvironmentForm(ModalScreen[Environment | None]):
    """Dismisses with the saved environment, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="environment_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="environment_form.save"),
    ]

    def __init__(
        self,
        save: Save,
        discover: Discover,
        *,
        applications: list[tuple[str, str]],
        target: EnvironmentTarget | None = None,
        app_id: str | None = None,
        warnings: Warnings | None = None,
    ) -> None:
        """``applications``: (name, id) to choose from when adding; ``target`` when editing."""
        super().__init__(classes="dialog")
        self.save_callback = save
        self.discover_callback = discover
        self.warnings_callback = warnings
        self.applications = applications
        self.target = target
        self.app_id = target.app_id if target else app_id
        self.current = target.environment if target else None
        self.note = ""

    def compose(self) -> ComposeResult:
        values = form_values(self.current)
        with VerticalScroll(classes="dialog-box form"):
            if self.target is not None:
                name = next((n for n, i in self.applications if i == self.target.app_id), "")
                yield Label(
                    f"Edit environment · {name} / {self.target.name}",
                    classes="dialog-title",
                    markup=False,
                )
            else:
                yield Label("Add environment", classes="dialog-title")
                yield Label("Application")
                yield Select(
                    self.applications,
                    value=self.app_id if self.app_id else Select.BLANK,
                    id="field-application",
                    allow_blank=False,
                )
                yield Label("Name")
                yield Input(placeholder="sandbox, production…", id="field-name")
            for key, label, placeholder in FIELDS:
                yield Label(label)
                if key == "issuer":
                    with Horizontal(classes="issuer-row"):
                        yield Input(
                            value=values.get(key, ""), placeholder=placeholder, id=f"field-{key}"
                        )
                        yield Button("Discover", id="discover", compact=True)
                else:
                    yield Input(
                        value=values.get(key, ""), placeholder=placeholder, id=f"field-{key}"
                    )
                if key == "logout_url":
                    yield Label("Client authentication")
                    yield Select(
                        [("the provider's default", DEFAULT_METHOD)]
                        + [
                            (method.replace("client_secret_", ""), method)
                            for method in AUTH_METHODS
                        ],
                        value=(self.current.auth_method if self.current else None)
                        or DEFAULT_METHOD,
                        allow_blank=False,
                        id="field-auth_method",
                    )
            yield Static(id="form-messages", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        first = "#field-name" if self.target is None else "#field-client_id"
        self.query_one(first, Input).focus()
        self._validate()

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in FIELDS}

    def _auth_method(self) -> str:
        return str(self.query_one("#field-auth_method", Select).value)

    def _env_name(self) -> str:
        if self.target is not None:
            return self.target.name
        return self.query_one("#field-name", Input).value.strip()

    def _application(self) -> str | None:
        if self.target is not None:
            return self.target.app_id
        value = self.query_one("#field-application", Select).value
        return value if isinstance(value, str) else None

    @on(Input.Changed)
    @on(Select.Changed)
    def _validate(self) -> None:
        _, errors = check(self._values(), self._auth_method(), self.current)
        if self.target is None and not self._env_name():
            errors.insert(0, "name: required (sandbox, production…)")
        # Errors first, then warnings (they do not block saving); the last outcome
        # (discovery's) stays under them until the next one.
        self._say(
            "\n".join(
                [*(f"✗ {e}" for e in errors), *(f"⚠ {w}" for w in self._warnings()), self.note]
            ).strip()
        )
        self.query_one("#save", Button).disabled = bool(errors)

    def _warnings(self) -> list[str]:
        """What the client_id means by the provider's rules: a new app there, a secret that
        belongs to the old one, a client_id another application uses in production."""
        client_id = self.query_one("#field-client_id", Input).value.strip()
        app_id, name = self._application(), self._env_name()
        if self.warnings_callback is None or not client_id or app_id is None or not name:
            return []
        try:
            return [
                clean(said_as_keys(self.app, w), limit=300)
                for w in self.warnings_callback(app_id, name, client_id)
            ]
        except CredenzaError:
            return []

    def _say(self, text: str) -> None:
        self.query_one("#form-messages", Static).update(text)

    def _outcome(self, text: str) -> None:
        self.note = text
        self._validate()

    @on(Button.Pressed, "#discover")
    def action_discover(self) -> None:
        issuer = self.query_one("#field-issuer", Input).value.strip()
        if not issuer:
            self._outcome("✗ give the issuer first (the provider's base URL)")
            return
        self._outcome(f"⟳ reading {issuer}'s metadata…")
        self.discover(issuer)

    def discover(self, issuer: str) -> None:
        async def work() -> None:
            try:
                found = await self.discover_callback(issuer)
            except CredenzaError as exc:
                self._outcome(f"✗ {advice(self.app, exc)}")
                return
            for key in ENDPOINTS:
                value = getattr(found, key)
                if isinstance(value, str):
                    self.query_one(f"#field-{key}", Input).value = value
            self._outcome("✓ endpoints filled from the issuer's metadata: check them, then save")

        # A second press while the first discovery runs restarts it, never runs two.
        self.run_worker(work(), exclusive=True, group="discover")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        change, errors = check(self._values(), self._auth_method(), self.current)
        app_id, name = self._application(), self._env_name()
        if errors or app_id is None or not name:
            return
        if self.current is not None and change.is_empty():
            self.dismiss(None)  # nothing changed: nothing to save
            return

        async def save() -> None:
            try:
                environment = await self.save_callback(app_id, name, change)
            except CredenzaError as exc:
                self._outcome(f"✗ {advice(self.app, exc)}")
                return
            self.dismiss(environment)

        self.run_worker(save(), exclusive=True, group="form")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
