"""What the CLI prints: messages on stderr, tables and JSON on stdout, all through one door.

Every string that came from a server or a config file goes through ``shown`` before it reaches
the terminal, so that no control character or escape sequence does.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from credenza.next_steps import Advice, NextStep, StepKind, fill

if TYPE_CHECKING:
    from credenza.errors import CredenzaError

# Each next step as the command that does it: its words, and whether the environment is an
# option (`login APP --env ENV`) rather than a second argument (`secret set APP ENV`). A kind
# without a command (unlocking the desktop keyring) is said in words.
COMMANDS: dict[StepKind, tuple[str, bool]] = {
    "set_secret": ("secret set", False),
    "recover_secret": ("secret recover", False),
    "discard_pending": ("secret discard-pending", False),
    "retire_previous": ("secret retire-previous", False),
    "public_key": ("secret public-key", False),
    "confirm_endpoint": ("secret confirm-endpoint", False),
    "sign_in": ("login", True),
    "verify": ("verify", False),
    "add_environment": ("env add", False),
    "edit_environment": ("env edit", False),
    "discover": ("env discover", False),
    "list_applications": ("app list", False),
    "add_application": ("app add", False),
    "show_application": ("app show", False),
    "edit_application": ("app edit", False),
    "register_client": ("app register", False),
    "delete_registration": ("app registration delete", False),
    "check_item": ("app check", False),
    "request_access": ("contract request", False),
    "record_decision": ("contract record", False),
    "catalogue": ("contract catalogue", False),
    "use_keyring": ("keyring use", False),
    "set_setting": ("settings set", False),
    "admin_token": ("provider admin-token", False),
    "add_provider": ("provider add", False),
    "edit_provider": ("provider edit", False),
    "forget_all": ("forget --all", False),
    "team_push": ("team push", False),
    "team_status": ("team status", False),
    "start_sandbox": ("sandbox serve", False),
    "start_demo": ("demo", False),
    "start_agent": ("agent", False),
    "install_completion": ("completion", False),
}


def shown(text: object) -> str:
    """Text made safe for a terminal: each line without control characters or escapes. Lines
    and length are credenza's own to choose (server text was cut when it was received)."""
    from credenza.oauth.untrusted import clean

    return "\n".join(clean(line, limit=None) for line in str(text).split("\n"))


def quoted(value: str) -> str:
    """``value`` as one shell word. One holding a control character (a hand-edited name) is
    written ``$'…'`` with the character escaped: the command holds none, and still runs."""
    if value.isprintable():
        return shlex.quote(value)
    inner = "".join(_in_ansi_c(ch) for ch in value)
    return f"$'{inner}'"


def _in_ansi_c(ch: str) -> str:
    """One character inside ``$'…'``: a backslash or quote escaped, a control character as
    its escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    if ch in "\\'":
        return "\\" + ch
    if ch.isprintable():
        return ch
    if ord(ch) < 0x80:
        return ch.encode("unicode_escape").decode("ascii")
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"


def command(step: NextStep) -> str:
    """The command that takes ``step``, its values shell-quoted (``quoted``): ``credenza secret
    recover APP ENV``; a step no command takes, in words."""
    if (known := COMMANDS.get(step.kind)) is None:
        return fill("{0}", [step])
    words, env_option = known
    parts = ["credenza", *words.split()]
    if step.app is not None:
        parts.append(quoted(step.app))
    if step.env is not None:
        parts += ["--env", quoted(step.env)] if env_option else [quoted(step.env)]
    parts += [quoted(arg) for arg in step.args]
    for name, value in step.options:
        parts.append("--" + name.replace("_", "-"))
        if value is not None:
            parts.append(quoted(value))
    return " ".join(parts)


def said(message: str, hint: str | None, steps: tuple[NextStep, ...] = ()) -> str:
    """``message — hint`` with each next step named as its command."""
    if not hint:
        return message
    return f"{message} — {fill(hint, steps, command, backticks=True)}"


def advised(advice: Advice) -> str:
    """Advice in a result, each next step named as its command."""
    return fill(advice.words, advice.next_steps, command, backticks=True)


def problem(exc: CredenzaError) -> str:
    """An error as the CLI says it: what happened, and the command that fixes it."""
    return said(exc.message, exc.hint, exc.next_steps)


def next_record(steps: tuple[NextStep, ...]) -> list[dict[str, Any]]:
    """Next steps for --json: the kind, its values, and the command."""
    return [
        {
            "kind": each.kind,
            "app": each.app,
            "env": each.env,
            "args": list(each.args),
            "options": dict(each.options),
            "command": command(each),
        }
        for each in steps
    ]


def error(message: str) -> None:
    print(f"credenza: error: {shown(message)}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"credenza: warning: {shown(message)}", file=sys.stderr)


def info(message: str) -> None:
    print(shown(message), file=sys.stderr)


def print_json(data: Any, out: TextIO | None = None) -> None:
    # json.dumps escapes every control character: JSON output needs no other cleaning.
    print(json.dumps(data, indent=2, default=str), file=out or sys.stdout)


def record(value: Any) -> Any:
    """A typed record for --json with every field, an empty or unset one included (null, [],
    {}), so a script reads the same keys from every record; times are ISO 8601."""
    import msgspec

    if isinstance(value, msgspec.Struct):
        return {name: record(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {str(key): record(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [record(item) for item in value]
    return msgspec.to_builtins(value)


def cell(text: object) -> str:
    """A table cell: one line, whatever the text holds; a control character in a config string
    (a hand-edited name) is shown escaped, so it can neither forge a row nor hide."""
    from credenza.oauth.untrusted import clean

    return clean(text, limit=None, escape=True)


def table(rows: list[list[str]], headers: list[str]) -> None:
    rows = [[cell(text) for text in row] for row in rows]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def age_seconds(seconds: float) -> str:
    return age(timedelta(seconds=max(0.0, seconds)))


def iso(value: datetime | None) -> str | None:
    """A time for --json: ISO 8601, or null."""
    return value.isoformat() if value is not None else None


def expiry(expires: datetime | None, now: datetime) -> str:
    """An expiry date and how far off it is: "2027-05-01 (in 120 days)", "… (expired)"."""
    if expires is None:
        return "-"
    days = (expires - now).days
    when = "expired" if expires <= now else f"in {days} day{'s' if days != 1 else ''}"
    return f"{expires.date().isoformat()} ({when})"
