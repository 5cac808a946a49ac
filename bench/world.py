"""Where the benchmarks run: a throwaway home, a real Secret Service on a private bus, a sandbox.

credenza runs as separate processes, as a script or a person would start it, with HOME and the
XDG directories in a temp dir (so its config cache, agent socket and keyring are the bench's
own). The Secret Service is gnome-keyring-daemon on a private D-Bus, started as the real-keyring
tests start it (tests/secret_service.py), but owned here so that each group of rows can be
handed a keyring already holding its entries (see ``SecretService.load``); where it is not
installed the rows fall back to a plaintext file keyring and say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import tomli_w
from harness import CHILDREN, run

from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets import names
from credenza.services.binding import origin

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
CREDENZA = str(Path(PYTHON).parent / "credenza")
SERVICE = "credenza"
PASSWORD = b"throwaway-bench-password\n"
# What keyring (and credenza's own Secret Service backend) writes as the item's attributes.
APPLICATION = "Python keyring library"


def secret_service_available() -> bool:
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


class SecretService:
    """dbus-daemon and gnome-keyring-daemon on a private bus, each in a process group of its own.

    ``load(entries)`` restarts the keyring daemon on a login keyring that holds exactly
    ``entries``. Writing them one by one over D-Bus costs O(items) each on gnome-keyring (it
    rewrites and re-encrypts the whole keyring file, and signals the collection's full item
    list, on every change): 10,000 entries took well over half an hour. Instead the file is
    written once in gnome-keyring's own plain keyfile format (what it stores for a keyring
    without a password), the daemon loads it and unlocks the login keyring with a password,
    and one write then has it stored encrypted, as a user's login keyring is. Reads, which is
    what the rows measure, work on the daemon's in-memory items either way.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.runtime = base / "runtime"
        self.runtime.mkdir(mode=0o700, parents=True)
        self.address = f"unix:path={self.runtime / 'bus'}"
        self.env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_DATA_HOME": str(base / "data"),
            "XDG_CONFIG_HOME": str(base / "config"),
            "HOME": str(base / "home"),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }
        # No display: nothing may wait on an unlock dialog.
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        self.bus: subprocess.Popen[bytes] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None

    @property
    def keyrings(self) -> Path:
        return self.base / "data" / "keyrings"

    def start(self) -> None:
        self.bus = CHILDREN.spawn(
            ["dbus-daemon", "--session", f"--address={self.address}", "--nofork", "--nopidfile"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: (self.runtime / "bus").exists(), "the session bus")
        self._start_daemon()

    def _start_daemon(self) -> None:
        self.daemon = CHILDREN.spawn(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.daemon.stdin is not None
        self.daemon.stdin.write(PASSWORD)
        self.daemon.stdin.close()
        _wait_for(self._owned, "org.freedesktop.secrets", timeout=60)

    def _stop_daemon(self) -> None:
        if self.daemon is not None:
            CHILDREN.end(self.daemon.pid)
            self.daemon = None
        # Until the name is released, a client could still reach the old daemon.
        _wait_for(lambda: not self._owned(), "the old keyring daemon to go")

    def stop(self) -> None:
        if self.daemon is not None:
            CHILDREN.end(self.daemon.pid)
            self.daemon = None
        if self.bus is not None:
            CHILDREN.end(self.bus.pid)
            self.bus = None

    def load(self, entries: dict[str, str]) -> None:
        """The login keyring, from now on, holds exactly ``entries`` (credenza's service)."""
        self._stop_daemon()
        shutil.rmtree(self.keyrings, ignore_errors=True)
        self.keyrings.mkdir(parents=True, mode=0o700)
        path = self.keyrings / "login.keyring"
        path.write_text(keyfile(entries, int(time.time())))
        path.chmod(0o600)
        self._start_daemon()
        # One write makes the daemon store the keyring encrypted under its password.
        with self.connection() as collection:
            collection.create_item(
                "bench marker",
                {"service": "credenza-bench", "username": "loaded"},
                b"-",
                replace=True,
            )
        if b"GnomeKeyring" not in path.read_bytes()[:16]:
            raise RuntimeError("gnome-keyring did not take the seeded keyring over")

    @contextlib.contextmanager
    def connection(self) -> Iterator[object]:
        """The default collection over one secretstorage connection."""
        import secretstorage

        with _bus_environment(self.address), contextlib.closing(secretstorage.dbus_init()) as bus:
            yield secretstorage.get_default_collection(bus)

    def _owned(self) -> bool:
        result = subprocess.run(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return "boolean true" in result.stdout


def keyfile(entries: dict[str, str], now: int) -> str:
    """A login keyring in gnome-keyring's plain keyfile format (gkm-secret-textual.c), items
    labelled and attributed as keyring (and credenza) write them."""
    lines = [
        "[keyring]",
        "display-name=Login",
        f"ctime={now}",
        f"mtime={now}",
        "lock-on-idle=false",
        "lock-after=false",
        "",
    ]
    for number, (name, value) in enumerate(entries.items(), start=1):
        lines += [
            f"[{number}]",
            "item-type=0",
            f"display-name={_escape(f'Password for {name!r} on {SERVICE!r}')}",
            f"secret={_escape(value)}",
            f"mtime={now}",
            f"ctime={now}",
            "",
        ]
        attributes = (("application", APPLICATION), ("service", SERVICE), ("username", name))
        for index, (key, text) in enumerate(attributes):
            lines += [
                f"[{number}:attribute{index}]",
                f"name={key}",
                "type=string",
                f"value={_escape(text)}",
                "",
            ]
    return "\n".join(lines)


def _escape(value: str) -> str:
    """GLib key-file value escaping (g_key_file_set_string)."""
    escaped = (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )
    return "\\s" + escaped[1:] if escaped.startswith(" ") else escaped


class World:
    """The environment every measured process gets, and ways to fill its config and keyring."""

    def __init__(self, directory: Path, env: dict[str, str], service: SecretService | None) -> None:
        self.dir = directory
        self.env = env
        self.service = service
        self.keyring = "gnome-keyring" if service else "file keyring"
        self.sandbox: SandboxServer

    @property
    def real(self) -> bool:
        return self.service is not None

    def config(self, name: str, applications: list[dict[str, object]]) -> Path:
        path = self.dir / f"{name}.toml"
        # One workspace id for every config the bench writes, so that the keyring entries it
        # loads are under the names credenza reads (and no first run moves or saves anything).
        document: dict[str, object] = {
            "version": 1,
            "workspace": WORKSPACE,
            "applications": applications,
        }
        if not self.real:
            document["settings"] = {"allow_plaintext_keyring": True}
        path.write_text(tomli_w.dumps(document))
        return path

    def keyring_holds(self, entries: dict[str, str]) -> None:
        """Start a group of rows on a keyring holding exactly these entries (name → value, under
        credenza's service), as credenza would have left them. Any agent is stopped first: it
        held tokens from the keyring that is being replaced."""
        self.stop_agent()
        if self.service is None:
            path = self.dir / "keyring.json"
            path.write_text(
                json.dumps({f"{SERVICE}\x1f{name}": value for name, value in entries.items()})
            )
            return
        started = time.perf_counter()
        self.service.load(entries)
        print(
            f"  keyring loaded with {len(entries):,} entries in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    def stop_agent(self) -> None:
        """Stop an agent a credenza process started for itself (it outlives them, by design):
        asked to stop, then killed if it is still there."""
        from credenza.agent import client as agent

        socket = Path(self.env["XDG_RUNTIME_DIR"]) / "credenza" / "agent.sock"
        if not socket.exists():
            return
        answer = agent.request({"op": "ping"}, path=str(socket), wait_for_start=False)
        pid = int(answer.get("pid", 0)) if isinstance(answer, dict) else 0
        with contextlib.suppress(TimeoutError):
            run([PYTHON, "-m", "credenza", "agent", "stop"], self.env, timeout=15)
        if pid:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _bus_environment(address: str) -> Iterator[None]:
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:g} s")
        time.sleep(0.02)


@contextlib.contextmanager
def world(directory: Path, *, file_keyring: bool = False) -> Iterator[World]:
    """A World with its Secret Service and sandbox running; everything stopped on exit."""
    home = directory / "home"
    home.mkdir()
    base_env = {
        # Nothing of the user's own credenza set-up (config, agent socket, keyring choice).
        **{k: v for k, v in os.environ.items() if not k.startswith("CREDENZA_")},
        "HOME": str(home),
        "XDG_CACHE_HOME": str(directory / "cache"),
        "XDG_CONFIG_HOME": str(directory / "config"),
        "XDG_DATA_HOME": str(directory / "data"),
        "TERM": "xterm-256color",
    }
    base_env.pop("PYTHON_KEYRING_BACKEND", None)
    # As on a user's machine: Python caches bytecode (some CI images turn that off).
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    service: SecretService | None = None
    with contextlib.ExitStack() as stack:
        if file_keyring or not secret_service_available():
            runtime = directory / "runtime"
            runtime.mkdir(mode=0o700)
            env = {
                **base_env,
                "XDG_RUNTIME_DIR": str(runtime),
                "PYTHONPATH": str(HERE),
                "PYTHON_KEYRING_BACKEND": "keyring_file.PlaintextFileKeyring",
                "BENCH_KEYRING_FILE": str(directory / "keyring.json"),
            }
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            service = SecretService(directory / "ss")
            stack.callback(service.stop)
            service.start()
            # The bus, and the runtime, data and home directories the daemon was started with.
            env = {
                **base_env,
                **{
                    key: service.env[key]
                    for key in (
                        "DBUS_SESSION_BUS_ADDRESS",
                        "XDG_RUNTIME_DIR",
                        "XDG_DATA_HOME",
                        "HOME",
                    )
                },
            }
            Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
        bench = World(directory, env, service)
        bench.sandbox = stack.enter_context(SandboxServer(SandboxState(token_ttl=3600)))
        # Last in, first out: the agent goes before the daemons it talks to.
        stack.callback(bench.stop_agent)
        yield bench


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


WORKSPACE = "credenza-bench-workspace"


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
            name = names.in_workspace(WORKSPACE, names.client_secret(f"app-{number:05d}", env))
            clients[name] = (
                client_id,
                client.client_secret,
            )
    return clients


def secret_entries(clients: dict[str, tuple[str, str]], token_url: str) -> dict[str, str]:
    """Client secrets as `credenza secret set` stores them: bound to the token endpoint's
    origin. (Unbound ones, as an older credenza left them, are bound on first use: one keyring
    write each, which on gnome-keyring with 2,400 entries made the first `verify --all` at 2,000
    credentials take 168 s instead of 10.)"""
    return {
        name: json.dumps({"v": 1, "secret": secret, "origin": origin(token_url)})
        for name, (_, secret) in clients.items()
    }
