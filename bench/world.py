"""Where the benchmarks run: a throwaway home, a real Secret Service on a private bus, a sandbox.

credenza runs as separate processes, as a script or a person would start it, with HOME and the
XDG directories in a temp dir (so its config cache, agent socket and keyring are the bench's
own). The Secret Service is gnome-keyring-daemon on a private D-Bus, started exactly as the
real-keyring tests start it; where it is not installed the rows fall back to a plaintext file
keyring and say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import tomli_w

from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import names

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
CREDENZA = str(Path(PYTHON).parent / "credenza")
SERVICE = "credenza"

sys.path.insert(0, str(ROOT))
from tests import secret_service  # noqa: E402  (the fixture the real-keyring tests use)


class World:
    """The environment every measured process gets, and ways to fill its config and keyring."""

    def __init__(self, directory: Path, env: dict[str, str], keyring: str) -> None:
        self.dir = directory
        self.env = env
        self.keyring = keyring  # "gnome-keyring" or "file keyring"
        self.sandbox: SandboxServer

    @property
    def real(self) -> bool:
        return self.keyring == "gnome-keyring"

    def config(self, name: str, applications: list[dict[str, object]]) -> Path:
        path = self.dir / f"{name}.toml"
        document: dict[str, object] = {"version": 1, "applications": applications}
        if not self.real:
            document["settings"] = {"allow_plaintext_keyring": True}
        path.write_text(tomli_w.dumps(document))
        return path

    def store(self, entries: dict[str, str]) -> None:
        """Write keyring entries (name → value) under credenza's service, as keyring would."""
        if not self.real:
            path = self.dir / "keyring.json"
            data = json.loads(path.read_text()) if path.exists() else {}
            data.update({f"{SERVICE}\x1f{name}": value for name, value in entries.items()})
            path.write_text(json.dumps(data))
            return
        import secretstorage

        # One connection for the whole batch (keyring's backend opens one per entry, which
        # would make seeding 10,000 entries take minutes); the attributes are keyring's, so
        # credenza reads these entries exactly as it reads ones it wrote itself.
        with _bus_environment(self.env), contextlib.closing(secretstorage.dbus_init()) as bus:
            collection = secretstorage.get_default_collection(bus)
            for name, value in entries.items():
                collection.create_item(
                    f"Password for '{name}' on '{SERVICE}'",
                    {"application": "Python keyring library", "service": SERVICE, "username": name},
                    value.encode(),
                    replace=True,
                )

    def clear_keyring(self) -> None:
        if not self.real:
            (self.dir / "keyring.json").unlink(missing_ok=True)
            return
        import secretstorage

        with _bus_environment(self.env), contextlib.closing(secretstorage.dbus_init()) as bus:
            for item in secretstorage.get_default_collection(bus).search_items(
                {"service": SERVICE}
            ):
                item.delete()


@contextlib.contextmanager
def _bus_environment(env: dict[str, str]) -> Iterator[None]:
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = env["DBUS_SESSION_BUS_ADDRESS"]
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved


@contextlib.contextmanager
def world(directory: Path, *, file_keyring: bool = False) -> Iterator[World]:
    """A World with its Secret Service and sandbox running; everything stopped on exit."""
    home = directory / "home"
    home.mkdir()
    base_env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(directory / "cache"),
        "XDG_CONFIG_HOME": str(directory / "config"),
        "XDG_DATA_HOME": str(directory / "data"),
        "TERM": "xterm-256color",
    }
    base_env.pop("CREDENZA_CONFIG", None)
    base_env.pop("PYTHON_KEYRING_BACKEND", None)
    # As on a user's machine: Python caches bytecode (some CI images turn that off).
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    with contextlib.ExitStack() as stack:
        if file_keyring or not secret_service.available():
            env = {
                **base_env,
                "PYTHONPATH": str(HERE),
                "PYTHON_KEYRING_BACKEND": "keyring_file.PlaintextFileKeyring",
                "BENCH_KEYRING_FILE": str(directory / "keyring.json"),
            }
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            bench = World(directory, env, "file keyring")
        else:
            (directory / "ss").mkdir()
            bus = stack.enter_context(secret_service.private_secret_service(directory / "ss"))
            # The bus, and the runtime, data and home directories the daemon was started with.
            env = {**base_env, **bus}
            Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
            bench = World(directory, env, "gnome-keyring")
        bench.sandbox = stack.enter_context(SandboxServer(SandboxState(token_ttl=3600)))
        try:
            yield bench
        finally:
            # An agent a credenza process started for itself lives in this run's runtime dir.
            import subprocess

            subprocess.run(
                [PYTHON, "-m", "credenza", "agent", "stop"],
                env=bench.env,
                capture_output=True,
                check=False,
                timeout=30,
            )


# -- what the rows put in the config and the keyring -----------------------------------------------


def application(number: int, token_url: str, envs: tuple[str, ...]) -> dict[str, object]:
    return {
        "id": f"app-{number:05d}",
        "name": f"App {number:05d}",
        "provider": "sandbox",
        "owners": ["a@example.com", "b@example.com"],
        "environments": {
            env: {"client_id": f"app-{number:05d}-{env}", "token_url": token_url} for env in envs
        },
    }


def register(bench: World, count: int, envs: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Clients at the sandbox for ``count`` applications; returns entry name → (id, secret)."""
    state = bench.sandbox.state
    clients: dict[str, tuple[str, str]] = {}
    for number in range(count):
        for env in envs:
            client_id = f"app-{number:05d}-{env}"
            client = state.clients.get(client_id) or state.add_client(
                {"client_id": client_id, "token_ttl": 3600}
            )
            clients[names.client_secret(f"app-{number:05d}", env)] = (
                client_id,
                client.client_secret,
            )
    return clients


def secret_entries(clients: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {
        name: json.dumps({"v": 1, "secret": secret, "origin": None})
        for name, (_, secret) in clients.items()
    }
