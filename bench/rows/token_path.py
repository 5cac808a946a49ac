"""Rows 1 and 2: `credenza token` from a script, cached and fresh, against the floor and curl."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import Row, interleave, wall
from plan import Plan
from world import CREDENZA, PYTHON, World, application, register, secret_entries

GH_HOSTS = """github.com:
    oauth_token: gho_benchmarkbenchmarkbenchmarkbenchmark
    user: bench
    git_protocol: https
"""


def rows(world: World, plan: Plan) -> list[Row]:
    clients = register(world, 1, ("production",))
    world.store(secret_entries(clients))
    config = world.config(
        "token", [application(0, f"{world.sandbox.issuer}/oauth/token", ("production",))]
    )
    token = [CREDENZA, "token", "app-00000", "--config", str(config)]
    # No set-up: the first call fetches and caches (and, where credenza does that, starts its
    # agent); every later call is what a script in a loop sees.
    wall(token, world.env)()
    floor = [PYTHON, "-I", "-c", "pass"]
    sides = {"credenza": wall(token, world.env), "python": wall(floor, world.env)}
    gh = shutil.which("gh")
    if gh:
        gh_config = Path(tempfile.mkdtemp(dir=world.dir, prefix="gh-"))
        (gh_config / "hosts.yml").write_text(GH_HOSTS)
        gh_env = {**world.env, "GH_CONFIG_DIR": str(gh_config), "GH_NO_UPDATE_NOTIFIER": "1"}
        sides["gh"] = wall([gh, "auth", "token"], gh_env)
    measured = interleave(sides, plan.runs(20))
    status = subprocess.run(
        [CREDENZA, "agent", "status"], env=world.env, capture_output=True, text=True, check=False
    )
    who = (
        "answered by the agent the first call started"
        if status.returncode == 0
        else "no agent running: answered from the keyring cache"
    )
    found = [
        Row(
            "1. cached `credenza token`, no set-up",
            measured["credenza"],
            measured["python"],
            "`python -I -c pass`",
            "s",
            2.5,
            notes=[who],
        )
    ]
    found.append(
        Row(
            "1b. cached `credenza token`, no set-up",
            measured["credenza"],
            measured.get("gh"),
            "`gh auth token` (token in its hosts file)"
            if gh
            else "`gh auth token`: gh not installed",
            "s",
            0.6,
        )
    )

    client_id, secret = clients["app-00000/production/client_secret"]
    curl = shutil.which("curl")
    fresh = [*token, "--no-cache"]
    sides = {"credenza": wall(fresh, world.env)}
    if curl:
        # The secret goes to curl in a config file, not argv, as credenza never puts it there.
        curl_config = world.dir / "curl-token.cfg"
        curl_config.write_text(
            f'user = "{client_id}:{secret}"\ndata = "grant_type=client_credentials"\n'
            f'url = "{world.sandbox.issuer}/oauth/token"\nsilent\n'
        )
        curl_config.chmod(0o600)
        sides["curl"] = wall([curl, "-K", str(curl_config)], world.env)
    measured = interleave(sides, plan.runs(10))
    found.append(
        Row(
            "2. fresh `credenza token --no-cache`",
            measured["credenza"],
            measured.get("curl"),
            "curl, the same token call" if curl else "curl not installed",
            "s",
            25,
        )
    )
    return found
