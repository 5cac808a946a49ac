"""What one person's machine knows about a config it may share with a team through git: when
this person stored each secret, and their own settings. None of it goes into the shared file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import tomli_w

from credenza.config.model import Settings
from credenza.errors import ConfigError


def state_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("credenza", appauthor=False)) / "local.toml"


def user_settings_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("credenza", appauthor=False)) / "settings.toml"


class LocalState:
    """When this person stored the secret of each environment of one config; ``path=None``
    keeps it in memory (the demo, which must touch nothing of the user's)."""

    def __init__(self, path: Path | None, config_path: str) -> None:
        self.path = path
        # One table per config file, named by a hash of its real path: no path in the file.
        self._table = hashlib.sha256(os.path.realpath(config_path).encode()).hexdigest()[:24]
        self._data: dict[str, Any] | None = None

    def secret_set_at(self, app_id: str, environment: str) -> datetime | None:
        value = self._load().get(self._table, {}).get(f"{app_id}/{environment}")
        return value if isinstance(value, datetime) else None

    def record_secret(self, app_id: str, environment: str, when: datetime) -> None:
        self._change(lambda table: table.__setitem__(f"{app_id}/{environment}", when))

    def forget_secret(self, app_id: str, environment: str) -> None:
        self._change(lambda table: table.pop(f"{app_id}/{environment}", None))

    # A reset under way, marked before the provider's new secret goes into the keyring as
    # pending and cleared once it is stored as current: the dashboard's header counts an
    # unfinished reset from this, without a keyring read per environment.

    def unfinished_resets(self) -> set[tuple[str, str]]:
        marks = self._load().get(self._table, {}).get(_RESETS, {})
        if not isinstance(marks, dict):
            return set()
        return {_split(key) for key in marks if "/" in key}

    def reset_started(self, app_id: str, environment: str, when: datetime) -> None:
        self._change(lambda table: _marks(table).__setitem__(f"{app_id}/{environment}", when))

    def reset_finished(self, app_id: str, environment: str) -> None:
        if (app_id, environment) in self.unfinished_resets():
            self._change(lambda table: _marks(table).pop(f"{app_id}/{environment}", None))

    def reconcile_resets(self, found: set[tuple[str, str]], when: datetime) -> None:
        """What the keyring holds as pending is the truth: a crash between the mark and the
        keyring write leaves a mark too many, one between them the other way a mark too few."""
        if found == self.unfinished_resets():
            return

        def edit(table: dict[str, Any]) -> None:
            marks = _marks(table)
            for key in [key for key in marks if _split(key) not in found]:
                del marks[key]
            for app_id, environment in found:
                marks.setdefault(f"{app_id}/{environment}", when)

        self._change(edit)

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.path is not None:
                # Only a convenience: a damaged file means "this person stored nothing yet".
                with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                    self._data = tomllib.loads(self.path.read_text("utf-8"))
        return self._data

    def _change(self, edit: Any) -> None:
        if self.path is not None:
            self._data = None  # another process (a CLI call beside the dashboard) may have written
        data = self._load()
        table = data.setdefault(self._table, {})
        edit(table)
        if self.path is None:
            return
        from credenza.config.store import private_directory, write_atomic

        with contextlib.suppress(ConfigError):
            private_directory(self.path.parent)
            write_atomic(self.path, tomli_w.dumps(data).encode("utf-8"))


_RESETS = "resets-under-way"


def _marks(table: dict[str, Any]) -> dict[str, Any]:
    marks = table.get(_RESETS)
    if not isinstance(marks, dict):
        marks = table[_RESETS] = {}
    return marks


def _split(key: str) -> tuple[str, str]:
    app_id, _, environment = key.partition("/")
    return app_id, environment


def with_user_settings(settings: Settings, path: Path | None) -> Settings:
    """``settings`` from the shared file, overridden by this person's ``[settings]``."""
    if path is None or not path.is_file():
        return settings
    try:
        overrides = tomllib.loads(path.read_text("utf-8")).get("settings", {})
        merged = {**msgspec.to_builtins(settings), **overrides}
        return msgspec.convert(merged, Settings)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(
            f"{path} (your own settings) cannot be used: {exc}",
            hint="fix it or remove it; the shared config was not changed",
        ) from None
