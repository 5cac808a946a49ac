"""The one boundary for text from outside (a server's answer, a config string) on its way to a person.

Everything a server sends is untrusted: it may echo the request (and with it the client secret),
carry terminal escape sequences (OSC 52 writes the clipboard, OSC 0 the window title), nest JSON
until the parser overflows, or claim numbers no clock can hold. ``clean`` is the only way such
text reaches a message, a table, the dashboard or a screenshot; ``parse_json`` the only way a
server's JSON is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cached_property
from typing import Any
from urllib.parse import quote, quote_plus

import msgspec

REDACTED = "[redacted]"
# A message line, a table cell or a toast: enough to diagnose, too little to flood a terminal.
DEFAULT_LIMIT = 300
# Text beyond this is never looked at: nothing shown is longer, and scanning stays cheap.
_SCAN_LIMIT = 16 * 1024
# A sent value shorter than this is not redacted: "1" or "read" would blot out half a message,
# and such values protect nothing.
_MIN_SECRET = 6
# Any echoed piece of a sent value at least this long is redacted too (a server that truncates
# its echo, or cuts the Base64 of the Basic header in the middle).
_WINDOW = 12
# Deeper JSON than this from a server is refused: no OAuth answer nests more than a few levels.
MAX_JSON_DEPTH = 32

# ECMA-48 sequences, 7-bit and 8-bit: CSI, OSC (ended by BEL or ST, or never), DCS/SOS/PM/APC
# strings, and two-character escapes. The whole sequence goes, payload included, so an OSC 52
# clipboard write does not leave its Base64 behind as visible text.
_ESCAPES = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?
    | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?
    | \x1b[ -~]?
    | \x9b[0-?]*[ -/]*[@-~]?
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?
    """,
    re.VERBOSE,
)
# What a redaction swallows on either side of an echoed piece: the rest of the same word of an
# encoding (Base64, URL- or JSON-escaped), so no tail of a secret survives next to the marker.
_WORD = re.compile(r"[A-Za-z0-9+/_%.~\\-]")


class Sent:
    """What credenza sent in one exchange: secret, tokens, assertion, the Basic header value.

    Text that came back in that exchange is cleaned of every form of these values: raw, Base64
    (standard and URL-safe, at any alignment, so also inside ``Basic base64(id:secret)``),
    URL-encoded, JSON-escaped and HTML-escaped.
    """

    __slots__ = ("__dict__", "always", "values")

    def __init__(self, *values: str | None, always: Iterable[str | None] = ()) -> None:
        # ``always``: values redacted whatever their length (a person's password: a short one
        # is still theirs, and worth blotting a few characters of a message for).
        self.always: tuple[str, ...] = tuple(dict.fromkeys(v for v in always if v))
        self.values: tuple[str, ...] = tuple(
            dict.fromkeys([*(v for v in values if v and len(v) >= _MIN_SECRET), *self.always])
        )

    def plus(self, *values: str | None) -> Sent:
        """This exchange's values and more (a token sent besides the client's credentials)."""
        return Sent(*self.values, *values, always=self.always)

    @cached_property
    def needles(self) -> tuple[str, ...]:
        """Every string whose presence in a server's text means a sent value is echoed."""
        found: set[str] = set()
        for value in self.values:
            minimum = 1 if value in self.always else _MIN_SECRET
            for form in _encodings(value, minimum):
                found.update(_windows(form))
        return tuple(sorted(found, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Sent({len(self.values)} values)"


NOTHING = Sent()


def clean(
    text: object,
    sent: Sent | Iterable[str] = NOTHING,
    *,
    limit: int | None = DEFAULT_LIMIT,
    escape: bool = False,
) -> str:
    """``text`` made safe to show: one line, no control character or escape sequence, nothing of
    what credenza sent in the exchange, at most ``limit`` characters (None: no limit).

    ``escape``: each control character is shown as its escape (``\\n``, ``\\x1b``) instead of
    dropped, for a config string a person typed: a name with a newline in a hand-edited file is
    shown as it is, on its one row, and can be found and fixed."""
    if text is None:
        return ""
    if not isinstance(sent, Sent):
        sent = Sent(*sent)
    value = text if isinstance(text, str) else str(text)
    value = value[:_SCAN_LIMIT]
    if not value.isprintable():
        if escape:
            value = "".join(ch if ch.isprintable() else _escaped(ch) for ch in value)
        else:
            value = _ESCAPES.sub("", value)
            value = "".join(
                ch if ch.isprintable() else (" " if ch.isspace() else "") for ch in value
            )
    value = " ".join(value.split())
    if sent:
        value = _redact(value, sent.needles)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)].rstrip() + "…"
    return value


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def is_clean(text: str) -> bool:
    """True when ``clean`` would leave ``text`` as it is (apart from its length)."""
    return clean(text, limit=None) == text


def parse_json(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A server's JSON, or ValueError saying why not (malformed, too deep, numbers out of range).

    msgspec refuses NaN, Infinity and floats past 1e308 that the standard library accepts, and
    overflows the stack of nothing: nesting is bounded here instead of by a RecursionError.
    """
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    try:
        data = msgspec.json.decode(body)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise ValueError(f"not valid JSON ({clean(exc, limit=80)})") from None
    if _depth_exceeds(data, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return data


def _depth_exceeds(data: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _encodings(value: str, minimum: int = _MIN_SECRET) -> set[str]:
    """The forms a sent value takes when a server echoes it back."""
    import html  # here, not at the top: only an exchange with something to redact needs it

    forms = {
        value,
        quote_plus(value),
        quote(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        # As ``clean`` leaves a text before redacting: runs of whitespace made one space.
        " ".join(value.split()),
    }
    forms = {form for form in forms if len(form) >= minimum}
    for plain in (value, quote_plus(value)):
        for core in _base64_cores(plain.encode("utf-8", "surrogatepass")):
            # A short core is a letter or two of any Base64: never a sign of an echo.
            forms.update(
                form
                for form in (core, core.replace("+", "-").replace("/", "_"))
                if len(form) >= _MIN_SECRET
            )
    return forms


def _base64_cores(data: bytes) -> list[str]:
    """The Base64 characters fixed by ``data`` alone, at each of the three byte alignments.

    Inside a longer encoded string (``id:secret``), the characters around ``data`` depend on its
    neighbours; the core between them does not, so it is found wherever ``data`` was encoded.
    """
    import base64

    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        start = -(-offset * 8 // 6)  # first character wholly inside data
        end = (offset + len(data)) * 8 // 6  # past the last character wholly inside data
        cores.append(encoded[start:end])
    return cores


def _windows(form: str) -> set[str]:
    if len(form) <= _WINDOW:
        return {form}
    return {form[i : i + _WINDOW] for i in range(len(form) - _WINDOW + 1)}


def _redact(text: str, needles: tuple[str, ...]) -> str:
    spans: list[tuple[int, int]] = []
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = text.find(needle, start + 1)
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        while start > 0 and _WORD.match(text[start - 1]):
            start -= 1
        while end < len(text) and _WORD.match(text[end]):
            end += 1
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    last = 0
    for start, end in merged:
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)
