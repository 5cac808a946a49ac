"""Contracts: API or API group, instance, environment, SLA tier, status, terms; the effective one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType

from credenza.config.model import Contract, ContractStatus
from credenza.services.status import Attention
from credenza.tui.commands import Command, bindings
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.request_access import RequestAccessDialog
from credenza.tui.format import STATUS_KIND, when, word
from credenza.tui.screens.base import TableScreen
from credenza.tui.widgets.table import Cell


def contract_key(app_id: str, contract_id: str) -> str:
    return f"{app_id}/{contract_id}"


class ContractsScreen(TableScreen):
    MODE = "contracts"
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("application", "Application"),
        ("api", "API"),
        ("instance", "Instance"),
        ("environment", "Env"),
        ("tier", "SLA tier"),
        ("status", "Status"),
        ("terms", "Terms"),
        ("effective", "Effective"),
    ]
    # Below WIDE_AT the application stays (two applications hold contracts for one API), the
    # tier and terms move to the panel, and the effective mark is the star alone.
    NARROW: ClassVar[set[str]] = {"application", "api", "environment", "status", "effective"}
    NARROW_LABELS: ClassVar[dict[str, str]] = {"effective": "★"}
    SECTION_COMMANDS: ClassVar[tuple[Command, ...]] = (
        Command("request", "n", "Request", "Request access", "to an API or API group instance"),
        Command("approve", "a", "Approve", "Approve {row}", "sandbox provider"),
        Command("reject", "x", "Reject", "Reject {row}", "sandbox provider"),
        Command("revoke", "R", "Revoke", "Revoke {row}", "with confirmation"),
        Command("refresh", "u", "Update"),
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings(MODE, SECTION_COMMANDS)

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        theme = self.app.current_theme
        for application in self.workspace.applications.all():
            effective = {c.id for c in self.workspace.contracts.effective(application.id).values()}
            for contract in application.contracts:
                yield (
                    contract_key(application.id, contract.id),
                    [
                        application.name,
                        contract.api + (" (group)" if contract.target == "api_group" else ""),
                        contract.instance,
                        contract.environment,
                        contract.sla_tier or "—",
                        word(theme, contract.status, STATUS_KIND.get(contract.status, "info")),
                        "accepted" if contract.terms_accepted_at else "not accepted",
                        word(theme, "★ effective" if self.wide else "★", "good")
                        if contract.id in effective
                        else Text(""),
                    ],
                )

    def select_attention(self, item: Attention) -> None:
        if item.detail:
            self.select_key(contract_key(item.application, item.detail))

    def empty_detail(self) -> Text:
        return Text("No contracts yet: press n to request access to an API.", style="italic")

    def _contract(self, key: str) -> tuple[str, Contract]:
        app_id, _, contract_id = key.partition("/")
        for contract in self.workspace.contracts.of(app_id):
            if contract.id == contract_id:
                return app_id, contract
        raise KeyError(key)

    def detail(self, key: str) -> Text:
        app_id, contract = self._contract(key)
        effective = self.workspace.contracts.effective(app_id)
        text = Text()
        text.append(contract.api, style="bold")
        text.append(f" · {contract.id} · {self.workspace.applications.get(app_id).name}\n")
        rows: list[tuple[str, Any]] = [
            ("target", "API group instance" if contract.target == "api_group" else "API instance"),
            ("APIs in group", ", ".join(contract.apis)),
            ("instance", contract.instance),
            ("environment", contract.environment),
            ("SLA tier", contract.sla_tier),
            ("scopes", " ".join(contract.scopes)),
            ("status", contract.status),
            ("requested", when(contract.requested_at)),
            ("decided", when(contract.decided_at)),
            ("terms accepted", when(contract.terms_accepted_at) or "not accepted"),
            ("terms", contract.terms),
        ]
        for label, value in rows:
            if value:
                text.append(f"{label:>15}: ", style="dim")
                text.append(f"{value}\n")
        covered = [api for (api, env), c in effective.items() if c.id == contract.id]
        if covered:
            text.append(
                f"Effective (least restrictive) contract for: {', '.join(covered)}\n", style="bold"
            )
        return text

    # -- actions --------------------------------------------------------------------------------

    def _selected_app(self) -> str | None:
        key = self.selected_key()
        if key is not None:
            return key.partition("/")[0]
        return self.credenza.selected_application or next(
            (a.id for a in self.workspace.applications.all()), None
        )

    def action_request(self) -> None:
        app_id = self._selected_app()
        if app_id is None:
            self.notify("add an application first", severity="warning")
            return

        def requested(contract: Contract | None) -> None:
            if contract is not None:
                self.reload()
                self.select_key(contract_key(app_id, contract.id))
                self.notify(f"access to {contract.api}: {contract.status}")

        self.app.push_screen(RequestAccessDialog(self.workspace, app_id), requested)

    def _decide(self, status: ContractStatus) -> None:
        key = self.selected_key()
        if key is None:
            return
        app_id, contract = self._contract(key)

        def decided(updated: Contract) -> None:
            self.reload()
            self.notify(f"{updated.api}: {updated.status}")

        self.run_task(
            f"setting {contract.api} to {status}",
            self.workspace.contracts.decide(app_id, contract.id, status),
            decided,
        )

    def action_approve(self) -> None:
        self._decide("approved")

    def action_reject(self) -> None:
        self._decide("rejected")

    def action_revoke(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        _, contract = self._contract(key)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._decide("revoked")

        self.app.push_screen(
            ConfirmDialog(
                f"Revoke access to {contract.api}?",
                f"The application loses access to {contract.instance} ({contract.environment}); "
                "scopes granted through this contract stop being issued.",
                action="Revoke",
            ),
            confirmed,
        )

    def action_refresh(self) -> None:
        app_id = self._selected_app()
        if app_id is None:
            return
        self.run_task(
            "refreshing contract status",
            self.workspace.contracts.refresh(app_id),
            lambda _: self.reload(),
        )

    def row_label(self, key: str) -> str | None:
        _, contract = self._contract(key)
        return f"{contract.api} ({contract.sla_tier})"
