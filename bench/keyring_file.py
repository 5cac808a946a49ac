"""A plaintext file keyring for benchmarks only: separate processes must share entries, and a
headless machine has no Secret Service. credenza classifies it as plaintext (by its name), so the
benchmark config must opt in with allow_plaintext_keyring, exactly as a user would have to."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class PlaintextFileKeyring(KeyringBackend):
    priority = 0  # type: ignore[assignment]
    _cache: tuple[float, dict[str, str]] | None = None

    @property
    def path(self) -> Path:
        return Path(os.environ["BENCH_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        # Parsed once per change, as a keyring daemon keeps its collection in memory: the
        # benchmarks should measure credenza, not this file's JSON parser.
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, json.loads(self.path.read_text()))
        return dict(self._cache[1])

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\x1f{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\x1f{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\x1f{username}", None) is None:
            raise PasswordDeleteError(username)
        self.path.write_text(json.dumps(data))
