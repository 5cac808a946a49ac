"""The built-in encrypted file keyring: round trip, passphrase, damage, kills, nothing in clear."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from credenza.errors import KeyringLockedError, NoKeyringError
from credenza.secrets import Secret, SecretStore
from credenza.secrets.backends.filekeyring import (
    PASSPHRASE_VARIABLE,
    FileKeyring,
    KeyringFileDamagedError,
    WrongPassphraseError,
)

CANARY = "cAnArY-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a"
PASSPHRASE = "correct horse battery staple"
CHEAP = 2**10  # scrypt's cost is a parameter of the file; tests keep it low to stay fast


@pytest.fixture(autouse=True)
def no_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never hand a test key to (or take one from) an agent the developer runs."""
    monkeypatch.setenv("CREDENZA_AGENT_SOCKET", str(tmp_path / "no-agent.sock"))


def keyring_at(path: Path, passphrase: str = PASSPHRASE) -> FileKeyring:
    return FileKeyring(path, passphrase=lambda prompt, new: passphrase, cost=CHEAP)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "credenza" / "keyring.enc"


def store_at(path: Path, passphrase: str = PASSPHRASE) -> SecretStore:
    return SecretStore(keyring_at(path, passphrase), timeout=5)


def test_round_trip_through_the_secret_store(path: Path) -> None:
    store = store_at(path)
    store.set_client_secret("app", "production", Secret(CANARY), origin="https://id.example")
    store.set_raw("app/production/token:", "eyJ" + "t" * 5000)
    again = store_at(path)  # another process: the key derived again, the file read again
    assert again.get_client_secret("app", "production").secret.reveal() == CANARY
    assert again.get_many(["app/production/token:", "missing"]) == {
        "app/production/token:": "eyJ" + "t" * 5000,
        "missing": None,
    }
    again.delete_client_secret("app", "production")
    assert store_at(path).get_raw("app/production/client_secret") is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_the_file_holds_no_plaintext_of_the_secret(path: Path) -> None:
    store_at(path).set_client_secret("app", "production", Secret(CANARY), origin=None)
    data = path.read_bytes()
    for form in (
        CANARY,
        base64.b64encode(CANARY.encode()).decode(),
        urllib.parse.quote(CANARY),
        json.dumps(CANARY)[1:-1],
        "app/production/client_secret",  # not even the entry names
    ):
        assert form.encode() not in data


def test_a_wrong_passphrase_is_a_clear_error_and_changes_nothing(path: Path) -> None:
    store_at(path).set_raw("app/env/client_secret", CANARY)
    before = path.read_bytes()
    with pytest.raises(WrongPassphraseError, match="does not open the file keyring") as caught:
        store_at(path, "wrong horse").get_raw("app/env/client_secret")
    assert caught.value.exit_code == 3
    assert path.read_bytes() == before


def test_the_passphrase_comes_from_the_environment(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_VARIABLE, PASSPHRASE)
    FileKeyring(path, cost=CHEAP).prepare()  # a new keyring: asks nothing, derives from the env
    store = SecretStore(FileKeyring(path, cost=CHEAP))
    store.set_raw("x", "y")
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "not it")
    with pytest.raises(WrongPassphraseError, match=PASSPHRASE_VARIABLE):
        SecretStore(FileKeyring(path)).get_raw("x")


@pytest.mark.parametrize(
    "damage",
    [
        "flip a ciphertext byte",
        "truncate",
        "not json",
        "edit the salt",
        "empty",
    ],
)
def test_a_damaged_file_is_detected_and_never_emptied(path: Path, damage: str) -> None:
    store_at(path).set_raw("app/env/client_secret", CANARY)
    document = json.loads(path.read_bytes())
    if damage == "flip a ciphertext byte":
        raw = bytearray(base64.b64decode(document["ciphertext"]))
        raw[len(raw) // 2] ^= 0x01
        document["ciphertext"] = base64.b64encode(bytes(raw)).decode()
        path.write_text(json.dumps(document))
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "not json":
        path.write_bytes(b"\x00\x01garbage")
    elif damage == "edit the salt":
        document["kdf"]["salt"] = base64.b64encode(b"s" * 16).decode()
        path.write_text(json.dumps(document))
    else:
        path.write_bytes(b"")
    damaged = path.read_bytes()
    store = store_at(path)
    # A changed salt derives another key: to the user that is a wrong passphrase or damage, and
    # either way it is said and nothing is written.
    with pytest.raises((KeyringFileDamagedError, WrongPassphraseError)) as caught:
        store.get_raw("app/env/client_secret")
    assert str(path) in str(caught.value)
    with pytest.raises((KeyringFileDamagedError, WrongPassphraseError)):
        store_at(path).set_raw("app/env/other", "value")
    assert path.read_bytes() == damaged


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from credenza.secrets import SecretStore
    from credenza.secrets.backends.filekeyring import FileKeyring

    path = Path(sys.argv[1])
    store = SecretStore(FileKeyring(path, passphrase=lambda p, n: "pw", cost=1024))
    number = 0
    print("ready", flush=True)
    while True:
        number += 1
        store.set_raw("app/env/token:", f"value-{number}-" + "v" * 3000)
        store.set_raw("app/env/token-index", f"index-{number}")
    """
)


def test_a_kill_during_writes_leaves_a_whole_file(path: Path) -> None:
    store = SecretStore(keyring_at(path, "pw"))
    store.set_raw("app/env/token:", "value-0-" + "v" * 3000)
    rng = random.Random(7)
    env = {**os.environ, "CREDENZA_AGENT_SOCKET": str(path.parent / "no-agent.sock")}
    for _ in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        value = SecretStore(keyring_at(path, "pw")).get_raw("app/env/token:")
        assert value is not None
        assert value.startswith("value-")
        assert value.endswith("v" * 3000)
    # The next write (it takes the lock) removes what killed writers left behind.
    SecretStore(keyring_at(path, "pw")).set_raw("x", "y")
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_missing_file_reads_as_empty_without_creating_it(path: Path) -> None:
    store = store_at(path)
    assert store.get_raw("anything") is None
    store.delete_raw("anything")
    assert not path.exists()


def test_with_no_terminal_and_no_variable_the_error_says_what_to_set(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_VARIABLE, raising=False)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from credenza.secrets.backends.filekeyring import FileKeyring; "
            f"FileKeyring(Path({str(path)!r})).prepare()",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal
        check=False,
    )
    assert result.returncode != 0
    assert "NoKeyringError" in result.stderr
    assert PASSPHRASE_VARIABLE in result.stderr


def test_the_settings_choose_the_file_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv(PASSPHRASE_VARIABLE, PASSPHRASE)
    store = SecretStore(keyring="file")
    backend = store.backend
    assert isinstance(backend, FileKeyring)
    assert backend.path == tmp_path / "xdg-data" / "credenza" / "keyring.enc"
    assert "encrypted file keyring" in backend.label


PROMPTER = textwrap.dedent(
    """
    import hashlib
    import signal
    import sys
    from credenza.secrets.backends.filekeyring import read_hidden
    # Ctrl-C as at a terminal, even when this test runs under a background job (which starts
    # with SIGINT ignored, and Python then installs no KeyboardInterrupt handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from credenza.errors import KeyringLockedError
    try:
        value = read_hidden("Passphrase: ", timeout=float(sys.argv[1]))
        print("GOT", hashlib.sha256(value.encode()).hexdigest()[:16], flush=True)
    except KeyringLockedError as error:
        print("TIMEOUT", error, flush=True)
        sys.exit(3)
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    import pty

    master, slave = pty.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def _prompt_in(terminal: tuple[int, int], timeout: float) -> subprocess.Popen[bytes]:
    import fcntl
    import termios

    _, slave = terminal

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return subprocess.Popen(
        [sys.executable, "-c", PROMPTER, str(timeout)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_terminal,  # a test of the terminal itself
    )


def _read_until(master: int, marker: bytes, timeout: float = 10.0) -> bytes:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            seen += os.read(master, 4096)
    return seen


def _echo_turned_off(slave: int, timeout: float = 10.0) -> bool:
    """Wait until the prompt has turned the terminal's echo off (getpass does it after writing)."""
    import termios

    deadline = time.monotonic() + timeout
    while termios.tcgetattr(slave)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_echo_is_restored_after_a_prompt_times_out(terminal: tuple[int, int]) -> None:
    import termios

    master, slave = terminal
    assert termios.tcgetattr(slave)[3] & termios.ECHO
    process = _prompt_in(terminal, 0.5)
    seen = _read_until(master, PASSPHRASE_VARIABLE.encode())
    assert process.wait(10) == 3
    assert b"no passphrase was typed within 0.5 s" in seen
    assert termios.tcgetattr(slave)[3] & termios.ECHO


def test_echo_is_restored_after_ctrl_c_at_the_prompt(terminal: tuple[int, int]) -> None:
    import termios

    master, slave = terminal
    process = _prompt_in(terminal, 30)
    _read_until(master, b"Passphrase: ")
    assert _echo_turned_off(slave)
    os.write(master, b"\x03")  # Ctrl-C, through the terminal's line discipline
    assert process.wait(10) == 130
    assert termios.tcgetattr(slave)[3] & termios.ECHO


def test_a_typed_passphrase_is_read_without_echo(terminal: tuple[int, int]) -> None:
    import hashlib

    master, slave = terminal
    process = _prompt_in(terminal, 30)
    _read_until(master, b"Passphrase: ")
    assert _echo_turned_off(slave)
    os.write(master, PASSPHRASE.encode() + b"\n")
    seen = _read_until(master, b"GOT")
    seen += _read_until(master, b"\n", timeout=2)
    assert process.wait(10) == 0
    assert hashlib.sha256(PASSPHRASE.encode()).hexdigest()[:16].encode() in seen
    assert PASSPHRASE.encode() not in seen


def test_a_locked_file_keyring_message_names_it(path: Path) -> None:
    backend = keyring_at(path)
    with pytest.raises(KeyringLockedError, match="encrypted file keyring"):
        backend.set("x", "y")  # not unlocked: prepare() was never called


def test_no_passphrase_creates_nothing(path: Path) -> None:
    with pytest.raises(NoKeyringError, match="no passphrase"):
        store_at(path, "").set_raw("x", "y")
    assert not path.exists()
