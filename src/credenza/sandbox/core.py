"""What every area of the sandbox's state shares: the lock, the clock, the randomness, saving."""

from __future__ import annotations

import random
import secrets
import string
import threading
from typing import Any

_URLSAFE = string.ascii_letters + string.digits + "-_"


class Randomness:
    """secrets' randomness, or a seeded generator so that tests and screenshots repeat exactly."""

    def __init__(self, seed: int | None = None) -> None:
        # Seeded only when asked for (tests, screenshots); never for a sandbox someone relies on.
        self._seeded = random.Random(seed) if seed is not None else None  # noqa: S311

    def hex(self, nbytes: int) -> str:
        if self._seeded is None:
            return secrets.token_hex(nbytes)
        return self._seeded.randbytes(nbytes).hex()

    def urlsafe(self, length: int) -> str:
        if self._seeded is None:
            return secrets.token_urlsafe(length)[:length]
        return "".join(self._seeded.choice(_URLSAFE) for _ in range(length))

    def key(self) -> bytes:
        return secrets.token_bytes(32) if self._seeded is None else self._seeded.randbytes(32)


class Core:
    """The parts each area's state class builds on; SandboxState (state.py) composes the areas
    and saves what outlives a restart."""

    random: Randomness
    clock: Any
    lock: threading.RLock

    def _persist(self) -> None:
        """Save the state file, if there is one (SandboxState knows what goes in it)."""
