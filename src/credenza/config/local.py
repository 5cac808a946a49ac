"""What one person's machine knows about a config it may share with a team through git: when
this person stored each secret, resets under way, token refreshes that failed, and their own
settings. None of it goes into the shared file, and none of it is a secret.

A little over 400 lines: the local state file and the settings file share the atomic, locked
read-modify-write and the parsing of typed values.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
import tomli_w

from credenza.config.files import config_directory, resolve_path
from credenza.config.model import Settings
from credenza.errors import ConfigError
from credenza.next_steps import step


def state_path() -> Path:
    from credenza import locations

    return Path(locations.local_state_file())


def user_settings_path() -> Path:
    from credenza import locations

    return Path(locations.user_settings_file())


class LocalState:
    """This person's state for one config: when they stored each environment's secret, the
    resets under way, the refreshes that failed. ``path=None`` keeps it in memory (the demo,
    which must touch nothing of the user's). Every process of the person (dashboard, CLI, cron)
    reads and writes one file: changes are made under a lock on the file read afresh."""

    def __init__(self, path: Path | None, config_path: str) -> None:
        self.path = path
        # One table per workspace, named by its id (join_workspace); until the config has one,
        # by a hash of its real path (no path in the file), as every table was before ids.
        self._by_path = hashlib.sha256(os.path.realpath(config_path).encode()).hexdigest()[:24]
        self._table = self._by_path
        self._data: dict[str, Any] | None = None
        # The file's identity when read: write_atomic replaces the inode on every write, so a
        # new inode (or mtime) means another process wrote it.
        self._seen: tuple[int, int, int] | None = None

    def join_workspace(self, workspace_id: str) -> None:
        """Keep this config's state under its workspace id from now on (a moved config keeps
        it); the table its path named before, if any, moves there once."""
        table = f"workspace-{workspace_id}"
        if table == self._table:
            return
        self._table = table
        data = self._load()
        if self._by_path not in data:
            return

        def adopt(everything: dict[str, Any]) -> None:
            old = everything.pop(self._by_path, None)
            if isinstance(old, dict) and table not in everything:
                everything[table] = old

        self._change_all(adopt)

    def keyring_names_moved(self, keyring: str) -> bool:
        """True once this workspace's entries in ``keyring`` ("auto", "file") were moved from
        the names before workspace ids (services/migration.py): once per keyring and machine."""
        done = self._load().get(self._table, {}).get(_MOVED)
        return isinstance(done, list) and _keyring_kind(keyring) in {
            _keyring_kind(str(kind)) for kind in done
        }

    def record_keyring_names_moved(self, keyring: str) -> None:
        def record(table: dict[str, Any]) -> None:
            done = table.get(_MOVED)
            table[_MOVED] = sorted(
                {*(done if isinstance(done, list) else []), _keyring_kind(keyring)}
            )

        self._change(record)

    def secret_set_at(self, app_id: str, environment: str) -> datetime | None:
        value = self._load().get(self._table, {}).get(f"{app_id}/{environment}")
        return value if isinstance(value, datetime) else None

    def record_secret(self, app_id: str, environment: str, when: datetime) -> None:
        self._change(lambda table: table.__setitem__(f"{app_id}/{environment}", when))

    def forget_secret(self, app_id: str, environment: str) -> None:
        self._change(lambda table: table.pop(f"{app_id}/{environment}", None))

    def forget_all(self) -> None:
        """Everything this person's machine knows about this config (`credenza forget --all`)."""
        if self._table in self._load():
            self._change(lambda table: table.clear())

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
        self._change_all(lambda data: edit(data.setdefault(self._table, {})))

    def _change_all(self, edit: Any) -> None:
        if self.path is None:
            edit(self._load())
            return
        import filelock

        from credenza.config.files import private_directory, write_atomic

        # Read, edit and write under one lock, the file read afresh inside it: the dashboard,
        # a CLI call and a cron job each change their own part without undoing another's.
        with contextlib.suppress(ConfigError, OSError, filelock.Timeout):
            private_directory(self.path.parent)
            lock = self.path.with_name(self.path.name + ".lock")
            with filelock.FileLock(lock, timeout=5, mode=0o600):
                self._data = None
                data = self._load()
                edit(data)
                write_atomic(self.path, tomli_w.dumps(data).encode("utf-8"))
                self._seen = self._stat()


_RESETS = "resets-under-way"
_MOVED = "keyring-names-moved"
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
    overrides = read_user_settings(path)
    if not overrides:
        return settings
    try:
        merged = {**msgspec.to_builtins(settings), **overrides}
        if merged.get("ca_bundle") == SYSTEM_TRUST:
            merged.pop("ca_bundle")  # this person chose the system's trust store
        return msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        raise _unusable(path, exc) from None


def read_user_settings(path: Path | None) -> dict[str, Any]:
    """This person's ``[settings]`` (empty when there is no file). Parsed once per state of the
    file: opening a workspace asks three times (the keyring, where each setting came from, the
    config), and every reload or edit asks again."""
    if path is None:
        return {}
    try:
        info = path.stat()
    except OSError:
        return {}
    if not stat.S_ISREG(info.st_mode):
        return {}
    stamp = (str(path), info.st_ino, info.st_mtime_ns, info.st_size)
    if _read_settings[0] != stamp:
        try:
            found = tomllib.loads(path.read_text("utf-8")).get("settings", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise _unusable(path, exc) from None
        if not isinstance(found, dict):
            raise _unusable(path, "[settings] is not a table")
        _read_settings[:] = [stamp, found]
    return dict(_read_settings[1])


# The last settings file read: (path, inode, mtime, size) and its [settings]. A write replaces
# the file (write_atomic: a new inode), so a changed file is never answered from here.
_read_settings: list[Any] = [None, {}]


def _unusable(path: Path | None, why: object) -> ConfigError:
    return ConfigError(
        f"{path} (your own settings) cannot be used: {why}",
        hint="fix it or remove it; the shared config was not changed",
    )


# -- machine settings: this machine's facts, kept in this person's settings file -----------------

#: The settings that describe this machine rather than the team's applications. Setters write
#: them to the per-user file only; a shared config may still carry them (older versions wrote
#: them there), and they count from there only where this person set nothing.
MACHINE_SETTINGS = ("keyring", "keyring_timeout", "agent", "ca_bundle", "allow_plaintext_keyring")
MachineSetting = Literal[
    "keyring", "keyring_timeout", "agent", "ca_bundle", "allow_plaintext_keyring"
]
#: ``ca_bundle`` in the per-user file meaning "the system's trust store", overriding a shared path.
SYSTEM_TRUST = "system"
SettingOrigin = Literal["yours", "config", "default"]


@dataclass(frozen=True)
class SettingSource:
    """Where one machine setting's value comes from: this person's file, the shared config (which
    a teammate may have written for their own machine) or credenza's default."""

    name: str
    value: Any
    origin: SettingOrigin
    path: Path | None

    def describe(self) -> str:
        """``keyring = "file"`` from the shared config /x/credenza.toml, in the user's words."""
        where = {
            "yours": f"your own settings {self.path}",
            "config": f"the shared config {self.path}",
            "default": "credenza's default",
        }[self.origin]
        return f"{self.name} = {_toml_value(self.value)} (from {where})"


def machine_setting_sources(
    shared: Settings, config_path: Path, user_path: Path | None
) -> dict[str, SettingSource]:
    """Each machine setting's value and origin. A shared value equal to the default counts as
    the default: it changes nothing, so nobody needs telling where it came from."""
    mine = read_user_settings(user_path)
    default = Settings()
    sources: dict[str, SettingSource] = {}
    for name in MACHINE_SETTINGS:
        if name in mine:
            sources[name] = SettingSource(name, mine[name], "yours", user_path)
        elif getattr(shared, name) != getattr(default, name):
            sources[name] = SettingSource(name, getattr(shared, name), "config", config_path)
        else:
            sources[name] = SettingSource(name, getattr(default, name), "default", None)
    return sources


def set_user_settings(path: Path, **values: Any) -> None:
    """Write ``values`` into this person's ``[settings]`` (None removes one), under a lock, the
    file read afresh and written atomically; the shared config is never touched."""
    import filelock

    from credenza.config.files import private_directory, write_atomic

    private_directory(path.parent)
    lock = path.with_name(path.name + ".lock")
    try:
        with filelock.FileLock(lock, timeout=5, mode=0o600):
            data: dict[str, Any] = {}
            if path.is_file():
                try:
                    data = tomllib.loads(path.read_text("utf-8"))
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                    raise _unusable(path, exc) from None
            section = data.get("settings")
            if not isinstance(section, dict):
                section = data["settings"] = {}
            for name, value in values.items():
                if value is None:
                    section.pop(name, None)
                else:
                    section[name] = value
            # The merged result must load, so a bad value never leaves an unusable file.
            check = {key: value for key, value in section.items() if key != "ca_bundle"}
            msgspec.convert(check, Settings)
            write_atomic(path, tomli_w.dumps(data).encode("utf-8"))
    except filelock.Timeout:
        raise ConfigError(
            f"{path} (your own settings) is locked by another credenza", hint="try again"
        ) from None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"not saved: {exc}", hint="nothing was changed") from None


def _toml_value(value: Any) -> str:
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def check_ca_bundle(settings: Settings, config_path: Path, user_path: Path | None) -> None:
    """A ``ca_bundle`` that is no file here is a config error naming where it was set and, when
    the shared config set it (a teammate's path), the command that overrides it for this person."""
    value = settings.ca_bundle
    # A relative path is the config directory's, as where the bundle is read (config/files.py).
    if value is None or os.path.isfile(resolve_path(value, config_directory(config_path))):
        return
    source = machine_setting_sources(settings, config_path, user_path)["ca_bundle"]
    if source.origin == "config":
        raise ConfigError(
            f"{source.describe()}: no such file on this machine",
            hint="point it at your own copy for yourself with `{0}`, or use the system's trust "
            "store: `{1}`",
            next_steps=(
                step("set_setting", None, None, "ca_bundle", "PATH"),
                step("set_setting", None, None, "ca_bundle", "system"),
            ),
        )
    raise ConfigError(
        f"{source.describe()}: no such file (a PEM file of CA certificates)",
        hint="fix the path with `{0}`",
        next_steps=(step("set_setting", None, None, "ca_bundle", "PATH"),),
    )


def _keyring_kind(name: str) -> str:
    """ "auto" is the older name of "system": one desktop keyring, moved once."""
    return "system" if name == "auto" else name
