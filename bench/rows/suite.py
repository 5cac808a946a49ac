"""Row 6: the test suite's wall time, `uv run pytest` as CI runs it (only under --record or
`--only suite`: it takes two minutes and the whole machine)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from dataclasses import replace

from harness import Row, Stats, attempt, run
from plan import Plan
from world import ROOT, World

# Ten minutes: the suite took 113 s on a quiet 2-core machine and 351 s with another run on it.
TIMEOUT = 600.0


def rows(world: World, plan: Plan) -> list[Row]:
    planned = Row(
        "6. `uv run pytest`, the whole suite, wall time",
        None,
        None,
        "(absolute)",
        "s",
        120.0,
        absolute=True,
    )
    return attempt([planned], lambda: [_one(plan, planned)])


def _one(plan: Plan, planned: Row) -> Row:
    """One run a recording (a quick run: one run of a single test file): the suite is minutes,
    so --record's three recordings are three runs, and the worst of them counts."""
    uv = shutil.which("uv")
    argv = [uv, "run", "--locked", "pytest", "-q"] if uv else [sys.executable, "-m", "pytest", "-q"]
    if plan.quick:
        argv.append("tests/oauth/test_untrusted.py")
    # The environment CI gives it: none of the bench's world (its HOME, bus, keyring choice).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENZA_")}
    started = time.perf_counter()
    result = run(argv, env, timeout=TIMEOUT, cwd=str(ROOT))
    elapsed = time.perf_counter() - started
    tail = result.stdout.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    summary = re.sub(r"=+", "", tail[0]).strip()
    if result.returncode != 0:
        raise RuntimeError(f"the suite failed (exit {result.returncode}): {summary}")
    return replace(planned, ours=Stats((elapsed,)), notes=[summary])
