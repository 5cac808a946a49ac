"""Contracts: the effective contract per API, request access, approve, reject, revoke."""

from __future__ import annotations

from textual.widgets import Checkbox, Select, Static

from credenza.sandbox.demo import Demo
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.request_access import RequestAccessDialog
from tests.tui.conftest import cell, detail_text, press_button, select_row, settle, table_screen


def contract_id(app: CredenzaApp, app_id: str, api: str, status: str) -> str:
    return next(
        c.id for c in app.workspace.contracts.of(app_id) if c.api == api and c.status == status
    )


async def test_every_status_and_the_effective_contract_are_shown(app: CredenzaApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        statuses = {cell(app, key, "status") for key in table_screen(app)._row_keys}
        assert statuses == {"approved", "pending", "rejected", "revoked"}
        group = contract_id(app, "anypoint-order-hub", "Broadband Group", "approved")
        direct = contract_id(app, "anypoint-order-hub", "Line Test API", "approved")
        # Through the group at Silver beats directly at Bronze: the least restrictive applies.
        assert cell(app, f"anypoint-order-hub/{group}", "effective") == "★ effective"
        assert cell(app, f"anypoint-order-hub/{direct}", "effective") == ""
        await select_row(pilot, f"anypoint-order-hub/{group}")
        assert (
            "Effective (least restrictive) contract for: Broadband Group, Line Test API"
            in detail_text(app)
        )


async def test_request_access_through_the_dialog(app: CredenzaApp, demo: Demo) -> None:
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await select_row(
            pilot,
            f"chorus-line-test/{contract_id(app, 'chorus-line-test', 'Line Test API', 'approved')}",
        )
        await pilot.press("n")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RequestAccessDialog)
        dialog.query_one("#env", Select).value = "sandbox"
        await pilot.pause()
        dialog.query_one("#instance", Select).value = "fibre-order-sandbox"
        await pilot.pause()
        # The Fibre Order API has its own tiers, not the Line Test API's.
        tiers = [value for _, value in dialog.query_one("#tier", Select)._options]
        assert [t for t in tiers if isinstance(t, str)] == ["Starter", "Business", "Wholesale"]
        dialog.query_one("#tier", Select).value = "Business"
        await press_button(pilot, "#request")
        assert "terms of Fibre Order API must be accepted" in str(
            dialog.query_one("#request-status", Static).content
        )
        dialog.query_one("#terms", Checkbox).value = True
        await press_button(pilot, "#request")
        assert not isinstance(app.screen, RequestAccessDialog)
        contract = app.workspace.contracts.of("chorus-line-test")[-1]
        assert (contract.api, contract.sla_tier, contract.status) == (
            "Fibre Order API",
            "Business",
            "approved",
        )
        assert contract.scopes == ["fibre:quote", "fibre:order"]
        assert contract.terms_accepted_at is not None
        assert table_screen(app).selected_key() == f"chorus-line-test/{contract.id}"


async def test_approve_a_pending_contract_then_revoke_it(app: CredenzaApp, demo: Demo) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        pending = contract_id(app, "anypoint-order-hub", "Fibre Order API", "pending")
        key = f"anypoint-order-hub/{pending}"
        await select_row(pilot, key)
        await pilot.press("a")
        await settle(pilot)
        assert cell(app, key, "status") == "approved"
        assert demo.server.state.contracts[pending].status == "approved"
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await press_button(pilot, "#confirm")
        assert cell(app, key, "status") == "revoked"
        assert demo.server.state.contracts[pending].status == "revoked"


async def test_rejecting_a_decided_contract_is_a_clear_error(app: CredenzaApp) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        approved = contract_id(app, "chorus-line-test", "Line Test API", "approved")
        await select_row(pilot, f"chorus-line-test/{approved}")
        await pilot.press("x")
        await settle(pilot)
        assert "the contract is approved: it cannot become rejected" in detail_text(app)
        assert cell(app, f"chorus-line-test/{approved}", "status") == "approved"
