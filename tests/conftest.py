"""Shared fixtures: a real sandbox on 127.0.0.1, an in-memory keyring, a workspace in tmp_path."""

# ruff: noqa: E402  (the bytecode switch below must run before the package is imported)

from __future__ import annotations

import gc
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

# The suite keeps its bytecode even where PYTHONDONTWRITEBYTECODE is set (as on CI's image): else
# every xdist worker re-runs pytest's assertion rewriting over all ~230 test modules, and every
# worker and `credenza` subprocess recompiles the package, on every run (~20 s of CPU a suite).
# Set before anything below imports the package; __pycache__ is ignored by git.
sys.dont_write_bytecode = False

import keyring
import pytest

from credenza.cli import run
from credenza.config.auth_methods import AUTH_METHODS, AuthMethod
from credenza.config.changes import EnvironmentChange
from credenza.config.store import ConfigStore
from credenza.oauth.transport import HttpSettings
from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.services.context import Context
from credenza.workspace import Workspace


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each worker holds every test module, fixture and import once collected: frozen, Python's
    collector no longer walks them all on each full collection, and it runs less often (a TUI
    test allocates a great deal). A fifth of a TUI test's CPU was the collector; now ~7%."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


# `credenza token` starts an agent in the background by default; a test suite must not leave
# agents behind (in-process CLI calls and every subprocess inherit this). The auto-start tests
# turn it back on for their own processes and stop what they started.
os.environ["CREDENZA_AGENT"] = "off"

# Every test runs with zero backoff: retries are counted, never waited for.
FAST = HttpSettings(
    connect_timeout=2.0,
    read_timeout=2.0,
    deadline=5.0,
    wait_initial=0.0,
    wait_max=0.0,
    wait_jitter=0.0,
    retry_after_cap=0.0,
)


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's user cache dir (the parsed-config cache) is its own, never the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # This person's local state and own settings: the test's, never the real user's.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Select an in-memory keyring through keyring's public API, and restore the old one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(token_ttl=300)) as server:
        yield server


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "credenza.toml"


@pytest.fixture
def secret_store(memory_keyring: MemoryKeyring) -> SecretStore:
    return SecretStore(memory_keyring, timeout=2.0)


@pytest.fixture
def workspace(config_path: Path, secret_store: SecretStore) -> Workspace:
    return Workspace(store=ConfigStore(config_path), secrets=secret_store, http_settings=FAST)


def add_sandbox_app(
    workspace: Workspace,
    sandbox: SandboxServer,
    name: str = "Telenor SMS",
    env: str = "production",
    **client: Any,
) -> tuple[str, str]:
    """Register a client at the sandbox and the matching application in the workspace."""
    metadata = {
        "client_id": f"{name.lower().replace(' ', '-')}-{env}",
        "scope": "sms:send",
        **client,
    }
    registered = sandbox.state.add_client(metadata)
    application = (
        workspace.applications.add(name)
        if not _has(workspace, name)
        else workspace.applications.get(name)
    )
    workspace.environments.add(
        application.id,
        env,
        EnvironmentChange(
            client_id=registered.client_id,
            token_url=f"{sandbox.issuer}/oauth/token",
            revocation_url=f"{sandbox.issuer}/oauth/token/revocation",
            introspection_url=f"{sandbox.issuer}/oauth/token/introspection",
            logout_url=f"{sandbox.issuer}/oauth/logout",
            auth_method=auth_method_of(registered.token_endpoint_auth_method),
        ),
    )
    workspace.credentials.set(application.id, env, registered.client_secret)
    return application.id, registered.client_secret


def auth_method_of(name: str) -> AuthMethod:
    """The sandbox's registered method as the config's type (the sandbox knows only these)."""
    assert name in AUTH_METHODS
    return name


def _has(workspace: Workspace, name: str) -> bool:
    return any(a.name == name for a in workspace.applications.all())


CliRunner = Callable[..., tuple[int, str, str]]


def zero_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI's network settings as the config makes them, with FAST's zero back-off:
    a call to a server that is down retries as often, never waiting."""
    made = Context.http
    monkeypatch.setattr(
        Context,
        "http",
        lambda context: replace(
            made(context), wait_initial=0.0, wait_max=0.0, wait_jitter=0.0, retry_after_cap=0.0
        ),
    )


@pytest.fixture
def run_cli(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Callable[[Path], CliRunner]:
    """credenza in-process against one config: ``invoke(*argv, stdin="")`` gives (exit code,
    stdout, stderr), captured at the file descriptors so a child of `exec` is captured too."""

    zero_backoff(monkeypatch)

    def for_config(config: Path) -> CliRunner:
        def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
            code = run(["--config", str(config), *argv])
            out, err = capfd.readouterr()
            return code, out, err

        return invoke

    return for_config


@pytest.fixture
def cli(run_cli: Callable[[Path], CliRunner], config_path: Path) -> CliRunner:
    return run_cli(config_path)


def add_telenor_via_cli(
    cli: CliRunner, sandbox: SandboxServer, secret: str | None = "registered"
) -> None:
    """Telenor SMS with a production environment at the sandbox, added the way a user would."""
    client = sandbox.state.add_client({"client_id": "tsms-prod", "scope": "sms:send"})
    cli("app", "add", "Telenor SMS")
    cli(
        "env",
        "add",
        "telenor-sms",
        "production",
        "--client-id",
        "tsms-prod",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
        "--revocation-url",
        f"{sandbox.issuer}/oauth/token/revocation",
    )
    if secret is not None:
        value = client.client_secret if secret == "registered" else secret
        assert cli("secret", "set", "telenor-sms", "production", stdin=value)[0] == 0


@pytest.fixture
def running_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An agent in this process on a private socket; every credenza call in the test uses it."""
    path = tmp_path / "agent" / "agent.sock"
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(path))
    import asyncio
    import threading

    from credenza.agent import client as agent
    from credenza.agent.server import Agent

    server = Agent(path, idle_timeout=60)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.run(),), daemon=True)
    thread.start()
    while agent.request({"op": "ping"}, path=path) is None:
        assert thread.is_alive()
    yield path
    agent.request({"op": "stop"}, path=path)
    thread.join(5)
    loop.close()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for the user's browser: opens the URL over HTTP and follows the redirect back to
    credenza's loopback listener, as a browser does after the user approves."""
    import threading

    import httpx

    opened: list[str] = []

    def open_url(url: str, *args: object, **kwargs: object) -> bool:
        opened.append(url)

        def visit() -> None:
            with httpx.Client(trust_env=False) as client:
                answer = client.get(url)
                client.get(answer.headers["location"])

        threading.Thread(target=visit, daemon=True).start()
        return True

    monkeypatch.setattr("credenza.children.open_browser", open_url)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    return opened
