"""Crash safety, concurrent writers, and a leak scan over everything a session leaves behind."""

from __future__ import annotations

import base64
import html
import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.model import Application, Config, Settings
from credenza.config.store import ConfigStore, parse_config
from credenza.errors import ConfigError
from credenza.oauth.grants import client_credentials
from credenza.sandbox import SandboxServer
from credenza.sandbox.demo import Demo
from credenza.workspace import Workspace
from tests.tui.conftest import table_screen

KILLS = int(os.environ.get("CREDENZA_KILLS", "200"))


def state(number: int) -> Config:
    """Save number N: every byte depends on N, so a torn or mixed file cannot pass for one."""
    return Config(
        workspace="kills-0123456789abcdef",  # given: a save gives one without (a new one)
        settings=Settings(retry_attempts=number),
        applications=[
            Application(id=f"app-{i}", name=f"App {i}", description=f"state {number} " + "x" * 4000)
            for i in range(8)
        ],
    )


def saver(path: Path, start: int) -> None:
    """The child: save states start, start+1, ... until killed."""
    store = ConfigStore(path)
    number = start
    while True:
        store.load()
        number += 1
        store.save(state(number))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments_never_tears_the_config(tmp_path: Path) -> None:
    path = tmp_path / "credenza.toml"
    store = ConfigStore(path)
    store.load()
    store.save(state(0))
    rng = random.Random(1)
    last = 0
    for _ in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child never returns
            try:
                saver(path, last)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        config, _ = parse_config(path.read_bytes(), str(path))
        number = config.settings.retry_attempts
        assert config == state(number)  # whole: exactly one save's content
        assert number >= last  # and never older than what was there
        last = number
    store = ConfigStore(path)
    store.save(store.load())
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def adder(path: Path, worker: int, count: int) -> None:
    from credenza.secrets import SecretStore
    from credenza.secrets.backends.memory import MemoryKeyring
    from credenza.workspace import Workspace

    for number in range(count):
        while True:
            try:
                workspace = Workspace(
                    store=ConfigStore(path, lock_timeout=30), secrets=SecretStore(MemoryKeyring())
                )
                workspace.applications.add(f"w{worker} n{number}")
                break
            except ConfigError:
                continue  # a conflict or a busy lock: retry, as a script would


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_eight_writers_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "credenza.toml"
    workers, count = 8, int(os.environ.get("CREDENZA_WRITES", "25"))
    children = []
    for worker in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                adder(path, worker, count)
                os._exit(0)
            except BaseException:
                os._exit(1)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    names = {a.name for a in ConfigStore(path).load().applications}
    assert names == {f"w{w} n{n}" for w in range(workers) for n in range(count)}


# -- leak scan -------------------------------------------------------------------------------------


def forms(value: str) -> set[str]:
    """A secret as it could leak: raw, Base64, URL-encoded, JSON-escaped."""
    return {
        value,
        base64.b64encode(value.encode()).decode(),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        *_signature_pieces(value),
    }


def _signature_pieces(value: str) -> list[str]:
    """A JWT wider than the screen wraps, so a screenshot never holds it whole: any 28 characters
    of its signature (random, unlike a header every JWT shares) in a row are a leak too."""
    if value.count(".") != 2:
        return []
    signature = value.split(".")[2]
    return [signature[at : at + 24] for at in range(0, len(signature) - 23, 4)]


async def test_nothing_secret_is_left_in_files_output_or_screenshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Run the dashboard's flows (set, fetch, refresh, reset, revoke, screenshot), then search
    every file a session could have touched, and everything printed, for every secret and token."""
    from credenza.sandbox.demo import build_demo
    from credenza.tui.app import CredenzaApp

    for name in (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "TMPDIR",
    ):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    canary = "cAnArY-" + "".join(random.Random(5).choices("abcdef0123456789+/=%:", k=33))
    demo = await _build(build_demo, tmp_path / "workspace")
    try:
        state_ = demo.server.state
        state_.add_client(
            {
                "client_id": "canary-prod",
                "client_secret": canary,
                "grant_types": ["client_credentials", "refresh_token"],
            }
        )
        app_id = demo.workspace.applications.add("Canary").id
        demo.workspace.environments.add(
            app_id,
            "production",
            EnvironmentChange(
                client_id="canary-prod",
                token_url=f"{demo.server.issuer}/oauth/token",
                revocation_url=f"{demo.server.issuer}/oauth/token/revocation",
            ),
        )
        people_id = await _sign_in_with_openid(demo)
        app = CredenzaApp(demo.workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await app.workers.wait_for_complete()
            table_screen(app).select_key(f"{app_id}/production")
            await pilot.press("s")
            await pilot.pause()
            await pilot.press(*canary)
            shots = str(tmp_path / "XDG_DATA_HOME")
            app.save_screenshot(filename="typing.svg", path=shots)  # the secret being typed
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.press("f", "t")
            await app.workers.wait_for_complete()
            await pilot.press("ctrl+p", *"Canary")  # the palette, over a held token
            await pilot.pause()
            app.save_screenshot(filename="palette.svg", path=shots)
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("4", "r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.save_screenshot(filename="leak.svg", path=shots)
            await pilot.press("x")
            await pilot.pause()
            app.screen.query_one("#confirm").focus()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            # The signed-in person's token, inspected: who it is, from the id_token's claims.
            table_screen(app).select_key(f"{people_id}/production/openid")
            await pilot.press("i")
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.save_screenshot(filename="identity.svg", path=shots)
            await pilot.press("escape")
        used = {canary} | set(state_.tokens) | set(state_.issued_id_tokens)
        out, err = capfd.readouterr()
        haystacks = {"stdout": out, "stderr": err}
        for path in tmp_path.rglob("*"):
            if path.is_file():
                haystacks[str(path)] = path.read_bytes().decode("utf-8", "replace")
        leaks = [
            (where, value[:12])
            for where, text in haystacks.items()
            for value in used
            for form in forms(value)
            if form in text
        ]
        assert leaks == []
        assert len(used) >= 3  # the scan had something to find: the secret and two tokens
        shot_names = {p.name for p in tmp_path.rglob("*.svg")}
        assert {"typing.svg", "palette.svg", "leak.svg", "identity.svg"} <= shot_names
        assert len(state_.issued_id_tokens) == 1
        identity = html.unescape((tmp_path / "XDG_DATA_HOME" / "identity.svg").read_text())
        assert "id_token\xa0claims" in identity
        # The palette screenshot shows the palette, so the scan looked at what it claims to.
        palette = html.unescape((tmp_path / "XDG_DATA_HOME" / "palette.svg").read_text())
        assert "Fetch\xa0token\xa0for" in palette
    finally:
        demo.server.stop()


async def _sign_in_with_openid(demo: Demo) -> str:
    """A person signs in to an application that asks for openid: an id_token to search for."""
    import asyncio
    import threading

    from tests.grants_helpers import browse_and_decide
    from tests.servers import free_callback

    callback = free_callback()
    issuer = demo.server.issuer
    people = demo.server.state.add_client(
        {
            "client_id": "canary-people",
            "scope": "openid",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [callback],
        }
    )
    workspace = demo.workspace
    people_id = workspace.applications.add(
        "Canary People",
        ApplicationChange(
            callback_url=callback, grant_types=["authorization_code", "refresh_token"]
        ),
    ).id
    workspace.environments.add(
        people_id,
        "production",
        EnvironmentChange(
            client_id="canary-people",
            issuer=issuer,
            token_url=f"{issuer}/oauth/token",
            authorization_url=f"{issuer}/oauth/authorize",
            scopes=["openid"],
        ),
    )
    workspace.credentials.set(people_id, "production", people.client_secret)

    def browser(url: str) -> None:
        threading.Thread(target=asyncio.run, args=(browse_and_decide(url),), daemon=True).start()

    session = await workspace.sign_in.with_browser(people_id, "production", None, show=browser)
    assert session.account == demo.server.state.user
    return people_id


async def _build(build_demo: Callable[[Path], Demo], directory: Path) -> Demo:
    import asyncio

    directory.mkdir()
    # build_demo runs its own event loop: off this one.
    return await asyncio.to_thread(build_demo, directory)


def test_no_command_takes_a_secret_on_its_command_line() -> None:
    """Secrets come from a prompt, stdin or a named variable; `exec` hands them on by environment."""
    import argparse

    from credenza.cli import build_parser

    options: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if action.nargs != 0:  # a flag (--password: ask at a prompt) carries no value
                options.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    assert "--from-env" in options  # the walk reached nested commands (secret set)
    # These take the secret's expiry date or its expected length, never the secret.
    dates = {"--secret-expires", "--secret-length"}
    assert [o for o in options - dates if "secret" in o or "password" in o or o == "--token"] == []


async def test_a_50_mib_body_is_cut_off_without_memory_growing_by_20_mib() -> None:
    import tracemalloc

    from credenza.errors import TransportError
    from credenza.oauth.client import OAuthClient
    from credenza.oauth.plan import ClientCredentials
    from credenza.secrets import Secret
    from tests.conftest import FAST
    from tests.servers import huge_app, serve

    client = OAuthClient(FAST)
    with serve(huge_app(50)) as server:
        credentials = ClientCredentials(
            token_url=f"{server.issuer}/t", client_id="a", secret=Secret("s")
        )
        tracemalloc.start()
        try:
            with pytest.raises(TransportError, match="cut off"):
                await client.grant(client_credentials.plan, credentials)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    await client.aclose()
    assert peak < 20 * 1024 * 1024


async def test_a_cache_entry_torn_by_a_crash_means_one_new_grant_not_a_crash_loop(
    workspace: Workspace, sandbox: SandboxServer
) -> None:
    from tests.conftest import add_sandbox_app

    app_id, _ = add_sandbox_app(workspace, sandbox)
    first, _ = await workspace.tokens.token(app_id, "production")
    name = f"{app_id}/production/token:{first.fingerprint}"
    workspace.secrets.set_raw(name, first.token.to_json()[:40])  # killed half-way through a write
    grants = sum(1 for r in sandbox.state.requests if r["path"] == "/oauth/token")
    again, cached = await workspace.tokens.token(app_id, "production")
    assert not cached
    assert sum(1 for r in sandbox.state.requests if r["path"] == "/oauth/token") == grants + 1
    third, cached = await workspace.tokens.token(app_id, "production")
    assert cached
    assert third.token.access_token == again.token.access_token
    await workspace.aclose()
