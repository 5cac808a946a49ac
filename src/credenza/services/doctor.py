"""`credenza doctor`'s checks of this machine (Python, config, settings, keyring, agent, shell
completion), one typed record per check; those over the network are in doctor_network.

Each check says what it found and, when something is wrong, what to do. No secret is read: the
keyring is checked with a read of an entry that holds none.

A little over 400 lines: the machine's checks share one record type and the order they print
in; the network's checks are in doctor_network.py.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from credenza.config.files import config_directory, resolve_path
from credenza.config.local import (
    check_ca_bundle,
    machine_setting_sources,
    read_user_settings,
    with_user_settings,
)
from credenza.config.model import Config
from credenza.config.store import ConfigStore
from credenza.errors import CredenzaError
from credenza.next_steps import NextStep, step
from credenza.secrets import SecretStore, names
from credenza.services.context import Clock, utc_now

if TYPE_CHECKING:
    from credenza.oauth.transport import HttpSettings

CheckKind = Literal[
    "python",
    "credenza",
    "config",
    "settings",
    "keyring",
    "agent",
    "team_store",
    "endpoint",
    "completion",
]
MINIMUM_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    """One line of the report: ``ok`` with what was found, or not and what to do (``fix``)."""

    kind: CheckKind
    subject: str
    ok: bool
    found: str
    fix: str | None = None  # in words; ``next_steps`` marked {0}, {1}…
    # Measured values, for --json: a keyring read or a probe (ms), a clock offset (s).
    elapsed_ms: float | None = None
    offset_seconds: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    next_steps: tuple[NextStep, ...] = ()


@dataclass(frozen=True)
class AgentState:
    """What the agent's socket said: its answer to a ping, and whether the socket file exists."""

    answer: dict[str, object] | None
    socket: Path
    socket_exists: bool


@dataclass
class Doctor:
    """The checks of one config on this machine; each piece may be swapped for a test."""

    config_path: Path
    user_settings: Path | None
    version: str
    clock: Clock = utc_now
    secrets: SecretStore | None = None
    http_settings: HttpSettings | None = None
    shell: str | None = None
    home: Path = field(default_factory=Path.home)
    agent: Callable[[], AgentState] | None = None

    async def run(self) -> list[Check]:
        checks = [self.python(), self.credenza()]
        config, loaded = self.config()
        checks += loaded
        if config is not None:
            checks += self.settings(config)
            checks.append(self.keyring(config))
        checks.append(self.agent_check(config))
        if config is not None and config.team is not None:
            import asyncio

            settings = self._probe_settings(config)
            from credenza.services.doctor_network import team_store_checks

            checks += await asyncio.to_thread(team_store_checks, config, settings)
        if config is not None:
            checks += await self.endpoints(config)
        checks.append(self.completion())
        return checks

    # -- the interpreter and credenza ---------------------------------------------------------

    def python(self) -> Check:
        found = f"Python {platform.python_version()} ({sys.executable})"
        if sys.version_info[:2] >= MINIMUM_PYTHON:
            return Check("python", "python", True, found)
        return Check("python", "python", False, found, fix="credenza needs Python 3.11 or newer")

    def credenza(self) -> Check:
        return Check("credenza", "credenza", True, f"credenza {self.version}")

    # -- the config and this person's settings ------------------------------------------------

    def config(self) -> tuple[Config | None, list[Check]]:
        store = ConfigStore(self.config_path)
        try:
            config = store.load()
        except CredenzaError as exc:
            # ConfigSyntaxError / ConfigSchemaError carry the file, line and key path.
            return None, [
                Check(
                    "config",
                    str(self.config_path),
                    False,
                    exc.message,
                    exc.hint,
                    next_steps=exc.next_steps,
                )
            ]
        found = (
            f"{self.config_path} loads ({_count(len(config.applications), 'application')})"
            if self.config_path.exists()
            else f"{self.config_path} does not exist yet (an empty workspace)"
        )
        checks = [Check("config", str(self.config_path), True, found)]
        checks += [
            Check("config", str(self.config_path), False, warning, "chmod 600 the file")
            for warning in store.warnings
        ]
        try:
            read_user_settings(self.user_settings)
        except CredenzaError as exc:
            checks.append(
                Check(
                    "settings",
                    str(self.user_settings),
                    False,
                    exc.message,
                    exc.hint,
                    next_steps=exc.next_steps,
                )
            )
            return None, checks
        return config, checks

    def settings(self, config: Config) -> list[Check]:
        """Machine settings found in the shared config (a teammate's machine, or an older
        credenza's writes) and a CA bundle that is not on this machine."""
        sources = machine_setting_sources(config.settings, self.config_path, self.user_settings)
        checks: list[Check] = []
        for source in sources.values():
            if source.origin != "config":
                continue
            checks.append(
                Check(
                    "settings",
                    source.name,
                    False,
                    f"{source.describe()}: a machine setting in a file the team shares",
                    fix="move it to your own settings (`{0}`), then delete it from [settings] "
                    f"in {self.config_path}",
                    next_steps=(_setter(source.name, source.value),),
                )
            )
        try:
            check_ca_bundle(
                with_user_settings(config.settings, self.user_settings),
                self.config_path,
                self.user_settings,
            )
        except CredenzaError as exc:
            checks.append(
                Check(
                    "settings", "ca_bundle", False, exc.message, exc.hint, next_steps=exc.next_steps
                )
            )
        if not checks:
            checks.append(
                Check("settings", "settings", True, "machine settings are yours or the defaults")
            )
        return checks

    # -- the keyring ----------------------------------------------------------------------------

    def keyring(self, config: Config) -> Check:
        settings = with_user_settings(config.settings, self.user_settings)
        store = self.secrets
        if store is None:
            source = machine_setting_sources(config.settings, self.config_path, self.user_settings)[
                "keyring"
            ]
            store = SecretStore(
                timeout=settings.keyring_timeout,
                allow_plaintext=settings.allow_plaintext_keyring,
                keyring=settings.keyring,
                keyring_from_config=str(self.config_path) if source.origin == "config" else None,
            )
        started = time.perf_counter()
        try:
            label = store.backend.label
            prepared = time.perf_counter()
            # An entry that never holds a secret: the read proves the keyring is unlocked and
            # answers, and measures how long a read takes, without reading anything secret.
            store.get_raw(names.DOCTOR_PROBE)
        except CredenzaError as exc:
            return Check(
                "keyring", "keyring", False, exc.message, exc.hint, next_steps=exc.next_steps
            )
        elapsed = (time.perf_counter() - prepared) * 1000
        return Check(
            "keyring",
            "keyring",
            True,
            f"{label}, unlocked; a read takes {elapsed:.0f} ms"
            + (
                f" (opening it {(prepared - started) * 1000:.0f} ms)"
                if prepared - started > 0.05
                else ""
            ),
            elapsed_ms=round(elapsed, 1),
        )

    # -- the agent ------------------------------------------------------------------------------

    def agent_check(self, config: Config | None) -> Check:
        state = (self.agent or _agent_state)()
        setting = (
            with_user_settings(config.settings, self.user_settings).agent
            if config is not None
            else "auto"
        )
        off = (
            "CREDENZA_AGENT=off"
            if os.environ.get("CREDENZA_AGENT") == "off"
            else 'agent = "off"'
            if setting == "off"
            else None
        )
        answer = state.answer
        if answer is not None:
            idle = answer.get("idle_timeout")
            idle_text = f"{float(idle) / 60:g} min" if isinstance(idle, int | float) else "?"
            return Check(
                "agent",
                "agent",
                True,
                f"running (pid {answer.get('pid')}, {_count(answer.get('tokens'), 'token')}, "
                "exits after "
                f"{idle_text} idle) at {state.socket}",
                extra={"pid": answer.get("pid"), "idle_timeout": idle},
            )
        if state.socket_exists:
            return Check(
                "agent",
                "agent",
                False,
                f"a stale socket at {state.socket}: nothing answers there",
                fix=f"remove it (rm {state.socket}); the next `credenza token` starts a fresh "
                "agent, or start one with `{0} &`",
                next_steps=(step("start_agent"),),
            )
        found = (
            f"off ({off}): every `credenza token` reads the keyring"
            if off is not None
            else "not running; the next `credenza token` starts it"
        )
        return Check("agent", "agent", True, found)

    # -- provider endpoints ---------------------------------------------------------------------

    async def endpoints(self, config: Config) -> list[Check]:
        from credenza.services.doctor_network import endpoints_in_use, probe_endpoints

        return await probe_endpoints(
            endpoints_in_use(config, config_directory(self.config_path)),
            lambda: self._probe_settings(config),
            lambda: self.clock(),
        )

    def _probe_settings(self, config: Config) -> HttpSettings:
        """This person's network settings, cut to one try and a short deadline (a check)."""
        from credenza.oauth.transport import HttpSettings
        from credenza.services.doctor_network import PROBE_DEADLINE

        base = self.http_settings
        if base is None:
            mine = with_user_settings(config.settings, self.user_settings)
            try:
                check_ca_bundle(mine, self.config_path, self.user_settings)
                # Relative to the config's directory, as the clients that make the calls take it.
                ca_bundle = (
                    resolve_path(mine.ca_bundle, config_directory(self.config_path))
                    if mine.ca_bundle
                    else None
                )
            except CredenzaError:
                ca_bundle = None  # reported by the settings check; probe with the system store
            base = HttpSettings(ca_bundle=ca_bundle)
        return replace(
            base,
            deadline=min(base.deadline, PROBE_DEADLINE),
            connect_timeout=min(base.connect_timeout, PROBE_DEADLINE),
            read_timeout=min(base.read_timeout, PROBE_DEADLINE),
            retry_attempts=1,
        )

    # -- shell completion -----------------------------------------------------------------------

    def completion(self) -> Check:
        shell = Path(self.shell or os.environ.get("SHELL", "")).name
        places = completion_places(shell, self.home)
        if places is None:
            return Check(
                "completion",
                shell or "shell",
                True,
                f"not checked: credenza completes bash, zsh and fish, and $SHELL is {shell or 'unset'}",
            )
        files, rc = places
        for place in files:
            if place.is_file():
                return Check("completion", shell, True, f"installed for {shell} ({place})")
        if rc is not None and _mentions(rc, "credenza completion"):
            return Check("completion", shell, True, f"loaded for {shell} by {rc}")
        return Check(
            "completion",
            shell,
            False,
            f"not installed for {shell}",
            fix=f"{{0}} > {files[0]}",
            next_steps=(step("install_completion", None, None, shell),),
        )


def completion_places(shell: str, home: Path) -> tuple[list[Path], Path | None] | None:
    """Where a completion script for ``shell`` is found (the first is where to put one), and
    the rc file that may load it instead; None for a shell credenza does not complete."""
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    if shell == "bash":
        return (
            [
                data / "bash-completion" / "completions" / "credenza",
                Path("/usr/share/bash-completion/completions/credenza"),
                Path("/etc/bash_completion.d/credenza"),
            ],
            home / ".bashrc",
        )
    if shell == "zsh":
        return (
            [
                home / ".zfunc" / "_credenza",
                home / ".zsh" / "completions" / "_credenza",
                Path("/usr/local/share/zsh/site-functions/_credenza"),
                Path("/usr/share/zsh/site-functions/_credenza"),
                Path("/usr/share/zsh/vendor-completions/_credenza"),
            ],
            Path(os.environ.get("ZDOTDIR") or home) / ".zshrc",
        )
    if shell == "fish":
        return (
            [
                config / "fish" / "completions" / "credenza.fish",
                Path("/usr/share/fish/vendor_completions.d/credenza.fish"),
            ],
            None,
        )
    return None


def failed(checks: Iterable[Check]) -> bool:
    return any(not check.ok for check in checks)


def _agent_state() -> AgentState:
    from credenza import locations
    from credenza.agent import client as agent

    path = Path(locations.agent_socket())
    answer = agent.request({"op": "ping"}, timeout=0.5, wait_for_start=False)
    return AgentState(answer, path, path.exists())


def _setter(name: str, value: object) -> NextStep:
    if name == "keyring":
        return step("use_keyring", None, None, "file" if value == "file" else "system")
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return step("set_setting", None, None, name, shown)


def _mentions(path: Path, text: str) -> bool:
    try:
        return text in path.read_text("utf-8", errors="replace")[:1_000_000]
    except OSError:
        return False


def _count(number: object, thing: str) -> str:
    return f"{number} {thing}" + ("" if number == 1 else "s")
