"""Row 3: `credenza verify --all` against `xargs -P16 curl` at the same concurrency."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace

from harness import Row, attempt, interleave, run
from plan import Plan
from world import CREDENZA, World, application, register, secret_entries

CONCURRENCY = 16
LATENCY_MS = 50
ENVS = ("sandbox", "production")
# 2,000 calls at 50 ms, 16 in flight, take ~7 s at best: five minutes means something is stuck.
TIMEOUT = 300.0


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    curl = shutil.which("curl")
    for count in plan.sizes(400, 2000):
        planned = Row(
            f"3. `verify --all`, {count} credentials, {LATENCY_MS} ms latency, "
            f"{CONCURRENCY} in flight",
            None,
            None,
            f"`xargs -P{CONCURRENCY} curl`" if curl else "curl not installed",
            "s",
            1.0,
        )
        found += attempt(
            [planned],
            lambda count=count, planned=planned: [_one(world, plan, count, planned, curl)],
        )
    return found


def _one(world: World, plan: Plan, count: int, planned: Row, curl: str | None) -> Row:
    clients = register(world, count // len(ENVS), ENVS)
    token_url = f"{world.sandbox.issuer}/oauth/token"
    # The user's keyring: a client secret for every credential, as `credenza secret set` left it.
    world.keyring_holds(secret_entries(clients, token_url))
    config = world.config(
        f"verify-{count}", [application(n, token_url, ENVS) for n in range(count // len(ENVS))]
    )
    argv = [CREDENZA, "--config", str(config), "verify", "--all", "--json"]
    argv += ["--concurrency", str(CONCURRENCY)]

    def ours() -> float:
        started = time.perf_counter()
        result = run(argv, world.env, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        statuses = {item["status"] for item in json.loads(result.stdout or b"[]")}
        if statuses != {"ok"}:
            raise RuntimeError(f"verify --all: {statuses} {result.stderr.decode()[-300:]}")
        return elapsed

    sides = {"credenza": ours}
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
        listing_text = ("\n".join(listing) + "\n").encode()

        def baseline() -> float:
            started = time.perf_counter()
            result = run(
                ["xargs", f"-P{CONCURRENCY}", "-n1", curl, "-K"],
                world.env,
                timeout=TIMEOUT,
                input=listing_text,
            )
            if result.returncode != 0:
                raise RuntimeError(f"xargs curl exited {result.returncode}")
            return time.perf_counter() - started

        sides["curl"] = baseline
    world.sandbox.state.add_fault({"mode": "latency", "latency_ms": LATENCY_MS})
    try:
        # No warm-up pair at 2,000 (it would add ~25 s): the secrets are bound already, so the
        # first run does what the others do.
        measured = interleave(sides, plan.runs(9), warmup=0 if count > 1000 else 1)
    finally:
        world.sandbox.state.clear_faults()
    return replace(planned, ours=measured["credenza"], baseline=measured.get("curl"))
