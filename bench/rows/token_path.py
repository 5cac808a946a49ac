"""Rows 1 and 2: `credenza token` from a script, cached and fresh, against the floor and curl."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from harness import Row, attempt, interleave, run, wall
from plan import Plan
from world import CREDENZA, PYTHON, World, application, register, secret_entries

GH_HOSTS = """github.com:
    oauth_token: gho_benchmarkbenchmarkbenchmarkbenchmark
    user: bench
    git_protocol: https
"""
# A token call takes milliseconds; a minute means something is stuck.
TIMEOUT = 60.0


def rows(world: World, plan: Plan) -> list[Row]:
    token_url = f"{world.sandbox.issuer}/oauth/token"
    clients = register(world, 1, ("production",))
    config = world.config("token", [application(0, token_url, ("production",))])
    token = [CREDENZA, "token", "app-00000", "--config", str(config)]
    gh = shutil.which("gh")
    curl = shutil.which("curl")
    cached = Row(
        "1. cached `credenza token`, no set-up", None, None, "`python -I -c pass`", "s", 1.5
    )
    versus_gh = Row(
        "1b. cached `credenza token`, no set-up",
        None,
        None,
        "`gh auth token` (token in its hosts file)" if gh else "`gh auth token`: gh not installed",
        "s",
        0.6,
    )
    fresh = Row(
        "2. fresh `credenza token --no-cache`",
        None,
        None,
        "curl, the same token call" if curl else "curl not installed",
        "s",
        15,
    )

    def measure_cached() -> list[Row]:
        world.keyring_holds(secret_entries(clients, token_url))
        # No set-up: the first call fetches and caches (and, where credenza does that, starts
        # its agent); every later call is what a script in a loop sees.
        wall(token, world.env, timeout=TIMEOUT)()
        sides = {
            "credenza": wall(token, world.env, timeout=TIMEOUT),
            "python": wall([PYTHON, "-I", "-c", "pass"], world.env, timeout=TIMEOUT),
        }
        if gh:
            gh_config = Path(tempfile.mkdtemp(dir=world.dir, prefix="gh-"))
            (gh_config / "hosts.yml").write_text(GH_HOSTS)
            gh_env = {**world.env, "GH_CONFIG_DIR": str(gh_config), "GH_NO_UPDATE_NOTIFIER": "1"}
            sides["gh"] = wall([gh, "auth", "token"], gh_env, timeout=TIMEOUT)
        measured = interleave(sides, plan.runs(20))
        status = run([CREDENZA, "agent", "status"], world.env, timeout=TIMEOUT)
        who = (
            "answered by the agent the first call started"
            if status.returncode == 0
            else "no agent running: answered from the keyring cache"
        )
        return [
            replace(cached, ours=measured["credenza"], baseline=measured["python"], notes=[who]),
            replace(versus_gh, ours=measured["credenza"], baseline=measured.get("gh")),
        ]

    def measure_fresh() -> list[Row]:
        [(client_id, secret)] = clients.values()  # the one application and environment
        sides = {"credenza": wall([*token, "--no-cache"], world.env, timeout=TIMEOUT)}
        if curl:
            # The secret goes to curl in a config file, not argv, as credenza never puts it there.
            curl_config = world.dir / "curl-token.cfg"
            curl_config.write_text(
                f'user = "{client_id}:{secret}"\ndata = "grant_type=client_credentials"\n'
                f'url = "{token_url}"\nsilent\n'
            )
            curl_config.chmod(0o600)
            sides["curl"] = wall([curl, "-K", str(curl_config)], world.env, timeout=TIMEOUT)
        measured = interleave(sides, plan.runs(10))
        return [replace(fresh, ours=measured["credenza"], baseline=measured.get("curl"))]

    return attempt([cached, versus_gh], measure_cached) + attempt([fresh], measure_fresh)
