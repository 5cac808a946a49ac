"""What one person's machine knows about a config it may share with a team through git: when
this person stored each secret, resets under way, token refreshes that failed, and their own
settings. None of it goes into the shared file, and none of it is a secret."""

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
    """This person's state for one config: when they stored each environment's secret, the
    resets under way, the refreshes that failed. ``path=None`` keeps it in memory (the demo,
    which must touch nothing of the user's). Every process of the person (dashboard, CLI, cron)
    reads and writes one file: changes are made under a lock on the file read afresh."""

    def __init__(self, path: Path | None, config_path: str) -> None:
        self.path = path
        # One table per config file, named by a hash of its real path: no path in the file.
        self._table = hashlib.sha256(os.path.realpath(config_path).encode()).hexdigest()[:24]
        self._data: dict[str, Any] | None = None
        # The file's identity when read: write_atomic replaces the inode on every write, so a
        # new inode (or mtime) means another process wrote it.
        self._seen: tuple[int, int, int] | None = None

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
        return set(self._entries(_RESETS))

    def reset_started(self, app_id: str, environment: str, when: datetime) -> None:
        self._put(_RESETS, app_id, environment, when)

    def reset_finished(self, app_id: str, environment: str) -> None:
        self._drop(_RESETS, app_id, environment)

    # The version of each team-store secret last seen, and when that secret was written: a
    # cached token is found under it while the store cannot be reached (its fingerprint holds
    # the version), and the dashboard shows it without a network call.

    def team_seen(self, app_id: str, environment: str) -> tuple[int, datetime | None] | None:
        value = self._entries(_TEAM_VERSIONS).get((app_id, environment))
        if not isinstance(value, dict) or not isinstance(value.get("version"), int):
            return None
        at = value.get("at")
        return value["version"], at if isinstance(at, datetime) else None

    def saw_team_version(
        self, app_id: str, environment: str, version: int, at: datetime | None
    ) -> None:
        if self.team_seen(app_id, environment) != (version, at):
            entry: dict[str, Any] = {"version": version}
            if at is not None:
                entry["at"] = at
            self._put(_TEAM_VERSIONS, app_id, environment, entry)

    # Token refreshes that failed (the dashboard's auto-refresh, a script's `credenza token`),
    # kept until one succeeds: `credenza status` in another terminal or a cron job says so too.

    def refresh_failures(self) -> dict[tuple[str, str], tuple[str, datetime]]:
        return {
            where: (str(value.get("message", "")), value["at"])
            for where, value in self._entries(_REFRESHES).items()
            if isinstance(value, dict) and isinstance(value.get("at"), datetime)
        }

    def refresh_failed(self, app_id: str, environment: str, message: str, when: datetime) -> None:
        self._put(_REFRESHES, app_id, environment, {"message": message[:300], "at": when})

    def refresh_worked(self, app_id: str, environment: str) -> None:
        self._drop(_REFRESHES, app_id, environment)

    def reconcile_resets(self, found: set[tuple[str, str]], read_at: datetime) -> None:
        """What the keyring held as pending when read at ``read_at`` is the truth: a crash
        between the mark and the keyring write leaves a mark too many, and one from before
        marks existed leaves none. A mark made after the read began (a reset starting
        meanwhile) is kept: the read could not have seen its pending secret yet."""

        def stale(where: tuple[str, str], when: Any) -> bool:
            return where not in found and not (isinstance(when, datetime) and when >= read_at)

        marks = self._entries(_RESETS)
        if not any(stale(where, when) for where, when in marks.items()) and found <= set(marks):
            return  # most checks: nothing to write

        def edit(table: dict[str, Any]) -> None:
            section = _section(table, _RESETS)  # read afresh under the lock
            for key, when in list(section.items()):
                if stale(_split(key), when):
                    del section[key]
            for app_id, environment in found:
                section.setdefault(f"{app_id}/{environment}", read_at)

        self._change(edit)

    # One section (resets, refreshes) of this config's table: entries by (application, env).

    def _entries(self, section: str) -> dict[tuple[str, str], Any]:
        found = self._load().get(self._table, {}).get(section, {})
        if not isinstance(found, dict):
            return {}
        return {_split(key): value for key, value in found.items() if "/" in key}

    def _put(self, section: str, app_id: str, environment: str, value: Any) -> None:
        self._change(
            lambda table: _section(table, section).__setitem__(f"{app_id}/{environment}", value)
        )

    def _drop(self, section: str, app_id: str, environment: str) -> None:
        if (app_id, environment) in self._entries(section):  # most calls: nothing to write
            self._change(
                lambda table: _section(table, section).pop(f"{app_id}/{environment}", None)
            )

    def _load(self) -> dict[str, Any]:
        if self.path is not None and self._data is not None and self._stat() != self._seen:
            self._data = None  # another process (the CLI beside the dashboard) wrote since
        if self._data is None:
            self._data = {}
            if self.path is not None:
                self._seen = self._stat()
                # Only a convenience: a damaged file means "this person stored nothing yet".
                with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                    self._data = tomllib.loads(self.path.read_text("utf-8"))
        return self._data

    def _stat(self) -> tuple[int, int, int] | None:
        assert self.path is not None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _change(self, edit: Any) -> None:
        if self.path is None:
            edit(self._load().setdefault(self._table, {}))
            return
        import filelock

        from credenza.config.store import private_directory, write_atomic

        # Read, edit and write under one lock, the file read afresh inside it: the dashboard,
        # a CLI call and a cron job each change their own part without undoing another's.
        with contextlib.suppress(ConfigError, OSError, filelock.Timeout):
            private_directory(self.path.parent)
            lock = self.path.with_name(self.path.name + ".lock")
            with filelock.FileLock(lock, timeout=5, mode=0o600):
                self._data = None
                data = self._load()
                edit(data.setdefault(self._table, {}))
                write_atomic(self.path, tomli_w.dumps(data).encode("utf-8"))
                self._seen = self._stat()


_RESETS = "resets-under-way"
_REFRESHES = "refreshes-failed"
_TEAM_VERSIONS = "team-versions"


def _section(table: dict[str, Any], name: str) -> dict[str, Any]:
    section = table.get(name)
    if not isinstance(section, dict):
        section = table[name] = {}
    return section


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
