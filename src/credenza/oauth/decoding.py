"""Content-Encoding decoded as it streams in, with the body cap applied to the decoded bytes.

httpx decodes a whole chunk at once and checks nothing: one 64 KiB gzip chunk of zeros inflates
to 64 MiB, and ``gzip, gzip`` turns 1.5 KB into gigabytes. Here every decompression call is
bounded by the room left under the cap, and only one encoding (gzip or deflate) is accepted.
"""

from __future__ import annotations

import zlib

# What credenza asks for, and so the only encodings it needs to understand.
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLargeError(Exception):
    """The decoded body would pass the cap."""


class UndecodableBodyError(Exception):
    """The body's encoding is refused or its bytes are not what the encoding says."""


class CappedDecoder:
    """Feed raw chunks; the decoded body never grows past ``limit`` bytes."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [
            part.strip().lower()
            for part in (content_encoding or "").split(",")
            if part.strip() and part.strip().lower() != "identity"
        ]
        if len(codings) > 1:
            raise UndecodableBodyError(
                f"the body is encoded {len(codings)} times over ({', '.join(codings)[:60]}); "
                "credenza accepts one encoding"
            )
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise UndecodableBodyError(
                f"the body uses an encoding credenza did not ask for ({self.coding[:30]!r})"
            )
        self.limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._inflater: zlib._Decompress | None = None
        self._raw_deflate_tried = False
        self._seen_input = False
        if self.coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> None:
        if self._inflater is None:
            self._keep(chunk)
            return
        try:
            self._inflate(chunk)
        except zlib.error:
            raise UndecodableBodyError(f"the {self.coding} body is corrupt") from None

    def finish(self) -> bytes:
        if self._inflater is not None:
            try:
                self._keep(self._inflater.flush())
            except zlib.error:
                raise UndecodableBodyError(f"the {self.coding} body is corrupt") from None
        return b"".join(self._chunks)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        while data:
            room = self.limit - self._size + 1  # one byte past the cap proves it is passed
            try:
                out = self._inflater.decompress(data, room)
            except zlib.error:
                # "deflate" means zlib-wrapped, but many servers send raw deflate (as httpx knows).
                if self.coding != "deflate" or self._seen_input or self._raw_deflate_tried:
                    raise
                self._raw_deflate_tried = True
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._seen_input = True
            self._keep(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if self.coding in ("gzip", "x-gzip") and rest.strip(b"\0"):
                    # Concatenated gzip members are one body (RFC 1952 §2.2).
                    self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                    data = rest
                else:
                    return

    def _keep(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self.limit:
            raise BodyTooLargeError
        self._chunks.append(data)
