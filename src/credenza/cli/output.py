"""What the CLI prints: messages on stderr, tables and JSON on stdout, all through one door.

Every string that came from a server or a config file goes through ``shown`` before it reaches
the terminal, so that no control character or escape sequence does.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from typing import Any, TextIO


def shown(text: object) -> str:
    """Text made safe for a terminal: each line without control characters or escapes. Lines
    and length are credenza's own to choose (server text was cut when it was received)."""
    from credenza.oauth.untrusted import clean

    return "\n".join(clean(line, limit=None) for line in str(text).split("\n"))


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
