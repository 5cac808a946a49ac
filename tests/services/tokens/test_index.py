"""The token index: listing cached tokens reads no keyring and holds no token value; a token
gone from the keyring is not listed; every change anywhere still unlists a credential's tokens
(issue 22 row 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from credenza.config.store import ConfigStore
from credenza.oauth.tokens import Token
from credenza.sandbox import SandboxServer
from credenza.secrets import Secret, SecretStore, names
from credenza.secrets.backend import Backend
from credenza.secrets.backends.filekeyring import PASSPHRASE_VARIABLE, FileKeyring
from credenza.services.credential_key import fingerprint
from credenza.workspace import Workspace
from tests import secret_service
from tests.conftest import FAST, add_sandbox_app


class RecordingKeyring(Backend):
    """A keyring in a dict that records every read: not the memory keyring, so the index is the
    file a real keyring gets."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.reads: list[str] = []

    def get(self, name: str) -> str | None:
        self.reads.append(name)
        return self.entries.get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        self.reads.extend(names)
        return {name: self.entries.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        self.entries[name] = value

    def delete(self, name: str) -> None:
        self.entries.pop(name, None)


def _opened(config: Path, keyring: Backend) -> Workspace:
    """Another process's view (the dashboard, say): its own store, the same keyring."""
    return Workspace(ConfigStore(config), SecretStore(keyring, timeout=2.0), http_settings=FAST)


async def _cache(workspace: Workspace, sandbox: SandboxServer, count: int) -> dict[str, str]:
    """``count`` applications, each with a token cached; fingerprint → token value."""
    cached: dict[str, str] = {}
    for number in range(count):
        app_id, _ = add_sandbox_app(workspace, sandbox, f"App {number}")
        session, _ = await workspace.tokens.token(app_id, "production")
        cached[session.fingerprint] = session.token.access_token.reveal()
    await workspace.aclose()
    return cached


async def test_listing_cached_tokens_reads_no_keyring(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    cached = await _cache(_opened(config_path, keyring), sandbox, 6)
    dashboard = _opened(config_path, keyring)
    keyring.reads.clear()
    listed = dashboard.tokens.listing()
    assert {entry.fingerprint for entry in listed} == set(cached)
    assert all(entry.expires_at is not None and entry.scopes == ("sms:send",) for entry in listed)
    assert keyring.reads == []
    # Only the token used needs its value: one read (in the workspace: a new store also looks
    # once for entries from before workspace ids, which are not tokens).
    session = dashboard.tokens.session(listed[0])
    assert session is not None
    assert session.token.access_token.reveal() == cached[listed[0].fingerprint]
    mine = dashboard.workspace_id + "/"
    assert len([name for name in keyring.reads if name.startswith(mine)]) == 1


async def test_the_index_file_holds_no_token_or_secret(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    workspace = _opened(config_path, keyring)
    cached = await _cache(workspace, sandbox, 2)
    files = list((Path(os.environ["XDG_STATE_HOME"]) / "credenza" / "token-index").glob("*.json"))
    assert [file.name for file in files] == [f"{workspace.workspace_id}.system.json"]
    text = files[0].read_text()
    assert set(json.loads(text)["tokens"]) == set(cached)
    secrets = [*cached.values(), *keyring.entries.values()]
    assert not [value for value in secrets if value in text]
    assert not [value[-4:] for value in cached.values() if value[-4:] in text]


async def test_a_token_gone_from_the_keyring_is_dropped_not_listed(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    workspace = _opened(config_path, keyring)
    cached = await _cache(workspace, sandbox, 2)
    gone, kept = sorted(cached)
    app_id = next(e.application_id for e in workspace.tokens.listing() if e.fingerprint == gone)
    # Removed behind credenza's back (a keyring manager, say).
    keyring.delete(
        names.in_workspace(workspace.workspace_id, names.token(app_id, "production", gone))
    )
    dashboard = _opened(config_path, keyring)
    entry = next(e for e in dashboard.tokens.listing() if e.fingerprint == gone)
    assert dashboard.tokens.session(entry) is None
    assert [e.fingerprint for e in dashboard.tokens.listing()] == [kept]
    assert [e.fingerprint for e in _opened(config_path, keyring).tokens.listing()] == [kept]


async def test_a_new_secret_set_elsewhere_unlists_the_token_everywhere(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    dashboard = _opened(config_path, keyring)
    app_id, secret = add_sandbox_app(dashboard, sandbox)
    first, _ = await dashboard.tokens.token(app_id, "production")
    assert [e.fingerprint for e in dashboard.tokens.listing()] == [first.fingerprint]
    _opened(config_path, keyring).credentials.set(app_id, "production", secret)  # the CLI
    # Gone from the list, and from what this process held (it was the cached one).
    assert dashboard.tokens.listing() == []
    assert dashboard.tokens.held() == []
    again, from_cache = await dashboard.tokens.token(app_id, "production")
    assert not from_cache
    assert again.token.access_token != first.token.access_token
    await dashboard.aclose()


async def test_a_secret_set_in_another_process_unlists_the_token(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    config = tmp_path / "config" / "credenza.toml"
    config.parent.mkdir()
    config.write_text('[settings]\nkeyring = "file"\n')
    data, passphrase = tmp_path / "data", "correct horse battery"
    keyring = FileKeyring(
        data / "credenza" / "keyring.enc",
        passphrase=lambda prompt, new: passphrase,
        cost=2**10,
        use_agent=False,
    )
    keyring.prepare()
    workspace = Workspace(ConfigStore(config), SecretStore(keyring), http_settings=FAST)
    app_id, secret = add_sandbox_app(workspace, sandbox, name="Fresh")
    first, _ = await workspace.tokens.token(app_id, "production")
    assert [e.fingerprint for e in workspace.tokens.listing()] == [first.fingerprint]
    result = subprocess.run(
        [sys.executable, "-m", "credenza", "secret", "set", app_id, "production"],
        input=secret,
        env={
            **os.environ,
            "CREDENZA_CONFIG": str(config),
            "XDG_DATA_HOME": str(data),
            PASSPHRASE_VARIABLE: passphrase,
        },
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr
    workspace.tokens.store.let_go_of_all()
    assert workspace.tokens.listing() == []
    _, from_cache = await workspace.tokens.token(app_id, "production")
    assert not from_cache
    await workspace.aclose()


async def test_an_index_an_older_credenza_kept_in_the_keyring_is_moved_once(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    workspace = _opened(config_path, keyring)
    app_id, _ = add_sandbox_app(workspace, sandbox)
    resolved = workspace.environments.resolve(app_id, "production")
    requested = workspace.tokens.requested_scopes(resolved, None)
    key = fingerprint(workspace.workspace_id, resolved, requested)
    token = Token(Secret("an-old-cached-token-value"), "Bearer", sandbox_now(), None, requested)
    name = names.token(app_id, "production", key)
    # As an older credenza left it: the index in the keyring, no index file.
    line = " ".join([name, *requested])
    workspace.secrets.set_raw(names.token_index(app_id, "production"), line)
    workspace.secrets.set_raw(name, token.to_json())
    for file in (Path(os.environ["XDG_STATE_HOME"]) / "credenza" / "token-index").glob("*"):
        file.unlink()
    dashboard = _opened(config_path, keyring)
    assert [e.fingerprint for e in dashboard.tokens.listing()] == [key]
    assert dashboard.secrets.get_raw(names.token_index(app_id, "production")) is None
    keyring.reads.clear()
    again = _opened(config_path, keyring)
    assert [e.fingerprint for e in again.tokens.listing()] == [key]
    assert keyring.reads == []  # moved once
    cached, from_cache = await again.tokens.token(app_id, "production")
    assert from_cache
    assert cached.token.access_token.reveal() == "an-old-cached-token-value"
    await again.aclose()


def sandbox_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.mark.skipif(
    not secret_service.available() and not os.environ.get("CI"),
    reason="gnome-keyring and dbus-daemon are not installed (.ci/run installs them)",
)
async def test_listing_on_a_real_secret_service_reads_no_item(
    tmp_path: Path, config_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gnome-keyring searches its whole collection for every item read: listing reads none."""
    from credenza.secrets.backends.secretservice import SecretServiceKeyring

    (tmp_path / "secret-service").mkdir()
    with secret_service.private_secret_service(tmp_path / "secret-service") as env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        backend = SecretServiceKeyring.shared(timeout=5)
        assert backend is not None
        cached = await _cache(_opened(config_path, backend), sandbox, 3)
        with secret_service.BusMonitor(env["DBUS_SESSION_BUS_ADDRESS"]) as monitor:
            listed = _opened(config_path, backend).tokens.listing()
        assert {entry.fingerprint for entry in listed} == set(cached)
        assert [
            m for _, m in monitor.calls if m in {"SearchItems", "GetSecrets", "GetSecret"}
        ] == []
        # The bus was watched: a value read for use is seen.
        with secret_service.BusMonitor(env["DBUS_SESSION_BUS_ADDRESS"]) as monitor:
            assert _opened(config_path, backend).tokens.session(listed[0]) is not None
        assert monitor.count("SearchItems") + monitor.count("GetSecrets") > 0


async def test_a_token_the_index_lost_is_not_used_after_a_secret_change(
    config_path: Path, sandbox: SandboxServer
) -> None:
    keyring = RecordingKeyring()
    cli = _opened(config_path, keyring)
    app_id, secret = add_sandbox_app(cli, sandbox)
    await cli.tokens.token(app_id, "production")
    await cli.aclose()
    # The index file is lost (a cleaned state directory): the keyring still holds the token.
    other = _opened(config_path, keyring)
    state = Path(os.environ["XDG_STATE_HOME"]) / "credenza" / "token-index"
    (state / f"{other.workspace_id}.system.json").unlink()
    other.credentials.set(app_id, "production", secret)  # forgets every token it can find
    again = _opened(config_path, keyring)
    _, from_cache = await again.tokens.token(app_id, "production")
    await again.aclose()
    assert not from_cache
