"""The TOML config store: validated load, atomic locked save, conflict detection, unknown keys kept.

The file helpers it saves with (atomic writes, the lock) are in config/files.py. Over 400 lines
because parsing, the key paths of its errors and the carrying of unknown keys are one concept:
the file format this module owns.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import sys
import tomllib
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import tomli_w

from credenza.config.cache import ParsedConfigCache
from credenza.config.files import locked, write_atomic
from credenza.config.model import CONFIG_VERSION, Config, new_workspace_id, share_repeated_text
from credenza.errors import (
    ConfigConflictError,
    ConfigError,
    ConfigSchemaError,
    ConfigSyntaxError,
    ConfigWriteError,
    ValidationError,
)

_TOML_POSITION = re.compile(r"^(?P<detail>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_EOF = re.compile(r"^(?P<detail>.*) \(at end of document\)$")
_MSGSPEC_ERROR = re.compile(r"^(?P<detail>.*) - at `\$(?P<path>.*)`$", re.DOTALL)
_PATH_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+|\.\.\.)\]")
_FIELD_ERROR = re.compile(r"^@(?P<field>\w+): (?P<detail>.*)$", re.DOTALL)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_config(data: bytes, path: str = "<config>") -> tuple[Config, dict[str, Any]]:
    """Parse and validate config bytes; return the typed config and the raw tables.

    Raises ConfigSyntaxError (with line and column) or ConfigSchemaError (with the key path).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigSyntaxError(path, line, column, "not valid UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if match := _TOML_POSITION.match(message):
            line, column = int(match["line"]), int(match["col"])
            detail = match["detail"]
        else:
            line = text.count("\n") + 1
            column = len(text) - text.rfind("\n")
            detail = match["detail"] if (match := _TOML_EOF.match(message)) else message
        raise ConfigSyntaxError(path, line, column, detail) from None

    version = raw.get("version", CONFIG_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > CONFIG_VERSION:
        raise ConfigSchemaError(
            path, "version", f"{version} was written by a newer credenza; upgrade credenza"
        )
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        key_path, detail = _explain(raw, str(exc))
        raise ConfigSchemaError(path, key_path or "(top level)", detail) from None
    _check_unique(config, path)
    return config, raw


def dump_config(config: Config, raw: dict[str, Any] | None = None) -> bytes:
    """Serialise a config to TOML, carrying over keys from ``raw`` that credenza does not know."""
    data = msgspec.to_builtins(config, builtin_types=(datetime,))
    # Empty top-level tables are noise in a hand-editable file; TOML has no null.
    data = {key: value for key, value in data.items() if value != {} and value is not None}
    if raw:
        data = _carry_unknown(data, raw, Config)
    return tomli_w.dumps(data).encode("utf-8")


class ConfigStore:
    """Owns one config file. Load validates; save is atomic, locked, 0600, and refuses conflicts."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 10.0,
        cache: ParsedConfigCache | None = None,
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.cache = cache or ParsedConfigCache()
        self.warnings: list[str] = []
        self._raw: dict[str, Any] | None = {}  # None: not parsed yet (the config came from cache)
        self._fingerprint: str | None = None
        # The bytes this store last parsed or wrote, with their raw tables (never changed here):
        # a load of the same bytes converts a fresh Config from those (a sixteenth of the TOML
        # parse; datetimes keep their offsets) instead of parsing again. A dashboard reloads
        # after every change it makes.
        self._last: tuple[bytes, dict[str, Any]] | None = None

    def load(self) -> Config:
        """Read and validate the file; a missing file is an empty config."""
        data = self._read()
        self.warnings = self._permission_warnings()
        if data is None:
            self._raw, self._fingerprint = {}, None
            return Config()
        digest = _digest(data)
        raw: dict[str, Any] | None = None
        if self._last is not None and self._last[0] == data:
            raw = self._last[1]
            config = msgspec.convert(raw, Config)  # checked when those bytes were parsed
        elif (cached := self.cache.get(self.path, data, digest)) is not None:
            config = cached
        else:
            config, raw = parse_config(data, str(self.path))
            self.cache.put(self.path, data, digest, config)
            self._last = (data, raw)
        self._raw, self._fingerprint = raw, digest
        return share_repeated_text(config)

    def save(self, config: Config) -> None:
        """Write ``config`` atomically, unless the file changed on disk since it was loaded."""
        with self._locked():
            self._save_locked(config)

    @functools.cached_property
    def lock_path(self) -> Path:
        """The save lock: outside the config's directory, so a config kept in git gains no
        untracked file; one per config file (its real path), in the user's runtime or cache dir."""
        from credenza import locations

        real = os.path.realpath(self.path)
        name = hashlib.sha256(real.encode()).hexdigest()[:24]
        return Path(locations.config_lock_dir()) / f"{name}.lock"

    @property
    def digest(self) -> str | None:
        """The content hash of the file as last read or written (None: no file yet)."""
        return self._fingerprint

    @contextlib.contextmanager
    def edit(self, *, expected: str | None = None) -> Iterator[Config]:
        """Load, let the caller change the config, save; all under the lock (no lost updates).

        ``expected``: the hash the caller's view was built from (a dashboard form); if the file
        changed since, nothing is saved.
        """
        with self._locked():
            config = self.load()
            if expected is not None and self._fingerprint != expected:
                raise ConfigConflictError(
                    f"{self.path} was changed on disk by another credenza since this was opened; "
                    "your change was not saved",
                    hint="reopen it to see the other change, then redo yours",
                )
            yield config
            self._save_locked(config)

    # -- internals ------------------------------------------------------------------------------

    def _save_locked(self, config: Config) -> None:
        current = self._read()
        if (None if current is None else _digest(current)) != self._fingerprint:
            raise ConfigConflictError(
                f"{self.path} changed on disk since credenza read it; your change was not saved",
                hint="reload (run the command again, or press r in the dashboard) and redo it",
            )
        if config.workspace is None:
            # Every saved config carries its identity: the keyring entries of the applications
            # it is about to hold are named by it.
            config.workspace = new_workspace_id()
        if self._raw is None:  # loaded from the cache: the unknown keys are in the file
            self._raw = tomllib.loads(current.decode("utf-8")) if current is not None else {}
        data = dump_config(config, self._raw)
        try:
            # Nothing credenza writes may fail to load: check the bytes with the loader itself.
            _, raw = parse_config(data, str(self.path))
        except ConfigError as exc:
            raise ValidationError(
                f"that change would leave a config credenza cannot load ({exc.message}); "
                "nothing was changed"
            ) from None
        target = self._target()
        self._ensure_directory()
        self._remove_stale_temp_files()
        write_atomic(target, data)
        self._raw, self._fingerprint = raw, _digest(data)
        self._last = (data, raw)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure_directory()
        with locked(self.lock_path, self.lock_timeout):
            yield

    def _target(self) -> Path:
        """The file a save replaces: the config itself, or the file its symlink points to."""
        target = Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(target.stat().st_mode):
                raise ConfigError(
                    f"{self.path} is not a regular file; credenza will not replace it",
                    hint="point --config or CREDENZA_CONFIG at a regular file",
                )
        return target

    def _read(self) -> bytes | None:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror}") from None
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{self.path} is a directory, not a config file")
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"{self.path} is not a regular file (a device, pipe or socket)",
                hint="point --config or CREDENZA_CONFIG at a regular file",
            )
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise ConfigError(f"{self.path} is a directory, not a config file") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror}") from None

    def _ensure_directory(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            try:
                directory.mkdir(parents=True, mode=0o700)
                directory.chmod(0o700)
            except OSError as exc:
                raise ConfigWriteError(
                    f"cannot create {directory}: {exc.strerror}; nothing was changed"
                ) from None

    def _remove_stale_temp_files(self) -> None:
        # Only a writer holding the lock creates temp files, so any found under the lock are
        # left over from a save that was killed.
        target = self._target()
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _permission_warnings(self) -> list[str]:
        if sys.platform == "win32":
            return []
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return []
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            return [
                f"{self.path} is writable by other users; anyone who can edit it can point your "
                f"credentials at another server (chmod 600 {self.path})"
            ]
        return []


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_unique(config: Config, path: str) -> None:
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for index, application in enumerate(config.applications):
        folded = application.name.casefold()
        if folded in names:
            raise ConfigSchemaError(
                path,
                f"applications[{index}].name",
                f"duplicate name {application.name!r} (names differ in more than case; "
                f"also applications[{names[folded]}])",
            )
        names[folded] = index
        if application.id in seen:
            raise ConfigSchemaError(
                path,
                f"applications[{index}].id",
                f"duplicate id {application.id!r} (also applications[{seen[application.id]}])",
            )
        seen[application.id] = index
        contract_ids: set[str] = set()
        for number, contract in enumerate(application.contracts):
            if contract.id in contract_ids:
                raise ConfigSchemaError(
                    path,
                    f"applications[{index}].contracts[{number}].id",
                    f"duplicate id {contract.id!r}",
                )
            contract_ids.add(contract.id)


# -- error paths ----------------------------------------------------------------------------------


def _explain(raw: dict[str, Any], message: str) -> tuple[str, str]:
    """Turn a msgspec error into (key path, detail), resolving ``[...]`` to the real dict key."""
    match = _MSGSPEC_ERROR.match(message)
    if not match:
        return "", message
    detail = match["detail"]
    key_path = _resolve_path(raw, Config, match["path"])
    if field_error := _FIELD_ERROR.match(detail):
        key_path = f"{key_path}.{field_error['field']}" if key_path else field_error["field"]
        detail = field_error["detail"]
    return key_path, detail


def _resolve_path(raw: Any, annotation: Any, path: str) -> str:
    parts: list[str] = []
    node, kind = raw, annotation
    for match in _PATH_SEGMENT.finditer(path):
        name, index = match.groups()
        kind = _unwrap_optional(kind)
        if name is not None:
            parts.append(f".{name}" if parts else name)
            kind = _struct_fields(kind).get(name, Any)
            node = node.get(name) if isinstance(node, dict) else None
        elif index == "...":
            args = typing.get_args(kind)
            value_kind = args[1] if len(args) == 2 else Any
            key = _first_bad_key(node, value_kind)
            if key is None:
                parts.append("[...]")
                node = None
            else:
                parts.append(f".{key}" if _BARE_KEY.match(key) else f"[{key!r}]")
                node = node[key]
            kind = value_kind
        else:
            parts.append(f"[{index}]")
            args = typing.get_args(kind)
            kind = args[0] if args else Any
            node = node[int(index)] if isinstance(node, list) else None
    return "".join(parts)


def _first_bad_key(node: Any, value_kind: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        try:
            msgspec.convert(value, value_kind)
        except msgspec.ValidationError:
            return str(key)
    return None


@functools.cache
def _struct_fields(kind: Any) -> dict[str, Any]:
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return {field.encode_name: field.type for field in msgspec.structs.fields(kind)}
    return {}


def _unwrap_optional(kind: Any) -> Any:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        members = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return members[0] if len(members) == 1 else kind
    return kind


# -- unknown keys ---------------------------------------------------------------------------------


def _carry_unknown(new: Any, old: Any, annotation: Any) -> Any:
    """Copy keys credenza does not model from the loaded tables into the ones it will write."""
    kind = _unwrap_optional(annotation)
    fields = _struct_fields(kind)
    if fields:
        if not (isinstance(new, dict) and isinstance(old, dict)):
            return new
        merged = dict(new)
        for key, old_value in old.items():
            if key not in fields:
                merged[key] = old_value
            elif key in new:
                merged[key] = _carry_unknown(new[key], old_value, fields[key])
        return merged
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is dict and isinstance(new, dict) and isinstance(old, dict) and len(args) == 2:
        return {
            key: _carry_unknown(value, old[key], args[1]) if key in old else value
            for key, value in new.items()
        }
    if origin is list and isinstance(new, list) and isinstance(old, list) and args:
        # Records in arrays of tables are matched by id, so reordering or removal is safe.
        # Records without an id (an SLA tier) are not matched: their unknown keys are not kept.
        old_by_id = {
            item["id"]: item
            for item in old
            if isinstance(item, dict) and item.get("id") is not None
        }
        return [
            _carry_unknown(item, old_by_id[item["id"]], args[0])
            if isinstance(item, dict) and item.get("id") in old_by_id
            else item
            for item in new
        ]
    return new
