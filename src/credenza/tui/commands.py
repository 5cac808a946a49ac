"""A section's commands, each declared once: its key (binding id), footer word, palette entry, help.

A section lists them in SECTION_COMMANDS; its BINDINGS (the footer, the ? list, the keymap's
ids) and its palette entries are made from that list, and both run its one ``action_<action>``.
(Not COMMANDS: that is Textual's name for a screen's command palette providers.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding, BindingType

# A palette entry: (title, help line, what it runs).
PaletteEntry = tuple[str, str, Callable[[], Any]]


@dataclass(frozen=True)
class Command:
    """One thing a person can do in a section."""

    name: str  # the binding id's tail: "<section>.<name>", remappable through the keymap
    key: str | None  # None: offered in the palette only (enter, say, does it on a row)
    footer: str  # the footer's word, and the ? list's
    palette: str = ""  # the palette's title ({row}: the highlighted row); "" for none
    help: str = ""  # the palette entry's help line
    action: str = ""  # the action_* it runs; the name when not given
    show: bool = True  # shown in the footer

    @property
    def runs(self) -> str:
        return self.action or self.name

    def binding(self, section: str) -> Binding:
        assert self.key is not None
        return Binding(
            self.key, self.runs, self.footer, show=self.show, id=f"{section}.{self.name}"
        )


def bindings(section: str, commands: Iterable[Command]) -> list[BindingType]:
    """The section's bindings, one per command with a key, in the order declared."""
    return [command.binding(section) for command in commands if command.key is not None]


def palette(commands: Iterable[Command], row: str | None, target: object) -> list[PaletteEntry]:
    """The palette's entries: the commands with one; those about a row only when one is
    highlighted (``row`` is its label). Each runs ``target``'s ``action_<action>``."""
    entries: list[PaletteEntry] = []
    for command in commands:
        if not command.palette or ("{row}" in command.palette and row is None):
            continue
        title = command.palette.replace("{row}", row or "")
        entries.append((title, command.help, getattr(target, f"action_{command.runs}")))
    return entries
