"""The dashboard's sections, one entry each: MODES, the tabs, the palette, `go_to` derive from it.

Adding a section is one screen (a TableScreen with its MODE) and one entry here. Its screen is
named, not imported: only the first section shown is imported in front of the first frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen

    from credenza.services.status import AttentionKind


@dataclass(frozen=True)
class Section:
    """One section: its mode, key, titles, screen, palette entry and the attention it fixes."""

    mode: str  # the Textual mode, the screen's MODE, and the tab's id (tab-<mode>)
    key: str  # the key that shows it (binding id app.<mode>, remappable)
    title: str
    short: str  # the tab's title where the header is narrow
    screen: str  # "module:Class", imported when first shown
    palette: str  # the command palette's entry
    help: str  # the palette entry's help line
    # The kinds of attention fixed in this section, and what to press there: advice templates
    # whose {binding.id} names the key bound now (tui.advice.keys_in).
    attention: Mapping[AttentionKind, str]

    @property
    def binding_id(self) -> str:
        return f"app.{self.mode}"

    def make_screen(self) -> Screen[None]:
        module, _, name = self.screen.partition(":")
        screen: Screen[None] = getattr(import_module(module), name)()
        return screen


SECTIONS: tuple[Section, ...] = (
    Section(
        mode="applications",
        key="1",
        title="Applications",
        short="Apps",
        screen="credenza.tui.screens.applications:ApplicationsScreen",
        palette="Go to Applications",
        help="the Applications section",
        attention={
            "checklist_open": (
                "press {applications.edit} to edit the application ({detail.down} scrolls the list)"
            ),
        },
    ),
    Section(
        mode="environments",
        key="2",
        title="Environments",
        short="Envs",
        screen="credenza.tui.screens.environments:EnvironmentsScreen",
        palette="Go to Environments",
        help="the Environments section",
        attention={
            "reset_unfinished": (
                "press {environments.reset_secret} to finish it with the secret kept as pending"
            ),
            "secret_expired": (
                "press {environments.reset_secret} to reset the secret, "
                "then {environments.edit} to set its expiry"
            ),
            "client_id_shared": "press {environments.edit} to correct the client_id",
            "rotation_overdue": "press {environments.reset_secret} to reset (rotate) the secret",
            "secret_expiring": (
                "press {environments.reset_secret} to rotate it, "
                "or {environments.edit} to correct the expiry date"
            ),
            "scope_requested": "press {environments.edit} to mark the scope granted once it is",
        },
    ),
    Section(
        mode="contracts",
        key="3",
        title="Contracts",
        short="Contracts",
        screen="credenza.tui.screens.contracts:ContractsScreen",
        palette="Go to Contracts",
        help="the Contracts section",
        attention={"contract_pending": "press {contracts.refresh} to ask the provider again"},
    ),
    Section(
        mode="tokens",
        key="4",
        title="Tokens",
        short="Tokens",
        screen="credenza.tui.screens.tokens:TokensScreen",
        palette="Go to Tokens",
        help="the Tokens section",
        attention={
            "refresh_failed": (
                "press {tokens.refresh} to refresh again, or {tokens.fetch} for a new token"
            ),
        },
    ),
)

BY_MODE: dict[str, Section] = {section.mode: section for section in SECTIONS}
DEFAULT_MODE = SECTIONS[0].mode

# Where each kind of attention is fixed: its section, and the keys to press there.
WHERE: dict[AttentionKind, tuple[Section, str]] = {
    kind: (section, words) for section in SECTIONS for kind, words in section.attention.items()
}
