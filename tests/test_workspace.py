"""The workspace against the sandbox: secrets bound to endpoints, resets, tokens, contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.model import Provider, Rotation
from credenza.config.store import ConfigStore
from credenza.errors import (
    EndpointChangedError,
    NotFoundError,
    SecretNotVerifiedError,
    TokenEndpointError,
    ValidationError,
)
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.workspace import Workspace
from tests.conftest import FAST, add_sandbox_app

CANARY = "cAnArY-a1b2c3d4e5f60718293a4b5c6d7e8f90ab"


def use_sandbox_provider(
    workspace: Workspace, sandbox: SandboxServer, app_id: str, rotation: Rotation = "cutover"
) -> None:
    workspace.providers.add(
        "sandbox",
        Provider(name="Sandbox", kind="sandbox", admin_url=sandbox.issuer, rotation=rotation),
    )
    workspace.secrets.set_raw("providers/sandbox/admin_token", sandbox.admin_token)
    workspace.applications.edit(app_id, ApplicationChange(provider="sandbox"))


async def test_add_application_and_environment_by_discovery(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app = workspace.applications.add(
        "Telenor SMS", ApplicationChange(owners=["a@example.com"], type="private")
    )
    assert app.id == "telenor-sms"
    registered = sandbox.state.add_client({"client_id": "tsms", "scope": "sms:send"})
    workspace.environments.add(
        app.id, "production", EnvironmentChange(client_id="tsms", issuer=sandbox.issuer)
    )
    environment = await workspace.environments.discover(app.id, "production")
    assert environment.revocation_url == f"{sandbox.issuer}/oauth/token/revocation"
    workspace.credentials.set(app.id, "production", registered.client_secret)
    session = await workspace.tokens.fetch(app.id, "production")
    assert session.token.scopes == ("sms:send",)
    await workspace.aclose()


def test_application_validation(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="not a URL"):
        workspace.applications.add("A", ApplicationChange(callback_url="not-a-url"))
    with pytest.raises(ValidationError, match="not an email"):
        workspace.applications.add("A", ApplicationChange(owners=["nobody"]))
    workspace.applications.add("A")
    with pytest.raises(ValidationError, match="already exists"):
        workspace.applications.add("a")
    with pytest.raises(NotFoundError, match="no application 'b'"):
        workspace.applications.get("b")


def test_the_secret_never_reaches_the_config_file(
    workspace: Workspace, sandbox: SandboxServer, config_path: Path
) -> None:
    app_id, secret = add_sandbox_app(workspace, sandbox)
    text = config_path.read_text()
    assert secret not in text
    assert "secret_set_at" not in text  # when this person stored it is theirs, not the team's
    assert workspace.credentials.reveal(app_id, "production").reveal() == secret


async def test_a_token_url_moved_to_another_origin_gets_no_request(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    with SandboxServer() as other:
        workspace.environments.edit(
            app_id, "production", EnvironmentChange(token_url=f"{other.issuer}/oauth/token")
        )
        with pytest.raises(EndpointChangedError, match="moved from"):
            await workspace.tokens.fetch(app_id, "production")
        assert other.state.requests == []
        # Confirming sends it there (where it is, rightly, unknown).
        workspace.credentials.confirm_endpoint(app_id, "production")
        with pytest.raises(TokenEndpointError, match="unknown client_id"):
            await workspace.tokens.fetch(app_id, "production")
        assert len(other.state.requests) == 1
    await workspace.aclose()


async def test_manual_reset_keeps_the_old_secret_until_the_new_one_verifies(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, old_secret = add_sandbox_app(workspace, sandbox)
    with pytest.raises(SecretNotVerifiedError, match=r"old one was kept: .*invalid_client"):
        await workspace.resets.reset(app_id, "production", CANARY)
    assert workspace.credentials.reveal(app_id, "production").reveal() == old_secret
    assert (
        workspace.environments.resolve(app_id, "production").environment.secret_rotated_at is None
    )
    # The user resets it in the portal (here: the sandbox) and pastes the new one.
    client = sandbox.state.reset_secret(
        workspace.environments.resolve(app_id, "production").environment.client_id
    )
    result = await workspace.resets.reset(app_id, "production", f"  {client.client_secret}\n")
    assert result.verified
    assert result.new_secret is None
    assert any("whitespace" in w for w in result.warnings)
    assert workspace.credentials.reveal(app_id, "production").reveal() == client.client_secret
    assert (
        workspace.environments.resolve(app_id, "production").environment.secret_rotated_at
        == result.rotated_at
    )
    await workspace.aclose()


async def test_sandbox_reset_seen_from_both_sides(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, old_secret = add_sandbox_app(workspace, sandbox)
    use_sandbox_provider(workspace, sandbox, app_id)
    before = await workspace.tokens.fetch(app_id, "production")
    result = await workspace.resets.reset(app_id, "production")
    assert result.new_secret is not None
    assert result.rotation == "cutover"
    assert workspace.credentials.reveal(app_id, "production") == result.new_secret
    # The provider's side: the old secret is refused at once, the old token still introspects active.
    oauth = OAuthClient(FAST)
    resolved = workspace.environments.resolve(app_id, "production")
    old_credentials = await workspace.credentials.client_credentials(
        resolved, (), secret=Secret(old_secret)
    )
    with pytest.raises(TokenEndpointError, match="invalid_client"):
        await oauth.grant(client_credentials.plan, old_credentials)
    introspection = await workspace.tokens.introspect(before)
    assert introspection["active"] is True
    await oauth.aclose()
    await workspace.aclose()


async def test_overlap_rotation_keeps_the_old_secret_until_retired(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, old_secret = add_sandbox_app(workspace, sandbox, rotation="overlap")
    use_sandbox_provider(workspace, sandbox, app_id, rotation="overlap")
    result = await workspace.resets.reset(app_id, "production")
    assert result.rotation == "overlap"
    oauth = OAuthClient(FAST)
    resolved = workspace.environments.resolve(app_id, "production")
    old_credentials = await workspace.credentials.client_credentials(
        resolved, (), secret=Secret(old_secret)
    )
    await oauth.grant(client_credentials.plan, old_credentials)  # still works during the overlap
    await workspace.resets.retire_previous(app_id, "production")
    with pytest.raises(TokenEndpointError, match="invalid_client"):
        await oauth.grant(client_credentials.plan, old_credentials)
    await oauth.aclose()
    await workspace.aclose()


async def test_token_cache_reuse_skew_and_no_file(
    workspace: Workspace, sandbox: SandboxServer, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, token_ttl=120)
    first, cached = await workspace.tokens.token(app_id, "production")
    assert not cached
    again, cached = await workspace.tokens.token(app_id, "production")
    assert cached
    assert again.token.access_token == first.token.access_token
    # Inside the skew the cached token is not used.
    later = first.token.issued_at + timedelta(seconds=120 - 30)
    workspace.context.clock = lambda: later
    fresh, cached = await workspace.tokens.token(app_id, "production", skew=60)
    assert not cached
    assert fresh.token.access_token != first.token.access_token
    # The cache is keyed by scopes, and lives in the keyring only.
    assert any("token:" in name for _, name in memory_keyring.entries)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert fresh.token.access_token.reveal() not in path.read_text(errors="replace")
    await workspace.aclose()


async def test_revoke_drops_the_cached_copy_and_the_next_call_refetches(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    session, _ = await workspace.tokens.token(app_id, "production")
    how = await workspace.tokens.revoke(session)
    assert how == "revoked"
    assert workspace.tokens.cached(app_id, "production", session.fingerprint) is None
    again, cached = await workspace.tokens.token(app_id, "production")
    assert not cached
    assert again.token.access_token != session.token.access_token
    await workspace.aclose()


async def test_logout_when_there_is_no_revocation_endpoint(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    workspace.environments.edit(app_id, "production", EnvironmentChange(revocation_url=None))
    session = await workspace.tokens.fetch(app_id, "production")
    assert await workspace.tokens.revoke(session) == "logged out"
    assert sandbox.state.requests[-1]["method"] == "GET"
    await workspace.aclose()


async def test_removing_an_application_leaves_no_keyring_entries(
    workspace: Workspace, sandbox: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    add_sandbox_app(workspace, sandbox, env="sandbox")
    await workspace.tokens.token(app_id, "production")
    await workspace.tokens.token(app_id, "production", scopes=["sms:send"])
    workspace.applications.remove(app_id)
    assert [name for _, name in memory_keyring.entries if name.startswith(app_id)] == []
    await workspace.aclose()


async def test_verify_tells_failures_apart(workspace: Workspace, sandbox: SandboxServer) -> None:
    good, _ = add_sandbox_app(workspace, sandbox, name="Good")
    wrong, _ = add_sandbox_app(workspace, sandbox, name="Wrong")
    workspace.credentials.set(wrong, "production", CANARY)
    scope, _ = add_sandbox_app(workspace, sandbox, name="Scope")
    workspace.environments.edit(scope, "production", EnvironmentChange(scopes=["admin"]))
    missing = workspace.applications.add("Missing").id
    workspace.environments.add(
        missing,
        "production",
        EnvironmentChange(client_id="m", token_url=f"{sandbox.issuer}/oauth/token"),
    )
    results = await workspace.verification.verify_many(
        [
            (good, "production"),
            (wrong, "production"),
            (scope, "production"),
            (missing, "production"),
        ]
    )
    assert [r.status for r in results] == ["ok", "wrong_secret", "scope", "missing_secret"]
    assert all(CANARY not in r.message for r in results)
    await workspace.aclose()


def test_secret_expiry_is_warned_about_within_30_days(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    from credenza.services.verification import expiry_warnings

    app_id, _ = add_sandbox_app(workspace, sandbox)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    environment = workspace.environments.edit(
        app_id, "production", EnvironmentChange(secret_expires_at=now + timedelta(days=10))
    )
    assert "in 10 days" in expiry_warnings(environment, now)[0]
    environment = workspace.environments.edit(
        app_id, "production", EnvironmentChange(secret_expires_at=now + timedelta(days=90))
    )
    assert expiry_warnings(environment, now) == ()


def test_production_checklist_from_the_seeds(workspace: Workspace) -> None:
    app = workspace.applications.add(
        "Pipedrive CRM",
        ApplicationChange(
            provider="pipedrive",
            owners=["a@example.com"],
            callback_url="https://example.com/callback",
            grant_types=["authorization_code"],
        ),
    )
    items = {item.label: item for item in workspace.checklist.items(app.id)}
    # Pipedrive asks for a working callback URL and an approved app, not for two owners.
    assert "two application owners" not in items
    assert not items["a real callback URL"].ok
    assert "placeholder" in items["a real callback URL"].detail
    approval = items["the app submitted for approval in Developer Hub, and approved"]
    assert (approval.ok, approval.manual) == (False, True)
    workspace.applications.edit(app.id, ApplicationChange(callback_url="https://crm.acme.io/oauth"))
    items = {item.label: item for item in workspace.checklist.items(app.id)}
    assert items["a real callback URL"].ok
    chorus = workspace.applications.add(
        "Chorus Lines", ApplicationChange(provider="chorus", owners=["a@example.com"])
    )
    items = {item.label: item for item in workspace.checklist.items(chorus.id)}
    assert not items["two application owners"].ok
    assert not items["registered with each API used"].ok
    workspace.applications.edit(
        chorus.id, ApplicationChange(owners=["a@example.com", "b@example.com"])
    )
    items = {item.label: item for item in workspace.checklist.items(chorus.id)}
    assert items["two application owners"].ok


async def test_effective_contract_is_the_least_restrictive_approved_one(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    from credenza.sandbox.demo import catalogue

    catalogue(sandbox.state)
    app_id, _ = add_sandbox_app(workspace, sandbox)
    use_sandbox_provider(workspace, sandbox, app_id)
    group = await workspace.contracts.request_access(
        app_id,
        "production",
        api="Broadband Group",
        instance="broadband-group-production",
        sla_tier="Silver",
        terms_accepted=True,
        target="api_group",
    )
    direct = await workspace.contracts.request_access(
        app_id,
        "production",
        api="Line Test API",
        instance="line-test-production",
        sla_tier="Bronze",
        terms_accepted=True,
    )
    gold = await workspace.contracts.request_access(
        app_id,
        "production",
        api="Line Test API",
        instance="line-test-production",
        sla_tier="Gold",
        terms_accepted=True,
    )
    assert (group.status, direct.status, gold.status) == ("approved", "approved", "pending")
    effective = workspace.contracts.effective(app_id)
    assert effective[("Line Test API", "production")].id == group.id
    # Approving Gold makes it the effective one; the approval shows in scopes granted.
    await workspace.contracts.decide(app_id, gold.id, "approved")
    assert workspace.contracts.effective(app_id)[("Line Test API", "production")].id == gold.id
    session = await workspace.tokens.fetch(app_id, "production", scopes=["linetest:bulk"])
    assert session.token.scopes == ("linetest:bulk",)
    await workspace.contracts.decide(app_id, gold.id, "revoked")
    with pytest.raises(TokenEndpointError, match="invalid_scope"):
        await workspace.tokens.fetch(app_id, "production", scopes=["linetest:bulk"])
    await workspace.aclose()


async def test_terms_must_be_accepted_where_an_instance_has_them(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    from credenza.sandbox.demo import catalogue

    catalogue(sandbox.state)
    app_id, _ = add_sandbox_app(workspace, sandbox)
    use_sandbox_provider(workspace, sandbox, app_id)
    with pytest.raises(TokenEndpointError, match="terms"):
        await workspace.contracts.request_access(
            app_id,
            "production",
            api="Line Test API",
            instance="line-test-production",
            sla_tier="Bronze",
        )
    assert workspace.contracts.of(app_id) == []
    await workspace.aclose()


async def test_manual_providers_record_decisions(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    contract = await workspace.contracts.request_access(
        app_id, "production", api="Orders API", instance="v1", sla_tier="Gold", terms_accepted=True
    )
    assert contract.status == "pending"
    with pytest.raises(ValidationError, match="portal"):
        await workspace.contracts.decide(app_id, contract.id, "approved")
    recorded = workspace.contracts.record(app_id, contract.id, "approved")
    assert recorded.status == "approved"
    assert workspace.contracts.of(app_id)[0].decided_at is not None


async def test_one_token_is_one_entry_whatever_the_order_of_its_scopes(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox, scope="read write")
    workspace.environments.edit(app_id, "production", EnvironmentChange(scopes=["write", "read"]))
    fetched, _ = await workspace.tokens.token(app_id, "production")
    # What the Tokens screen lists: held in memory and cached, one row.
    assert [entry.key for entry in workspace.tokens.listing()] == [fetched.key]
    await workspace.aclose()


def test_applications_are_found_by_id_or_name_after_a_rename(workspace: Workspace) -> None:
    app = workspace.applications.add("Old Name")
    workspace.applications.edit(app.id, ApplicationChange(name="New Name"))
    assert workspace.applications.get("new name").id == app.id
    assert workspace.applications.get(app.id).name == "New Name"
    with pytest.raises(NotFoundError):
        workspace.applications.get("old name")
    workspace.applications.remove(app.id)
    with pytest.raises(NotFoundError):
        workspace.applications.get(app.id)


async def test_cached_tokens_are_read_in_one_keyring_call(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    """A command that uses every cached token (revoke --all) reads their values in one call;
    which tokens there are comes from the index."""
    fetched = set()
    for name in ("One", "Two", "Three"):
        for env in ("sandbox", "production"):
            app_id, _ = add_sandbox_app(workspace, sandbox, name, env)
            session, _ = await workspace.tokens.token(app_id, env)
            fetched.add(session.key)
    calls: list[int] = []
    batch = workspace.secrets.get_many

    def counting(entries):  # type: ignore[no-untyped-def]
        wanted = list(entries)
        calls.append(len(wanted))
        return batch(wanted)

    workspace.secrets.get_many = counting  # type: ignore[method-assign]
    assert {session.key for session in workspace.tokens.cached_sessions()} == fetched
    assert calls == [6]
    await workspace.aclose()


async def test_tokens_held_follow_changes_made_by_another_process(
    workspace: Workspace, sandbox: SandboxServer, config_path: Path
) -> None:
    app_id, _ = add_sandbox_app(workspace, sandbox)
    session = await workspace.tokens.fetch(app_id, "production")
    assert workspace.tokens.held() == [session]
    other = Workspace(ConfigStore(config_path), workspace.secrets)  # the CLI, say
    other.environments.edit(app_id, "production", EnvironmentChange(audience="elsewhere"))
    workspace.reload()
    assert workspace.tokens.held() == []  # another credential now: not offered any more
    again = await workspace.tokens.fetch(app_id, "production")
    other.reload()
    other.applications.remove(app_id)
    workspace.reload()
    assert again.fingerprint not in {s.fingerprint for s in workspace.tokens.held()}
    await workspace.aclose()
