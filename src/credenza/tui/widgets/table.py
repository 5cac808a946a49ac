"""A section's table: its cells (config and server text shown plain) and the vim-keyed DataTable."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from credenza.oauth.untrusted import clean

Cell = str | Text


class PlainCell:
    """A table cell of config or server text, shown plain: cleaned (the one untrusted-text
    function) each time the table draws or measures it, and never read as markup (DataTable
    parses a str cell's `[@click=...]`; this is not a str). It holds only a reference to the
    text: a Text of its own per cell was ~250 bytes, 10 MiB at 10,000 applications."""

    __slots__ = ("raw",)

    def __init__(self, raw: str) -> None:
        self.raw = raw

    def __str__(self) -> str:
        return clean(self.raw, limit=None)

    def __repr__(self) -> str:
        return f"PlainCell({self.raw!r})"


TableCell = PlainCell | Text
SHARED_CELLS = 256


def plain(cell: Cell, shared: dict[str, PlainCell] | None = None) -> TableCell:
    """A row's cell as the table holds it: a str from a server or the config stays plain text.

    ``shared``: cells made for earlier rows, reused for an equal value (a provider, a list of
    environments: the same on thousands of rows). Kept small by whoever passes it.
    """
    if isinstance(cell, Text):
        return cell
    if shared is None:
        return PlainCell(cell)
    found = shared.get(cell)
    if found is None:
        if len(shared) >= SHARED_CELLS:
            shared.clear()  # unique values (names) come and go; repeated ones come back
        found = shared[cell] = PlainCell(cell)
    return found


class VimTable(DataTable[TableCell]):
    """A row-cursor table that also moves with j and k."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "scroll_top", "First row", show=False, id="table.top"),
        Binding("G", "scroll_bottom", "Last row", show=False, id="table.bottom"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set once the rows it holds have been measured and drawn: the screen builds the rest
        # of a long table after that, not before the first frame.
        self.rows_drawn = asyncio.Event()

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if self.row_count and self.virtual_size.height > self.header_height:
            self.rows_drawn.set()
        return lines
