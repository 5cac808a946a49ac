"""Request access to an API instance or API group instance, with an SLA tier and the terms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from credenza.config.model import Contract
from credenza.errors import CredenzaError
from credenza.tui.advice import problem

if TYPE_CHECKING:
    from credenza.providers.base import CatalogueEntry
    from credenza.workspace import Workspace


class RequestAccessDialog(ModalScreen[Contract | None]):
    """Picks an instance and a tier (from the provider's catalogue where it has one)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="request_access.cancel")
    ]

    def __init__(self, workspace: Workspace, app_id: str) -> None:
        super().__init__(classes="dialog")
        self.workspace = workspace
        self.app_id = app_id
        self.application = workspace.applications.get(app_id)
        self.entries: dict[str, CatalogueEntry] = {}

    def compose(self) -> ComposeResult:
        envs = [(name, name) for name in self.application.environments]
        with VerticalScroll(classes="dialog-box form"):
            yield Label(
                f"Request access · {self.application.name}", classes="dialog-title", markup=False
            )
            yield Label("Environment")
            yield Select(
                envs, value=envs[0][1] if envs else Select.BLANK, id="env", allow_blank=not envs
            )
            yield Label("Instance")
            yield Select([], id="instance", prompt="loading the provider's catalogue…")
            yield Label("API or API group (portal providers)")
            yield Input(id="api", placeholder="API name")
            yield Input(id="instance-name", placeholder="instance, e.g. v2 (production)")
            yield Label("SLA tier")
            yield Select([], id="tier", prompt="choose a tier")
            yield Input(id="tier-name", placeholder="tier name (portal providers)")
            yield Checkbox("I accept the terms and conditions", id="terms")
            yield Static(id="terms-text", markup=False)
            yield Static(id="request-status", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Request access", variant="primary", id="request", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.run_worker(self._load(), exclusive=True, group="catalogue")

    async def _load(self) -> None:
        try:
            entries = await self.workspace.contracts.catalogue(self.app_id)
        except CredenzaError as exc:
            self._status(f"✗ {problem(self.app, exc)}")
            entries = []
        self.entries = {entry.id: entry for entry in entries}
        portal = not entries
        for selector in ("#api", "#instance-name", "#tier-name"):
            self.query_one(selector).display = portal
        self.query_one("#instance", Select).display = not portal
        self.query_one("#tier", Select).display = not portal
        self._fill_instances()

    @on(Select.Changed, "#env")
    def _fill_instances(self) -> None:
        env = self.query_one("#env", Select).value
        options = [
            (f"{e.name}{' (group)' if e.target == 'api_group' else ''} · {e.instance}", e.id)
            for e in self.entries.values()
            if e.environment == env
        ]
        instance = self.query_one("#instance", Select)
        instance.set_options(options)
        instance.prompt = "choose an instance" if options else "no instances for this environment"

    @on(Select.Changed, "#instance")
    def _fill_tiers(self, event: Select.Changed) -> None:
        entry = self.entries.get(str(event.value))
        tiers = self.query_one("#tier", Select)
        if entry is None:
            tiers.set_options([])
            return
        tiers.set_options(
            [
                (f"{name} ({'auto-approved' if auto else 'reviewed'})", name)
                for name, auto, _ in entry.tiers
            ]
        )
        self.query_one("#terms-text", Static).update(f"Terms: {entry.terms}" if entry.terms else "")

    @on(Button.Pressed, "#request")
    def _request(self) -> None:
        env = self.query_one("#env", Select).value
        if env is Select.BLANK:
            self._status("✗ the application has no environment yet")
            return
        arguments: dict[str, Any] = {"terms_accepted": self.query_one("#terms", Checkbox).value}
        if self.entries:
            entry = self.entries.get(str(self.query_one("#instance", Select).value))
            tier = self.query_one("#tier", Select).value
            if entry is None or tier is Select.BLANK:
                self._status("✗ choose an instance and an SLA tier")
                return
            arguments.update(
                api=entry.name,
                instance=entry.id,
                sla_tier=str(tier),
                target=entry.target,
                apis=entry.apis,
            )
        else:
            api = self.query_one("#api", Input).value.strip()
            instance = self.query_one("#instance-name", Input).value.strip()
            if not api or not instance:
                self._status("✗ give the API and the instance")
                return
            arguments.update(
                api=api,
                instance=instance,
                sla_tier=self.query_one("#tier-name", Input).value.strip() or None,
            )
        self._status("⟳ requesting access…")
        self.run_worker(self._send(str(env), arguments), exclusive=True, group="request")

    async def _send(self, env: str, arguments: dict[str, Any]) -> None:
        try:
            contract = await self.workspace.contracts.request_access(self.app_id, env, **arguments)
        except CredenzaError as exc:
            self._status(f"✗ {problem(self.app, exc)}")
            return
        self.dismiss(contract)

    def _status(self, text: str) -> None:
        self.query_one("#request-status", Static).update(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
