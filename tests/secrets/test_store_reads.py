"""Keyring reads asked for by several threads at once go to the keyring together."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from credenza.secrets import SecretStore
from credenza.secrets.backend import Backend


class FirstCallWaits(Backend):
    """A keyring whose first read waits until told, and that records each read call."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def get_many(self, names: Sequence[str]) -> dict[str, str | None]:
        self.calls.append(list(names))
        if len(self.calls) == 1:
            self.release.wait(10)
        return {name: self.values.get(name) for name in names}

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_reads_asked_for_during_a_keyring_call_go_together_in_the_next() -> None:
    """A Secret Service answers one call at a time; a batch of names costs a fraction of as
    many calls. Reads asked for while one is in flight are one call after it, each still
    answered with what it asked for."""
    backend = FirstCallWaits()
    store = SecretStore(backend)
    for name in "abcde":
        backend.values[name] = name.upper()
    found: dict[str, str | None] = {}

    def read(name: str) -> None:
        found[name] = store.get_raw(name)

    first = threading.Thread(target=read, args=("a",))
    first.start()
    deadline = time.monotonic() + 10
    while not backend.calls and time.monotonic() < deadline:
        time.sleep(0.001)
    others = [threading.Thread(target=read, args=(name,)) for name in "bcde"]
    for thread in others:
        thread.start()
    # Every other read has asked (and waits for the call in flight) before it ends.
    while len(store._asked) < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    backend.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert found == {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    assert backend.calls[0] == ["a"]
    assert len(backend.calls) == 2
    assert sorted(backend.calls[1]) == ["b", "c", "d", "e"]


def test_a_ctrl_c_in_the_reading_thread_stays_in_that_thread() -> None:
    """The thread that makes the batch's call is interrupted (Ctrl-C): the reads it made the
    call for are asked again in a call of their own, and no other thread gets its interrupt."""
    backend = FirstCallWaits()
    backend.release.set()
    store = SecretStore(backend)
    backend.values.update({"a": "A", "b": "B"})
    reading_for_others = store._get_many
    calls = 0

    def interrupted_once(wanted: list[str]) -> dict[str, str | None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt
        return reading_for_others(wanted)

    store._get_many = interrupted_once  # type: ignore[method-assign]
    outcome: dict[str, str | BaseException | None] = {}

    def read(name: str) -> None:
        try:
            outcome[name] = store.get_raw(name)
        except BaseException as exc:  # the interrupt is recorded, not printed by the thread
            outcome[name] = exc

    threads = [threading.Thread(target=read, args=(name,)) for name in "ab"]
    with store._reading:  # both ask while a call is in flight: one batch for both
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(store._asked) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    interrupted = [name for name, got in outcome.items() if isinstance(got, KeyboardInterrupt)]
    assert len(interrupted) == 1
    other = "b" if interrupted == ["a"] else "a"
    assert outcome[other] == other.upper()
    assert calls == 2
