"""The `demo` fixture's workspace, copied from one built per worker, is the one build_demo makes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from credenza.config.store import ConfigStore
from credenza.sandbox.demo import Demo, build_demo
from credenza.secrets.backends.memory import MemoryKeyring
from tests.servers import free_callback
from tests.tui.conftest import FrozenClock

APPS = [
    ("chorus-line-test", "sandbox"),
    ("chorus-line-test", "production"),
    ("telenor-sms-gateway", "production"),
    ("pipedrive-crm-sync", "sandbox"),
]


def test_the_copied_demo_is_the_demo_build_demo_makes(
    demo: Demo, clock: FrozenClock, tmp_path: Path
) -> None:
    keyring = MemoryKeyring()
    fresh = build_demo(
        tmp_path / "fresh",
        clock=FrozenClock(),
        seed=7,
        pipedrive_callback=free_callback("/pipedrive/callback"),
        live_tokens=False,
        keyring=keyring,
    )
    fresh.server.stop()
    copy_id = ConfigStore(demo.config_path).load().workspace
    fresh_id = ConfigStore(fresh.config_path).load().workspace
    assert copy_id
    assert fresh_id
    copy_callback = demo.workspace.applications.get("pipedrive-crm-sync").callback_url
    fresh_callback = fresh.workspace.applications.get("pipedrive-crm-sync").callback_url
    assert copy_callback
    assert fresh_callback

    def same(text: str) -> str:
        """The fresh build's text as the copy would have it: its sandbox, callback and id."""
        return (
            text.replace(fresh.server.issuer, demo.server.issuer)
            .replace(fresh_callback, copy_callback)
            .replace(fresh_id, copy_id)
        )

    assert demo.server.issuer != fresh.server.issuer
    assert tomllib.loads(demo.config_path.read_text()) == tomllib.loads(
        same(fresh.config_path.read_text())
    )
    assert len(keyring.entries) == 12  # five admin tokens and seven client secrets
    for app, env in APPS:
        copied = demo.workspace.credentials.stored_secret(app, env)
        made = fresh.workspace.credentials.stored_secret(app, env)
        assert copied.secret.reveal() == made.secret.reveal()
        assert made.origin is not None
        assert copied.origin == same(made.origin)
    copy_state, fresh_state = demo.server.state, fresh.server.state
    assert copy_state.clients.keys() == fresh_state.clients.keys()
    for client_id, client in fresh_state.clients.items():
        copied_client = copy_state.clients[client_id]
        assert copied_client.client_secret == client.client_secret
        assert copied_client.redirect_uris == [same(uri) for uri in client.redirect_uris]
    assert copy_state.contracts == fresh_state.contracts
    assert copy_state.apis == fresh_state.apis
    assert copy_state.admin_token == fresh_state.admin_token
    # The next draw of the seeded randomness is the one a fresh demo would make.
    assert copy_state.random.hex(8) == fresh_state.random.hex(8)
    # This person's state: when each secret was set.
    for app, env in APPS:
        assert demo.workspace.context.local_state.secret_set_at(
            app, env
        ) == fresh.workspace.context.local_state.secret_set_at(app, env)
    assert copy_state.clock() == clock().timestamp()
