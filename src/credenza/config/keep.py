"""The tokens this person asked the agent to keep fresh: a small per-user file in the user state
dir (never the shared config), read by the agent at start and whenever it is told of a change.

Each entry names the config file's path (so that the agent can open the workspace), the
workspace id, the application id, the environment and the scopes asked for. None of it is a
secret; it stays on this machine because the path is this person's own.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def keep_path() -> Path:
    """keep.toml beside the local state (0600 in a 0700 directory)."""
    from credenza import locations

    return Path(locations.keep_file())


@dataclass(frozen=True)
class Kept:
    """One token kept fresh: the workspace (by its config's real path and its id), the
    application id, the environment and the scopes asked for (empty: the environment's own)."""

    config: str
    workspace: str
    application: str
    environment: str
    scopes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """What names the entry in the agent (one per workspace, application, env, scopes)."""
        return "/".join([self.workspace, self.application, self.environment, " ".join(self.scopes)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "workspace": self.workspace,
            "application": self.application,
            "environment": self.environment,
            "scopes": list(self.scopes),
        }


class KeptTokens:
    """The keep file; ``path=None`` keeps the entries in memory (the demo, tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[Kept] = []

    def all(self) -> list[Kept]:
        if self.path is None:
            return list(self._memory)
        return read_kept(self.path)

    def add(self, entry: Kept) -> bool:
        """Keep ``entry``; False when it was kept already."""
        return self._change(lambda entries: [*entries, entry] if entry not in entries else entries)

    def remove(self, workspace: str, application: str, environment: str | None) -> list[Kept]:
        """Stop keeping the entries of an application (or one environment); what was removed."""
        gone: list[Kept] = []

        def drop(entries: list[Kept]) -> list[Kept]:
            for entry in entries:
                if (entry.workspace, entry.application) == (workspace, application) and (
                    environment is None or entry.environment == environment
                ):
                    gone.append(entry)
            return [entry for entry in entries if entry not in gone]

        self._change(drop)
        return gone

    def _change(self, edit: Any) -> bool:
        if self.path is None:
            before = list(self._memory)
            self._memory = list(edit(before))
            return self._memory != before
        import filelock
        import tomli_w

        from credenza.config.files import private_directory, write_atomic
        from credenza.errors import ConfigWriteError

        private_directory(self.path.parent)
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            with filelock.FileLock(lock, timeout=5, mode=0o600):
                before = read_kept(self.path)
                after = list(edit(before))
                if after == before:
                    return False
                data = {"kept": [entry.to_dict() for entry in after]}
                write_atomic(self.path, tomli_w.dumps(data).encode("utf-8"))
        except filelock.Timeout:
            raise ConfigWriteError(
                f"{self.path} is locked by another credenza; nothing was changed",
                hint="try again",
            ) from None
        except OSError as exc:
            raise ConfigWriteError(
                f"cannot write {self.path}: {exc.strerror}; nothing was changed"
            ) from None
        return True


def read_kept(path: Path) -> list[Kept]:
    """The entries of the keep file (standard library only: the agent reads it at start). A
    missing or damaged file, or a damaged entry, keeps nothing: it is only a convenience."""
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        data = tomllib.loads(path.read_text("utf-8"))
    found = data.get("kept")
    entries: list[Kept] = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, dict):
            continue
        texts = [item.get(name) for name in ("config", "workspace", "application", "environment")]
        scopes = item.get("scopes", [])
        if not all(isinstance(text, str) and text for text in texts) or not isinstance(
            scopes, list
        ):
            continue
        if not all(isinstance(scope, str) for scope in scopes):
            continue
        config, workspace, application, environment = (str(text) for text in texts)
        entries.append(
            Kept(
                os.path.realpath(config),
                workspace,
                application,
                environment,
                tuple(sorted(set(scopes))),
            )
        )
    return entries
