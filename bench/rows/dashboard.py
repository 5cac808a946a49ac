"""Rows 4: the dashboard's first frame and peak memory against a minimal app with the same rows."""

from __future__ import annotations

import time

from harness import Row, Stats, in_pty
from plan import Plan
from world import HERE, PYTHON, World, application

ENVS = ("sandbox", "production")
# The second application's name: drawn only once the rows are, never part of a header.
FIRST_ROW = rb"App 00001"


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count, target in zip(plan.sizes(1000, 10000), (1.2, 1.3), strict=False):
        found.extend(_one(world, plan, count, target))
    return found


def _one(world: World, plan: Plan, count: int, target: float) -> list[Row]:
    token_url = f"{world.sandbox.issuer}/oauth/token"
    config = world.config(f"dash-{count}", [application(n, token_url, ENVS) for n in range(count)])
    sides = {
        "credenza": [PYTHON, "-m", "credenza", "--config", str(config)],
        "minimal": [PYTHON, str(HERE / "minimal_app.py"), str(count)],
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, list[float]] = {name: [] for name in sides}
    runs = plan.runs(5)
    # One warm-up each (bytecode, and credenza's parsed-config cache: a user opens the same
    # config again and again), then A B A B ...
    for turn in range(runs + 1):
        for name, argv in sides.items():
            with in_pty(argv, world.env) as terminal:
                shown = terminal.wait_for(FIRST_ROW) - terminal.started
                terminal.drain(1.0)
                peak = terminal.peak_rss_mib()
            if turn:
                times[name].append(shown)
                peaks[name].append(peak)
            time.sleep(0.1)
    return [
        Row(
            f"4. dashboard first frame, {count:,} applications × 2 environments",
            Stats(tuple(times["credenza"])),
            Stats(tuple(times["minimal"])),
            f"minimal app, {count:,}-row table",
            "s",
            target,
        ),
        Row(
            f"4. dashboard peak RSS, {count:,} applications",
            Stats(tuple(peaks["credenza"])),
            Stats(tuple(peaks["minimal"])),
            "the same minimal app",
            "MiB",
            1.5,
        ),
    ]
