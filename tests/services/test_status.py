"""What needs attention: expiry, rotation policy, checklist, contracts, unfinished resets,
failed refreshes and client_ids shared in production — one report for the CLI and dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.model import Contract
from credenza.config.store import ConfigStore
from credenza.errors import CredenzaError, TokenEndpointError
from credenza.sandbox import SandboxServer
from credenza.secrets import SecretStore, names
from credenza.services.status import StatusReport
from credenza.workspace import Workspace
from tests.conftest import FAST, add_sandbox_app

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def frozen_workspace(config_path: Path, secret_store: SecretStore, settings: str = "") -> Workspace:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(f"version = 1\n[settings]\n{settings}\n")
    return Workspace(
        store=ConfigStore(config_path), secrets=secret_store, clock=lambda: NOW, http_settings=FAST
    )


def kinds(report: StatusReport) -> list[tuple[str, str, str | None]]:
    return [(i.kind, i.application, i.environment) for i in report.items]


def test_secret_expiring_within_the_warning_window_is_due_and_later_ones_are_not(
    config_path: Path, secret_store: SecretStore
) -> None:
    workspace = frozen_workspace(config_path, secret_store, "expiry_warning_days = 30")
    workspace.applications.add("Billing")
    for env, days in (("sandbox", 10), ("staging", 45), ("production", -2)):
        workspace.environments.add(
            "billing",
            env,
            EnvironmentChange(client_id=f"b-{env}", secret_expires_at=NOW + timedelta(days=days)),
        )
    report = workspace.status.report()
    found = {(i.kind, i.environment): i for i in report.items}
    assert found[("secret_expiring", "sandbox")].days == 10
    assert found[("secret_expired", "production")].days == -2
    assert ("secret_expiring", "staging") not in found
    # Expired comes before expiring: most urgent first.
    assert report.items[0].kind == "secret_expired"
    assert report.needs_action


def test_rotation_policy_from_settings_and_the_provider_overrides_it(
    config_path: Path, secret_store: SecretStore
) -> None:
    workspace = frozen_workspace(config_path, secret_store, "rotation_days = 90")
    old = NOW - timedelta(days=100)
    workspace.applications.add("A")
    workspace.environments.add(
        "a", "production", EnvironmentChange(client_id="a", secret_set_at=old)
    )
    workspace.applications.add("B", ApplicationChange(provider="strict"))
    workspace.environments.add(
        "b",
        "production",
        EnvironmentChange(client_id="b", secret_rotated_at=NOW - timedelta(days=40)),
    )
    from credenza.config.model import Provider

    workspace.providers.add("strict", Provider(name="Strict", rotation_days=30))
    overdue = [i for i in workspace.status.report().items if i.kind == "rotation_overdue"]
    assert [(i.application, i.days) for i in overdue] == [("a", -10), ("b", -10)]
    assert overdue[1].detail == "rotation every 30 days"


def test_no_rotation_policy_means_no_rotation_item(
    config_path: Path, secret_store: SecretStore
) -> None:
    workspace = frozen_workspace(config_path, secret_store)
    workspace.applications.add("A")
    workspace.environments.add(
        "a", "sandbox", EnvironmentChange(client_id="a", secret_set_at=NOW - timedelta(days=900))
    )
    assert workspace.status.report().items == ()
    assert not workspace.status.report().needs_action


def test_checklist_only_for_applications_going_to_production_and_pending_contracts_wait(
    config_path: Path, secret_store: SecretStore
) -> None:
    workspace = frozen_workspace(config_path, secret_store)
    workspace.applications.add("Sandbox Only")
    workspace.environments.add("sandbox-only", "sandbox", EnvironmentChange(client_id="s"))
    workspace.applications.add("Live", ApplicationChange(owners=["a@example.no"]))
    workspace.environments.add("live", "production", EnvironmentChange(client_id="l"))
    contract = Contract(
        id="ct-1", api="sms", instance="v1", environment="production", requested_at=NOW
    )
    workspace.context.mutate(lambda c: setattr(c.applications[0], "contracts", (contract,)))
    report = workspace.status.report()
    assert {i.application for i in report.items} == {"live"}
    open_items = [i.subject for i in report.items if i.kind == "checklist_open"]
    assert "contracts approved" in open_items
    pending = [i for i in report.items if i.kind == "contract_pending"]
    assert [(p.subject, p.level, p.detail) for p in pending] == [("sms", "waiting", "ct-1")]
    assert pending[0] not in report.due
    # The dashboard's header counts without holding the report: the same number.
    assert workspace.status.due_count() == len(report.due) == len(report.items) - 1


def test_two_applications_sharing_a_client_id_in_production_are_both_flagged(
    config_path: Path, secret_store: SecretStore
) -> None:
    workspace = frozen_workspace(config_path, secret_store)
    for name in ("One", "Two", "Three"):
        workspace.applications.add(name, ApplicationChange(provider="chorus"))
    workspace.environments.add("one", "production", EnvironmentChange(client_id="same"))
    workspace.environments.add("two", "production", EnvironmentChange(client_id="same"))
    # The same id in a sandbox is not production: not flagged.
    workspace.environments.add("three", "sandbox", EnvironmentChange(client_id="same"))
    shared = [i for i in workspace.status.report().items if i.kind == "client_id_shared"]
    assert [(i.application, i.subject, i.detail) for i in shared] == [
        ("one", "two", "same"),
        ("two", "one", "same"),
    ]
    assert workspace.status.due_count() == len(workspace.status.report().due)


def test_a_reset_left_unfinished_is_reported_from_the_keyring(
    config_path: Path, secret_store: SecretStore
) -> None:
    now = [NOW]
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text("version = 1\n")
    workspace = Workspace(
        store=ConfigStore(config_path),
        secrets=secret_store,
        clock=lambda: now[0],
        http_settings=FAST,
    )
    workspace.applications.add("A")
    workspace.environments.add("a", "sandbox", EnvironmentChange(client_id="a"))
    assert workspace.status.report().items == ()
    # Left by something that did not mark it (an older credenza): only the keyring knows.
    workspace.secrets.set_raw(names.pending_secret("a", "sandbox"), "issued-once")
    assert workspace.status.report(check_keyring=False).items == ()
    assert kinds(workspace.status.report()) == [("reset_unfinished", "a", "sandbox")]
    # The keyring's answer is kept as a mark: the dashboard's count (no keyring read) has it.
    unfinished = [("reset_unfinished", "a", "sandbox")]
    assert kinds(workspace.status.report(check_keyring=False)) == unfinished
    # Gone from the keyring (recovered elsewhere): the next check drops the mark.
    workspace.secrets.delete_raw(names.pending_secret("a", "sandbox"))
    now[0] += timedelta(seconds=5)
    assert workspace.status.report().items == ()
    assert workspace.status.report(check_keyring=False).items == ()
    # A reset that begins while the keyring is read (its mark made, its pending secret not
    # written yet) keeps its mark: the read could not have seen it.
    workspace.context.local_state.reset_started("a", "sandbox", now[0])
    assert kinds(workspace.status.report()) == unfinished
    assert kinds(workspace.status.report(check_keyring=False)) == unfinished


async def test_a_failed_refresh_is_reported_until_a_refresh_succeeds(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, secret = add_sandbox_app(workspace, sandbox)
    session = await workspace.tokens.fetch(app_id, "production")
    workspace.credentials.set(app_id, "production", "not-the-secret-0123456789")
    with pytest.raises(TokenEndpointError):
        await workspace.tokens.refresh(session)
    failed = [i for i in workspace.status.report().items if i.kind == "refresh_failed"]
    assert [(i.application, i.environment) for i in failed] == [(app_id, "production")]
    assert "not-the-secret" not in (failed[0].detail or "")
    workspace.credentials.set(app_id, "production", secret)
    await workspace.tokens.refresh(session)
    assert not [i for i in workspace.status.report().items if i.kind == "refresh_failed"]
    await workspace.aclose()


async def test_refresh_failures_reach_other_processes_unless_the_provider_was_unreachable(
    config_path: Path, secret_store: SecretStore, sandbox: SandboxServer, tmp_path: Path
) -> None:
    from credenza.config.local import LocalState

    def process() -> Workspace:
        """A credenza process of this person: its own objects, the same files and keyring."""
        local = LocalState(tmp_path / "state" / "local.toml", str(config_path))
        return Workspace(
            store=ConfigStore(config_path), secrets=secret_store, http_settings=FAST, local=local
        )

    dashboard = process()
    app_id, secret = add_sandbox_app(dashboard, sandbox)
    session = await dashboard.tokens.fetch(app_id, "production")

    def refresh_failed(workspace: Workspace) -> list[tuple[str, str | None]]:
        items = workspace.status.report(check_keyring=False).items
        return [(i.application, i.environment) for i in items if i.kind == "refresh_failed"]

    # The provider refuses: `credenza status` in cron (a process started later) knows.
    dashboard.credentials.set(app_id, "production", "not-the-secret-0123456789")
    with pytest.raises(TokenEndpointError):
        await dashboard.tokens.refresh(session)
    assert refresh_failed(process()) == [(app_id, "production")]
    dashboard.credentials.set(app_id, "production", secret)
    await dashboard.tokens.refresh(session)
    assert refresh_failed(process()) == []
    # The provider cannot be reached (a laptop offline): the dashboard says so, cron does not.
    dashboard.environments.edit(
        app_id, "production", EnvironmentChange(token_url="http://127.0.0.1:9/oauth/token")
    )
    dashboard.credentials.confirm_endpoint(app_id, "production")
    with pytest.raises(CredenzaError):
        await dashboard.tokens.refresh(session)
    assert refresh_failed(dashboard) == [(app_id, "production")]
    assert refresh_failed(process()) == []
    await dashboard.aclose()


def test_settings_refuse_a_negative_warning_window(
    config_path: Path, secret_store: SecretStore
) -> None:
    from credenza.errors import ConfigError

    with pytest.raises(ConfigError, match="expiry_warning_days"):
        frozen_workspace(config_path, secret_store, "expiry_warning_days = -1")
