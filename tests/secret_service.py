"""A private, real Secret Service for tests: a session bus and gnome-keyring-daemon in a temp dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PASSWORD = b"throwaway-test-password\n"


def available() -> bool:
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


@contextmanager
def private_secret_service(base: Path, display: str | None = None) -> Iterator[dict[str, str]]:
    """Yield the environment variables that point keyring at a fresh, unlocked Secret Service.

    DISPLAY is unset, so nothing waits on an unlock dialog, unless ``display`` is given (to test
    exactly that); both daemons are stopped by PID.
    """
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(base / "data"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "HOME": str(base / "home"),
    }
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    if display is not None:
        env["DISPLAY"] = display
    address = f"unix:path={runtime / 'bus'}"
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", f"--address={address}", "--nofork", "--nopidfile"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(lambda: (runtime / "bus").exists(), "the session bus")
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert daemon.stdin is not None
        daemon.stdin.write(PASSWORD)
        daemon.stdin.close()
        _wait_for(lambda: _has_owner(env), "org.freedesktop.secrets")
        yield {
            key: env[key]
            for key in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "HOME")
        }
    finally:
        for process in (daemon, bus):
            if process is not None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _has_owner(env: dict[str, str]) -> bool:
    result = subprocess.run(
        [
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return "boolean true" in result.stdout


def _wait_for(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up")
        time.sleep(0.02)


def xvfb_available() -> bool:
    return available() and bool(shutil.which("Xvfb")) and Path("/usr/libexec/gcr-prompter").exists()


@contextmanager
def virtual_display() -> Iterator[str]:
    """An Xvfb screen; yields its DISPLAY value."""
    import os as _os

    read, write = _os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _os.close(write)
    try:
        number = _os.read(read, 16).decode().strip()
        _os.close(read)
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(5)


class BusMonitor:
    """Counts the Secret Service calls on a private bus, seen by a D-Bus monitor connection."""

    SENTINEL = "org.credenza.test.sentinel"

    def __init__(self, address: str) -> None:
        self.address = address
        self.calls: list[tuple[str, str]] = []  # (sender, member)
        self._thread: object = None

    def __enter__(self) -> BusMonitor:
        import threading

        from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        self._connection = open_dbus_connection(self.address)
        rules = [
            MatchRule(type=MessageType.method_call, destination="org.freedesktop.secrets"),
            MatchRule(type=MessageType.method_call, member="GetNameOwner"),
        ]
        monitoring = DBusAddress(
            "/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus.Monitoring"
        )
        self._connection.send_and_get_reply(
            new_method_call(
                monitoring, "BecomeMonitor", "asu", ([r.serialise() for r in rules], 0)
            ),
            timeout=5,
        )
        self._done = threading.Event()
        thread = threading.Thread(target=self._listen, daemon=True)
        thread.start()
        self._thread = thread
        return self

    def _listen(self) -> None:
        from jeepney.low_level import HeaderFields

        while True:
            try:
                message = self._connection.receive(timeout=10)
            except (TimeoutError, OSError):
                return
            fields = message.header.fields
            member = fields.get(HeaderFields.member, "")
            if member == "GetNameOwner" and message.body == (self.SENTINEL,):
                self._done.set()
                return
            if fields.get(HeaderFields.destination) == "org.freedesktop.secrets":
                self.calls.append((fields.get(HeaderFields.sender, ""), member))

    def __exit__(self, *exc: object) -> None:
        # Every call made before this one has reached the monitor once the sentinel has.
        subprocess.run(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetNameOwner",
                f"string:{self.SENTINEL}",
            ],
            capture_output=True,
            check=False,
        )
        self._done.wait(10)
        self._connection.close()

    def count(self, member: str) -> int:
        return sum(1 for _, name in self.calls if name == member)

    def senders(self) -> set[str]:
        return {sender for sender, _ in self.calls}
