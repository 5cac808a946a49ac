"""Checks of single values in the config: URLs, e-mail addresses, scopes, store paths, and
control characters (refused in what a change writes)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import msgspec

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Cached: every record decoded is checked again, and a provider's 10,000 applications repeat
# one token URL 20,000 times (urlsplit was a quarter of decoding the config).
@functools.lru_cache(maxsize=1024)
def is_url(value: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# C0 and C1 controls and DEL, line and paragraph separators, and the bidirectional marks and
# overrides: in a name they forge table rows, move the cursor or reorder what a person reads.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# Free text, never a table cell: shown only through the one door (clean), so it may hold anything.
_FREE_TEXT_FIELDS = frozenset({"description"})


def control_character(value: str) -> str | None:
    """The first control character in ``value``, escaped (``\\n``), or None when there is none."""
    match = _CONTROL.search(value)
    return match[0].encode("unicode_escape").decode("ascii") if match else None


def refuse_control_characters(field: str, value: object) -> None:
    """A changed value holding a control character, anywhere in it, is refused (ValueError)."""
    if field in _FREE_TEXT_FIELDS:
        return
    if isinstance(value, str):
        found = control_character(value)
        if found is not None:
            raise ValueError(
                f"{field.replace('_', ' ')}: contains a control character ({found}); "
                "type it as one line of plain text"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_control_characters(field, key)
            refuse_control_characters(field, item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_control_characters(field, item)
    elif isinstance(value, msgspec.Struct):
        refuse_control_characters(field, msgspec.to_builtins(value))


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def slugify(name: str) -> str:
    """An application id from its name: lowercase words joined by dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "app"


def check_scopes(scopes: Sequence[str]) -> None:
    # RFC 6749 §3.3: a scope token is non-empty, without spaces; duplicates would make two rows.
    for scope in scopes:
        if not scope or any(c.isspace() or c in '"\\' for c in scope):
            raise ValueError(f"@scopes: {scope!r} is not a scope (no spaces, not empty)")
    if len(set(scopes)) != len(scopes):
        raise ValueError("@scopes: a scope is listed twice")


def check_urls(record: object, *fields: str) -> None:
    # "@field: detail" lets the store report the error at the field's own key path.
    for field in fields:
        value = getattr(record, field)
        if value is not None and not is_url(value):
            raise ValueError(f"@{field}: not a URL (expected http:// or https:// and a host)")


_STORE_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def check_store_path(value: str, field: str) -> None:
    segments = value.split("/")
    if not value or any(not _STORE_SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ValueError(
            f"@{field}: use segments of letters, digits, '.', '_' or '-' joined by '/' "
            "(no leading or trailing '/')"
        )
