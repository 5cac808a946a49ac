"""The header: the four sections as clickable tabs, and the count of what needs attention.

It picks the widest wording that fits the terminal, so that at 60 columns every tab and the
count are whole (short titles, no brand), and at 160 it names the demo workspace too.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from credenza.tui.advice import key_for
from credenza.tui.sections import SECTIONS, Section


class Wording(NamedTuple):
    brand: str
    titles: dict[str, str]
    attention: str
    demo: str

    def width(self) -> int:
        # Each tab is " 1 Title " with a one-column gap before it; the count has a gap too.
        tabs = sum(len(title) + 4 + 1 for title in self.titles.values())
        count = 1 + len(self.attention) if self.attention else 0
        demo = 2 + len(self.demo) if self.demo else 0
        return len(self.brand) + tabs + count + demo


def wordings(count: int | None, demo: str) -> list[Wording]:
    """From the widest to the narrowest; the bar shows the first that fits."""
    full = {section.mode: section.title for section in SECTIONS}
    short = {section.mode: section.short for section in SECTIONS}
    if count is None:
        long_count = short_count = tiny_count = ""
    elif count == 0:
        long_count, short_count, tiny_count = " ✓ nothing due ", " ✓ ", " ✓ "
    else:
        long_count = f" ! {count} need{'s' if count == 1 else ''} attention "
        short_count = f" ! {count} due "
        tiny_count = f" !{count} "
    return [
        Wording(" credenza ", full, long_count, demo),
        Wording(" credenza ", full, long_count, ""),
        Wording(" credenza ", full, short_count, ""),
        Wording(" credenza ", short, short_count, ""),
        Wording("", short, tiny_count, ""),
    ]


class ModeTab(Static):
    """One section's tab: its key (as bound now) and title; a click switches to it."""

    def __init__(self, section: Section) -> None:
        super().__init__(id=f"tab-{section.mode}", markup=False)
        self.section = section
        self.mode = section.mode

    @property
    def key(self) -> str:
        return key_for(self.app, self.section.binding_id)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.app.switch_mode(self.mode)


class AttentionCount(Static):
    """How many things need attention; a click (or the ! key) lists them."""

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self.app.run_action("attention")


class ModeBar(Horizontal):
    """The section tabs (the current one highlighted), the attention count, the demo label."""

    def __init__(self, current: str) -> None:
        super().__init__(id="mode-bar")
        self.current = current
        self.count: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="brand", markup=False)
        for section in SECTIONS:
            tab = ModeTab(section)
            tab.set_class(section.mode == self.current, "-current")
            yield tab
        yield Static(id="mode-bar-gap")
        yield AttentionCount(id="attention-count", markup=False)
        yield Static(id="demo-label", markup=False)

    def on_mount(self) -> None:
        self.show()

    def on_resize(self) -> None:
        self.show()

    def set_count(self, count: int | None) -> None:
        self.count = count
        if self.is_mounted:
            self.show()

    def wording(self) -> Wording:
        width = self.size.width or self.app.size.width
        demo = getattr(self.app, "demo_label", "")
        options = wordings(self.count, demo)
        return next((w for w in options if w.width() <= width), options[-1])

    def show(self) -> None:
        wording = self.wording()
        brand = self.query_one("#brand", Static)
        brand.update(Text(wording.brand, style="bold reverse"))
        brand.display = bool(wording.brand)
        for tab in self.query(ModeTab):
            tab.update(f" {tab.key} {wording.titles[tab.mode]} ")
        count = self.query_one("#attention-count", AttentionCount)
        count.update(wording.attention)
        count.display = bool(wording.attention)
        count.set_class(bool(self.count), "-due")
        demo = self.query_one("#demo-label", Static)
        demo.update(wording.demo)
        demo.display = bool(wording.demo)
