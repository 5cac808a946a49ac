"""A keyring read on a real Secret Service (gnome-keyring on a private bus): keyring's backend
(a D-Bus connection and session per call) against credenza's (one per process).

    uv run python bench/secret_service_read.py

Interleaved rounds, medians of each side. Rows: one read in a running process; reading 500
cached-token entries; a fresh process's first read, backend discovery included.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import secret_service

ROUNDS = 7
FIRST_READ = {
    "before": (
        "import time; t = time.perf_counter(); import keyring; "
        "keyring.get_keyring().get_password('credenza', 'app/env0/client_secret'); "
        "print(time.perf_counter() - t)"
    ),
    "after": (
        "import time; t = time.perf_counter(); from credenza.secrets import SecretStore; "
        "SecretStore().get_raw('app/env0/client_secret'); print(time.perf_counter() - t)"
    ),
}


def main() -> None:
    with secret_service.private_secret_service(Path(tempfile.mkdtemp())) as env:
        os.environ.update(env)
        from keyring.backends import SecretService

        from credenza.secrets import SecretStore
        from credenza.secrets.backends.secretservice import SecretServiceKeyring

        direct = SecretServiceKeyring.shared(timeout=10)
        assert direct is not None
        stores = {
            "before": SecretStore(SecretService.Keyring(), timeout=10),
            "after": SecretStore(direct, timeout=10),
        }
        names = [f"app/env{n}/token:" for n in range(500)]
        for name in names:
            stores["after"].set_raw(name, '{"access_token": "' + "t" * 900 + '"}')
        stores["after"].set_raw("app/env0/client_secret", "s" * 40)

        one: dict[str, list[float]] = {"before": [], "after": []}
        many: dict[str, list[float]] = {"before": [], "after": []}
        first: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(ROUNDS):
            for side, store in stores.items():
                started = time.perf_counter()
                for _ in range(20):
                    store.get_raw("app/env0/client_secret")
                one[side].append((time.perf_counter() - started) / 20)
                started = time.perf_counter()
                if side == "before":
                    for name in names:
                        store.get_raw(name)
                else:
                    store.get_many(names)
                many[side].append(time.perf_counter() - started)
                child = subprocess.run(
                    [sys.executable, "-c", FIRST_READ[side]],
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                first[side].append(float(child.stdout))
        print(f"{'row':<44} {'before':>10} {'after':>10} {'ratio':>7}")
        for label, figures, unit in (
            ("one read, running process", one, 1000),
            ("500 token entries", many, 1000),
            ("first read of a process, discovery incl.", first, 1000),
        ):
            before = statistics.median(figures["before"]) * unit
            after = statistics.median(figures["after"]) * unit
            print(f"{label:<44} {before:>8.2f}ms {after:>8.2f}ms {after / before:>7.3f}")


if __name__ == "__main__":
    main()
