"""Per-user preferences (the dashboard's theme) in a small TOML file beside the user's config."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path

import tomli_w

from credenza.errors import ConfigError


def default_preferences_path() -> Path:
    """The platform's user config directory (the same one as the default credenza.toml)."""
    from credenza import locations

    return Path(locations.preferences_file())


class Preferences:
    """What a person chose in the dashboard; ``path=None`` keeps it in memory only (tests).

    Unlike the config, these are one person's taste, never shared in git: a broken or missing
    file means the defaults, and a failed write is shrugged off (the choice lasts the session).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._values: dict[str, object] | None = None

    def _load(self) -> dict[str, object]:
        if self._values is None:
            self._values = {}
            if self.path is not None:
                with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                    self._values = dict(tomllib.loads(self.path.read_text(encoding="utf-8")))
        return self._values

    @property
    def theme(self) -> str | None:
        value = self._load().get("theme")
        return value if isinstance(value, str) and value else None

    def set_theme(self, name: str) -> None:
        values = self._load()
        if values.get("theme") == name:
            return
        values["theme"] = name
        self._save(values)

    def _save(self, values: dict[str, object]) -> None:
        if self.path is None:
            return
        from credenza.config.files import private_directory, write_atomic

        with contextlib.suppress(ConfigError):
            private_directory(self.path.parent)
            write_atomic(self.path, tomli_w.dumps(values).encode("utf-8"))
