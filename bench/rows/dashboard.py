"""Rows 5: the dashboard's first frame and peak memory against a minimal app with the same rows."""

from __future__ import annotations

import time
from dataclasses import replace

from harness import Row, Stats, Terminal, attempt, in_pty
from plan import Plan
from world import HERE, PYTHON, World, application, register, secret_entries

ENVS = ("sandbox", "production")
# The second application's name: drawn only once the rows are, never part of a header.
FIRST_ROW = rb"App 00001"
# Seconds: the slowest first frame measured is ~2.5 s at 10,000 applications.
TIMEOUT = 60.0


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count, target in zip(plan.sizes(1000, 10000), (1.2, 1.3), strict=False):
        planned = [
            Row(
                f"5. dashboard first frame, {count:,} applications × 2 environments",
                None,
                None,
                f"minimal app, {count:,}-row table",
                "s",
                target,
            ),
            Row(
                f"5. dashboard peak RSS, {count:,} applications",
                None,
                None,
                "the same minimal app",
                "MiB",
                1.5,
            ),
        ]
        found += attempt(
            planned, lambda count=count, planned=planned: _one(world, plan, count, planned)
        )
    return found


def _one(world: World, plan: Plan, count: int, planned: list[Row]) -> list[Row]:
    token_url = f"{world.sandbox.issuer}/oauth/token"
    # A user with these applications has their secrets in the keyring.
    world.keyring_holds(secret_entries(register(world, count, ENVS), token_url))
    config = world.config(f"dash-{count}", [application(n, token_url, ENVS) for n in range(count)])
    sides = {
        "credenza": [PYTHON, "-m", "credenza", "--config", str(config)],
        "minimal": [PYTHON, str(HERE / "minimal_app.py"), str(count)],
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, list[float]] = {name: [] for name in sides}
    runs = plan.runs(9)
    # One warm-up each (bytecode, and credenza's parsed-config cache: a user opens the same
    # config again and again), then A B A B ...
    for turn in range(runs + 1):
        for name, argv in sides.items():
            with in_pty(argv, world.env) as terminal:
                shown = terminal.wait_for(FIRST_ROW, timeout=TIMEOUT) - terminal.started
                terminal.drain(1.0)
                # The peak once all work is done, not 1 s after the first frame: the dashboard
                # builds the rows past the first screenful (and counts what needs attention)
                # after that frame, and at 10,000 applications that takes over a second.
                settle(terminal)
                peak = terminal.peak_rss_mib()
            if turn:
                times[name].append(shown)
                peaks[name].append(peak)
            time.sleep(0.1)
    first_frame, rss = planned
    return [
        replace(first_frame, ours=_stats(times["credenza"]), baseline=_stats(times["minimal"])),
        replace(rss, ours=_stats(peaks["credenza"]), baseline=_stats(peaks["minimal"])),
    ]


def settle(terminal: Terminal, quiet: float = 0.01, longest: float = TIMEOUT) -> None:
    """Drain until the process uses under ``quiet`` CPU seconds in 0.3 s (or ``longest`` s)."""
    last = terminal.cpu_seconds()
    deadline = time.perf_counter() + longest
    while time.perf_counter() < deadline:
        terminal.drain(0.3)
        now = terminal.cpu_seconds()
        if now - last < quiet:
            return
        last = now


def _stats(samples: list[float]) -> Stats:
    return Stats(tuple(samples))
