"""Rows 5: the Tokens screen with many cached tokens: time to the first countdown, and CPU."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from harness import Row, Stats, drain_all, in_pty
from plan import Plan
from world import HERE, PYTHON, World, application

from credenza.config.store import ConfigStore
from credenza.keyring_memory import MemoryKeyring
from credenza.oauth.tokens import Token
from credenza.secrets import Secret, SecretStore, names
from credenza.services.tokens import fingerprint
from credenza.workspace import Workspace

FIRST_ROW = rb"App 00001"
# A countdown cell ("10m04s left"): only ever drawn for a token, never in a header.
COUNTDOWN = rb"\d+m\d\ds left"
SETTLE = 2.0


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count in plan.sizes(500, 5000):
        config = _seed(world, count)
        if count == 500:
            found.append(_first_countdown(world, plan, config, count))
        found.extend(_cpu(world, plan, config, count))
    return found


def _seed(world: World, count: int) -> str:
    """``count`` applications, each with a token cached in the keyring as `credenza token` leaves it."""
    token_url = f"{world.sandbox.issuer}/oauth/token"
    config = world.config(
        f"tokens-{count}", [application(n, token_url, ("production",)) for n in range(count)]
    )
    now = datetime.now(UTC)
    # Entry names, index lines and payloads as credenza's token store writes them: the
    # fingerprint of each credential comes from credenza's own resolution of this config.
    workspace = Workspace(ConfigStore(config), SecretStore(MemoryKeyring()))
    real_path = os.path.realpath(config)
    entries: dict[str, str] = {}
    for number in range(count):
        app_id = f"app-{number:05d}"
        resolved = workspace.environments.resolve(app_id, "production")
        name = names.token(app_id, "production", fingerprint(real_path, resolved, ()))
        entries[names.token_index(app_id, "production")] = name
        entries[name] = Token(
            access_token=Secret(f"bench-token-{number:05d}"),
            token_type="Bearer",
            issued_at=now,
            expires_at=now + timedelta(seconds=3000 + number),
            scopes=(),
        ).to_json()
    world.store(entries)
    return str(config)


def _first_countdown(world: World, plan: Plan, config: str, count: int) -> Row:
    """From pressing 4 (as soon as the first application row is drawn) to a countdown drawn."""
    argv = [PYTHON, "-m", "credenza", "--config", config]
    samples, from_start = [], []
    for turn in range(plan.runs(5) + 1):
        with in_pty(argv, world.env) as terminal:
            terminal.wait_for(FIRST_ROW)
            terminal.send(b"4")
            pressed = time.perf_counter()
            shown = terminal.wait_for(COUNTDOWN, timeout=300)
        if turn:
            samples.append(shown - pressed)
            from_start.append(shown - terminal.started)
    launch = Stats(tuple(from_start))
    return Row(
        f"5. Tokens screen, {count} cached tokens: key press to first countdown",
        Stats(tuple(samples)),
        None,
        "(absolute)",
        "s",
        1.0,
        absolute=True,
        notes=[f"from launch: {launch.show('s')}"],
    )


def _cpu(world: World, plan: Plan, config: str, count: int) -> list[Row]:
    """CPU while counting down: the Tokens screen, the countdown widget alone and the bare
    DataTable app, side by side over the same windows."""
    ours = [PYTHON, "-m", "credenza", "--config", config]
    bare = [PYTHON, str(HERE / "bare_countdown.py"), str(count)]
    alone = [PYTHON, str(HERE / "widget_countdown.py"), str(count)]
    windows, seconds = (3, 3.0) if plan.quick else (5, 4.0)
    with (
        in_pty(ours, world.env) as credenza,
        in_pty(bare, world.env) as baseline,
        in_pty(alone, world.env) as widget,
    ):
        credenza.wait_for(FIRST_ROW, timeout=300)
        credenza.send(b"4")
        credenza.wait_for(COUNTDOWN, timeout=600)
        baseline.wait_for(COUNTDOWN, timeout=300)
        widget.wait_for(COUNTDOWN, timeout=300)
        terminals = [credenza, baseline, widget]
        drain_all(terminals, SETTLE)
        shares: dict[int, list[float]] = {t.pid: [] for t in terminals}
        for _ in range(windows):
            before = {t.pid: t.cpu_seconds() for t in terminals}
            drain_all(terminals, seconds)
            for t in terminals:
                shares[t.pid].append((t.cpu_seconds() - before[t.pid]) / seconds)
    note = f"{windows} windows of {seconds:g} s, all measured over the same windows"
    return [
        Row(
            f"5. Tokens screen CPU while counting down, {count:,} tokens",
            Stats(tuple(shares[credenza.pid])),
            Stats(tuple(shares[baseline.pid])),
            "bare DataTable app, visible cells at 1 Hz",
            "%",
            0.5,
            notes=[note],
        ),
        Row(
            f"5c. the countdown widget alone (tui/widgets/countdown.py), {count:,} tokens",
            Stats(tuple(shares[widget.pid])),
            Stats(tuple(shares[baseline.pid])),
            "the same bare DataTable app",
            "%",
            0.5,
            notes=[note],
        ),
    ]
