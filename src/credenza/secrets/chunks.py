"""How a value too long for a keyring entry is kept: the header naming its chunks, read and written."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from credenza.secrets import names

# A long value is stored as numbered chunks plus a header under the entry's own name:
#   credenza-chunks:2:<generation>:<count>:<length>:<digest>[:<old generation>:<old count>]
# The chunks of a new value go under a new generation first; the header (one atomic keyring
# write) then switches to it; the old generation's chunks are deleted last. A kill at any moment
# leaves the old value, the new one or none — never a mix — and the old generation is named in
# the new header so that a write killed before its clean-up is cleaned up by the next one.
# Version 1 (credenza-chunks:<count>:<length>, chunks name#1…) is still read and replaced.
MARK = "credenza-chunks:"


@dataclass(frozen=True)
class Header:
    generation: str
    count: int
    length: int
    digest: str | None
    old: tuple[str, int] | None

    def chunk_names(self, name: str) -> list[str]:
        found = [names.chunk(name, self.generation, n) for n in range(1, self.count + 1)]
        if self.old is not None:
            found += [names.chunk(name, self.old[0], n) for n in range(1, self.old[1] + 1)]
        return found


def header(generation: str, count: int, value: str) -> str:
    """The header of ``value`` stored as ``count`` chunks under ``generation``."""
    return f"{MARK}2:{generation}:{count}:{len(value)}:{digest(value)}"


def parse_header(value: str | None) -> Header | None:
    if value is None or not value.startswith(MARK):
        return None
    fields = value[len(MARK) :].split(":")
    try:
        if len(fields) == 2:  # version 1
            return Header("", int(fields[0]), int(fields[1]), None, None)
        if fields[0] == "2" and len(fields) in (5, 7):
            old = (fields[5], int(fields[6])) if len(fields) == 7 else None
            return Header(fields[1], int(fields[2]), int(fields[3]), fields[4], old)
    except ValueError:
        pass
    # A damaged header reads as missing; its chunks cannot be found, so none are deleted.
    return Header("?", 0, -1, None, None)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
