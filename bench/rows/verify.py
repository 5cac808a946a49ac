"""Row 3: `credenza verify --all` against `xargs -P16 curl` at the same concurrency."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from harness import Row, interleave
from plan import Plan
from world import CREDENZA, World, application, register, secret_entries

CONCURRENCY = 16
LATENCY_MS = 50
ENVS = ("sandbox", "production")


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count in plan.sizes(400, 2000):
        found.append(_one(world, plan, count))
    return found


def _one(world: World, plan: Plan, count: int) -> Row:
    clients = register(world, count // len(ENVS), ENVS)
    world.store(secret_entries(clients))
    token_url = f"{world.sandbox.issuer}/oauth/token"
    config = world.config(
        f"verify-{count}", [application(n, token_url, ENVS) for n in range(count // len(ENVS))]
    )
    argv = [CREDENZA, "--config", str(config), "verify", "--all", "--json"]
    argv += ["--concurrency", str(CONCURRENCY)]

    def ours() -> float:
        started = time.perf_counter()
        result = subprocess.run(argv, env=world.env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        statuses = {item["status"] for item in json.loads(result.stdout or "[]")}
        if statuses != {"ok"}:
            raise RuntimeError(f"verify --all: {statuses} {result.stderr[-400:]}")
        return elapsed

    sides = {"credenza": ours}
    curl = shutil.which("curl")
    if curl:
        # One curl config file per credential (no secret in argv), handed to curl by xargs.
        directory = world.dir / f"curl-{count}"
        directory.mkdir(exist_ok=True)
        listing = []
        for name, (client_id, secret) in clients.items():
            path = directory / (name.replace("/", "_") + ".cfg")
            path.write_text(
                f'user = "{client_id}:{secret}"\ndata = "grant_type=client_credentials"\n'
                f'url = "{token_url}"\nsilent\noutput = "/dev/null"\nfail\n'
            )
            listing.append(str(path))
        listing_text = "\n".join(listing) + "\n"

        def baseline() -> float:
            started = time.perf_counter()
            subprocess.run(
                ["xargs", f"-P{CONCURRENCY}", "-n1", curl, "-K"],
                input=listing_text,
                text=True,
                check=True,
            )
            return time.perf_counter() - started

        sides["curl"] = baseline
    world.sandbox.state.add_fault({"mode": "latency", "latency_ms": LATENCY_MS})
    try:
        measured = interleave(sides, plan.runs(5), warmup=0 if count > 1000 else 1)
    finally:
        world.sandbox.state.clear_faults()
    return Row(
        f"3. `verify --all`, {count} credentials, {LATENCY_MS} ms latency, {CONCURRENCY} in flight",
        measured["credenza"],
        measured.get("curl"),
        f"`xargs -P{CONCURRENCY} curl`" if curl else "curl not installed",
        "s",
        1.2,
    )
