"""`credenza settings show|set|unset`: this machine's settings, in your own settings file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from credenza.cli import output
from credenza.cli.common import Group, json_option
from credenza.errors import ValidationError

_NAMES = ("keyring_timeout", "agent", "ca_bundle", "allow_plaintext_keyring", "keyring")


def register(commands: Group) -> None:
    settings = commands.group(
        "settings", "this machine's settings, kept in your own settings file: show, set, unset"
    )
    show = settings.command(
        "show",
        "each machine setting, its value and where it comes from (yours, the config, default)",
        cmd_show,
        "  credenza settings show",
    )
    json_option(show)
    set_ = settings.command(
        "set",
        "set a machine setting for yourself (never in the shared config)",
        cmd_set,
        "  credenza settings set ca_bundle ~/certs/corp-ca.pem\n"
        "  credenza settings set ca_bundle system     # the system's trust store\n"
        "  credenza settings set agent off\n"
        "  credenza settings set keyring_timeout 10",
    )
    set_.add_argument("name", choices=_NAMES, help="which setting")
    set_.add_argument("value", help="its value")
    unset = settings.command(
        "unset",
        "drop your own value: the shared config's (or the default) counts again",
        cmd_unset,
        "  credenza settings unset ca_bundle",
    )
    unset.add_argument("name", choices=_NAMES, help="which setting")


def cmd_show(args: argparse.Namespace) -> int:
    from credenza.config.local import machine_setting_sources, user_settings_path
    from credenza.config.store import ConfigStore
    from credenza.workspace import default_config_path

    store = ConfigStore(getattr(args, "config", None) or default_config_path())
    sources = machine_setting_sources(store.load().settings, store.path, user_settings_path())
    if args.json:
        output.print_json(
            {
                name: {
                    "value": source.value,
                    "origin": source.origin,
                    "path": str(source.path) if source.path else None,
                }
                for name, source in sources.items()
            }
        )
        return 0
    rows = [
        [name, _shown_value(source.value), source.origin, str(source.path or "")]
        for name, source in sources.items()
    ]
    output.table(rows, ["SETTING", "VALUE", "FROM", "FILE"])
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    from credenza.config.local import set_user_settings, user_settings_path

    if args.name == "keyring":
        raise ValidationError(
            "choose the keyring with `credenza keyring use system` or `credenza keyring use file`"
        )
    path = user_settings_path()
    set_user_settings(path, **{args.name: _parse(args.name, args.value)})
    output.info(f"{args.name} set for you in {path}; the shared config was not changed")
    return 0


def cmd_unset(args: argparse.Namespace) -> int:
    from credenza.config.local import set_user_settings, user_settings_path

    path = user_settings_path()
    set_user_settings(path, **{args.name: None})
    output.info(f"{args.name} removed from {path}; the shared config's value or the default counts")
    return 0


def _parse(name: str, value: str) -> Any:
    from credenza.config.local import SYSTEM_TRUST

    if name == "keyring_timeout":
        try:
            return float(value)
        except ValueError:
            raise ValidationError(
                f"keyring_timeout: {value!r} is not a number of seconds"
            ) from None
    if name == "allow_plaintext_keyring":
        if value not in ("true", "false"):
            raise ValidationError("allow_plaintext_keyring: say true or false")
        return value == "true"
    if name == "agent":
        if value not in ("auto", "off"):
            raise ValidationError("agent: say auto or off")
        return value
    if value == SYSTEM_TRUST:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValidationError(
            f"ca_bundle: no such file {value!r}",
            hint="give a PEM file of CA certificates, or `system`",
        )
    return os.path.abspath(path)


def _shown_value(value: object) -> str:
    """A setting as it is typed in the settings file: true/false, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
