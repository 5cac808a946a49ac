"""Rows 5: the Tokens screen with many cached tokens: time to the first countdown, and CPU."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import Row, Stats, Terminal, attempt, cpu_seconds, drain_all, in_pty, reason
from plan import Plan
from world import HERE, PYTHON, WORKSPACE, World, application, register, secret_entries

from credenza.config.store import ConfigStore
from credenza.oauth.tokens import Token
from credenza.secrets import Secret, SecretStore, names
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.services.credential_key import fingerprint
from credenza.services.tokens.records import SessionToken
from credenza.workspace import Workspace

FIRST_ROW = rb"App 00001"
# A countdown cell ("10m04s left"): only ever drawn for a token, never in a header.
COUNTDOWN = rb"\d+m\d\ds left"
SETTLE = 2.0
# Seconds to the first application row, and then to the first countdown: each is well under
# 10 s at 5,000 tokens; a minute means something is stuck.
TIMEOUT = 60.0
# Reading 5,000 cached tokens (15,000 entries) from gnome-keyring takes about a minute.
LOADING = 300.0
QUIET = 0.05  # of a core, the keyring daemon and the Tokens screen each, over a second


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count in plan.sizes(500, 5000):
        first = Row(
            f"5. Tokens screen, {count} cached tokens: key press to first countdown",
            None,
            None,
            "(absolute)",
            "s",
            1.0,
            absolute=True,
        )
        cpu = [
            Row(
                f"5. Tokens screen CPU while counting down, {count:,} tokens",
                None,
                None,
                "bare DataTable app, visible cells at 1 Hz",
                "%",
                0.5,
            ),
            Row(
                f"5c. the countdown widget alone (tui/widgets/countdown.py), {count:,} tokens",
                None,
                None,
                "the same bare DataTable app",
                "%",
                0.5,
            ),
        ]
        planned = ([first] if count == 500 else []) + cpu
        try:
            config = _seed(world, count)
        except Exception as exc:  # the rows say why
            found += [Row.unmeasured(row, f"seeding the keyring: {reason(exc)}") for row in planned]
            continue
        if count == 500:
            found += attempt(
                [first], lambda c=config, n=count, r=first: [_first_countdown(world, plan, c, n, r)]
            )
        found += attempt(cpu, lambda c=config, n=count, r=cpu: _cpu(world, plan, c, n, r))
    return found


def _seed(world: World, count: int) -> str:
    """``count`` applications, each with its client secret and a token cached in the keyring as
    `credenza secret set` and `credenza token` leave them."""
    token_url = f"{world.sandbox.issuer}/oauth/token"
    config = world.config(
        f"tokens-{count}", [application(n, token_url, ("production",)) for n in range(count)]
    )
    now = datetime.now(UTC)
    # Entry names and payloads as credenza's token store writes them, and its token index
    # file (what the Tokens screen lists from): the fingerprint of each credential comes from
    # credenza's own resolution of this config.
    workspace = Workspace(ConfigStore(config), SecretStore(MemoryKeyring()))
    entries = secret_entries(register(world, count, ("production",)), token_url)
    listed = {}
    for number in range(count):
        app_id = f"app-{number:05d}"
        resolved = workspace.environments.resolve(app_id, "production")
        key = fingerprint(WORKSPACE, resolved, ())
        token = Token(
            access_token=Secret(f"bench-token-{number:05d}"),
            token_type="Bearer",
            issued_at=now,
            expires_at=now + timedelta(seconds=3000 + number),
            scopes=(),
        )
        entries[names.in_workspace(WORKSPACE, names.token(app_id, "production", key))] = (
            token.to_json()
        )
        listed[key] = SessionToken(app_id, "production", token, (), key).entry().to_dict()
    state = world.env.get("XDG_STATE_HOME") or str(Path(world.env["HOME"]) / ".local" / "state")
    index = Path(state) / "credenza" / "token-index" / f"{WORKSPACE}.system.json"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"v": 1, "tokens": listed}))
    world.keyring_holds(entries)
    return str(config)


def _first_countdown(world: World, plan: Plan, config: str, count: int, planned: Row) -> Row:
    """From pressing 4 (as soon as the first application row is drawn) to a countdown drawn."""
    argv = [PYTHON, "-m", "credenza", "--config", config]
    samples, from_start = [], []
    for turn in range(plan.runs(5) + 1):
        with in_pty(argv, world.env) as terminal:
            terminal.wait_for(FIRST_ROW, timeout=TIMEOUT)
            terminal.send(b"4")
            pressed = time.perf_counter()
            shown = terminal.wait_for(COUNTDOWN, timeout=TIMEOUT)
        if turn:
            samples.append(shown - pressed)
            from_start.append(shown - terminal.started)
    launch = Stats(tuple(from_start))
    return replace(planned, ours=Stats(tuple(samples)), notes=[f"from launch: {launch.show('s')}"])


def _cpu(world: World, plan: Plan, config: str, count: int, planned: list[Row]) -> list[Row]:
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
        credenza.wait_for(FIRST_ROW, timeout=TIMEOUT)
        credenza.send(b"4")
        shown = credenza.wait_for(COUNTDOWN, timeout=TIMEOUT) - credenza.started
        baseline.wait_for(COUNTDOWN, timeout=TIMEOUT)
        widget.wait_for(COUNTDOWN, timeout=TIMEOUT)
        terminals = [credenza, baseline, widget]
        # The first countdown is the first batch of tokens; the rest are still being read from
        # the keyring. "While counting down" starts once that reading is over.
        loaded = _quiet(world, terminals, LOADING) - credenza.started
        drain_all(terminals, SETTLE)
        shares: dict[int, list[float]] = {t.pid: [] for t in terminals}
        for _ in range(windows):
            before = {t.pid: t.cpu_seconds() for t in terminals}
            drain_all(terminals, seconds)
            for t in terminals:
                shares[t.pid].append((t.cpu_seconds() - before[t.pid]) / seconds)
    note = f"{windows} windows of {seconds:g} s, all measured over the same windows"
    tokens, alone = planned
    return [
        replace(
            tokens,
            ours=Stats(tuple(shares[credenza.pid])),
            baseline=Stats(tuple(shares[baseline.pid])),
            notes=[
                note,
                f"first countdown {shown:.1f} s after launch, every token read by {loaded:.0f} s",
            ],
        ),
        replace(
            alone,
            ours=Stats(tuple(shares[widget.pid])),
            baseline=Stats(tuple(shares[baseline.pid])),
            notes=[note],
        ),
    ]


def _quiet(world: World, terminals: list[Terminal], timeout: float) -> float:
    """perf_counter() once the Tokens screen (the first terminal) and the keyring daemon each
    used under QUIET of a core over a second: the cached tokens have all been read."""
    credenza = terminals[0]
    daemon = world.service.daemon.pid if world.service and world.service.daemon else None
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        before = (credenza.cpu_seconds(), cpu_seconds(daemon) if daemon else 0.0)
        drain_all(terminals, 1.0)
        after = (credenza.cpu_seconds(), cpu_seconds(daemon) if daemon else 0.0)
        if all(end - start < QUIET for start, end in zip(before, after, strict=True)):
            return time.perf_counter() - 1.0
    raise TimeoutError(f"the Tokens screen was still reading after {timeout:g} s")
