"""A bench world to profile in: `uv run python bench/shell.py [--count N] [--latency MS]`.

Starts what the rows run on (gnome-keyring on a private bus, the sandbox), with N applications ×
2 environments registered, their secrets in the keyring and a config naming them, writes the
environment to a file for `source`, prints the commands the rows measure, and waits for Ctrl-C.
Profile in another shell: `source FILE; python -X importtime -m credenza token app-00000
--config CONFIG --no-cache`, or `python -m cProfile -s cumtime ...`.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import tempfile
from pathlib import Path

from harness import CHILDREN
from world import CREDENZA, application, register, secret_entries, world

ENVS = ("sandbox", "production")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200, help="credentials (N/2 applications)")
    parser.add_argument("--latency", type=int, default=0, help="ms the sandbox adds to each call")
    options = parser.parse_args()
    CHILDREN.install()
    with (
        tempfile.TemporaryDirectory(prefix="credenza-bench-") as directory,
        world(Path(directory)) as bench,
    ):
        apps = max(1, options.count // len(ENVS))
        token_url = f"{bench.sandbox.issuer}/oauth/token"
        clients = register(bench, apps, ENVS)
        bench.keyring_holds(secret_entries(clients, token_url))
        config = bench.config("shell", [application(n, token_url, ENVS) for n in range(apps)])
        if options.latency:
            bench.sandbox.state.add_fault({"mode": "latency", "latency_ms": options.latency})
        env_file = Path(directory) / "env.sh"
        env_file.write_text(
            "".join(f"export {key}={shlex.quote(value)}\n" for key, value in bench.env.items())
        )
        print(f"source {env_file}")
        print(f"{CREDENZA} token app-00000 --config {config} --no-cache")
        print(f"{CREDENZA} --config {config} verify --all --json --concurrency 16")
        print("Ctrl-C (or SIGTERM) ends it", flush=True)
        ending = {signal.SIGINT, signal.SIGTERM}
        # Blocked, so that sigwait (not a handler) receives them; then the world is stopped.
        signal.pthread_sigmask(signal.SIG_BLOCK, ending)
        signal.sigwait(ending)


if __name__ == "__main__":
    main()
