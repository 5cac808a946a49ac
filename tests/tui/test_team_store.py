"""Environments with a team store: where each secret lives and its version, read by a worker
(never on the event loop), and a token fetched with the store's secret (issue 24)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from credenza.sandbox.demo import Demo
from credenza.services.team_overview import team_record
from credenza.tui.app import CredenzaApp
from tests.tui.conftest import cell, detail_text, goto, settle
from tests.vault import BaoServer

TELENOR = "telenor-sms-gateway/production"


@pytest.fixture(scope="module")
def bao() -> Iterator[BaoServer]:
    with BaoServer() as server:
        yield server


async def test_environments_say_the_secret_is_in_the_team_store_and_its_version(
    app: CredenzaApp, demo: Demo, bao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    path = f"credenza/t{secrets.token_hex(6)}"
    workspace = demo.workspace
    team = team_record("vault", bao.address, path, "secret")
    workspace.context.mutate(lambda config: setattr(config, "team", team))
    pairs = [(a.id, name) for a in workspace.config.applications for name in a.environments]
    # A teammate stored the secret: this process and this person have never seen it, so only
    # the worker that reads the store can show it.
    secret = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    bao.api(
        "POST",
        f"secret/data/{path}/telenor-sms-gateway/production",
        {"options": {"cas": 0}, "data": {"secret": secret, "by": "token-teammate"}},
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await settle(pilot)
        assert cell(app, TELENOR, "secret") == "•••• team store v1"
        others = [f"{a}/{e}" for a, e in pairs if (a, e) != ("telenor-sms-gateway", "production")]
        assert cell(app, others[0], "secret") == "not in the team store"
        assert f"secret/data/{path}/telenor-sms-gateway/production" in detail_text(app)
        assert "version 1" in detail_text(app)
        await pilot.press("f")
        await settle(pilot)
        assert "✓ token fetched" in detail_text(app)
