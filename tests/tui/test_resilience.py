"""Failing calls, stuck keyrings and crashes: the dashboard stays usable and shows no secret."""

from __future__ import annotations

import io
import threading
from typing import ClassVar

import pytest
from rich.console import Console

from credenza.sandbox.demo import Demo
from credenza.secrets import SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.tui.app import CredenzaApp
from credenza.tui.screens.applications import ApplicationsScreen
from credenza.tui.screens.contracts import ContractsScreen
from credenza.tui.screens.environments import EnvironmentsScreen
from tests.tui.conftest import FrozenClock, detail_text, goto, settle, wait_until

TELENOR = "telenor-sms-gateway/production"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"mode": "html"}, "HTML page titled '502 Bad Gateway'"),
        ({"mode": "malformed_json"}, "not JSON"),
        ({"mode": "error", "status": 500}, "HTTP 500 server_error"),
        ({"mode": "drop"}, "dropped the connection"),
    ],
)
async def test_a_failing_call_ends_in_the_panel_and_a_toast(
    app: CredenzaApp, demo: Demo, fault: dict[str, object], words: str
) -> None:
    secret = demo.server.state.clients["telenor-sms-gateway-production"].client_secret
    demo.server.state.add_fault({**fault, "client_id": "telenor-sms-gateway-production"})
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("f")
        await settle(pilot)
        text = detail_text(app)
        assert "✗ fetching a token for telenor-sms-gateway / production failed" in text
        assert words in text
        assert "try again" in text
        assert "`credenza" not in text  # advice in keys, not commands
        assert secret not in text
        toasts = [str(n.message) for n in app._notifications]
        assert any(words in message for message in toasts)
        assert all(secret not in message for message in toasts)


async def test_keys_work_while_a_slow_call_is_in_flight(app: CredenzaApp, demo: Demo) -> None:
    demo.server.state.add_fault(
        {"mode": "latency", "latency_ms": 1500, "client_id": "telenor-sms-gateway-production"}
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "2", TELENOR)
        await pilot.press("f")
        await wait_until(pilot, lambda: "⟳ fetching a token" in detail_text(app))
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.screen, ContractsScreen)
        await pilot.press("1", "j", "j")
        await pilot.pause()
        assert isinstance(app.screen, ApplicationsScreen)
        assert app.screen.selected_key() == "newvoicemedia-insights"
        await app.workers.wait_for_complete()
        assert len(app.workspace.tokens.held()) == 1


class StuckKeyring(MemoryKeyring):
    def __init__(self, entries: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.entries = dict(entries)
        self.release = threading.Event()
        self.stuck = threading.Event()  # a call is waiting in here

    def get_password(self, service: str, username: str) -> str | None:
        self.stuck.set()
        self.release.wait(10)
        return super().get_password(service, username)


async def test_a_stuck_keyring_does_not_freeze_the_dashboard(
    demo: Demo, clock: FrozenClock
) -> None:
    original = demo.workspace.secrets.unscoped._backend
    stuck = StuckKeyring(original.entries)
    demo.workspace.context.secrets = SecretStore(stuck, timeout=0.5).within(
        lambda: demo.workspace.workspace_id
    )
    app = CredenzaApp(demo.workspace, clock=clock)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await goto(pilot, "2", TELENOR)
            await pilot.press("v")
            await wait_until(pilot, stuck.stuck.is_set)
            await pilot.press("1")  # a key press while the keyring call is stuck
            await pilot.pause()
            assert isinstance(app.screen, ApplicationsScreen)
            await pilot.press("2")
            await settle(pilot)
            assert isinstance(app.screen, EnvironmentsScreen)
            assert "did not answer within 0.5 s" in detail_text(app)
    finally:
        stuck.release.set()


async def test_startup_reads_the_keyring_at_most_once(demo: Demo, clock: FrozenClock) -> None:
    reads: list[str] = []
    backend = demo.workspace.secrets.unscoped._backend
    original = backend.get_password

    def counting(service: str, username: str) -> str | None:
        reads.append(username)
        found: str | None = original(service, username)
        return found

    backend.get_password = counting
    app = CredenzaApp(demo.workspace, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(reads) <= 1
        await pilot.press("2")
        await settle(pilot)
        assert len(reads) <= 1  # listing environments reads no secret


async def test_a_crash_exits_non_zero_and_its_report_shows_no_secret(
    demo: Demo, clock: FrozenClock
) -> None:
    secret = demo.server.state.clients["telenor-sms-gateway-production"].client_secret

    class Crashing(CredenzaApp):
        report: ClassVar[list[object]] = []

        def _print_error_renderables(self) -> None:
            Crashing.report = list(self._exit_renderables)  # what the terminal is about to get
            super()._print_error_renderables()

        def action_help(self) -> None:
            revealed = self.workspace.credentials.reveal(
                "telenor-sms-gateway", "production"
            ).reveal()
            raise RuntimeError("boom " + str(len(revealed)))

    app = Crashing(demo.workspace, clock=clock)

    async def press_help() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()

    with pytest.raises(RuntimeError, match="boom"):
        await press_help()
    assert app.return_code == 1
    captured = io.StringIO()
    console = Console(file=captured, width=200, color_system=None)
    for renderable in Crashing.report:
        console.print(renderable)
    report = captured.getvalue()
    assert "RuntimeError" in report
    assert secret not in report
