"""A footer that shows only the keys that fit whole, and says where the rest are (?)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"


def key_width(key: FooterKey) -> int:
    # A compact key: "k description" and a one-column gap after it.
    return len(key.key_display) + (1 + len(key.description) if key.description else 0) + 1


class FittingFooter(Footer):
    """Textual's footer, cut to the keys that fit instead of scrolling them out of sight.

    The screen's own keys come first, in the order the screen declares them; when some do not
    fit, the help key says "all keys" (? lists every one).
    """

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._width = 0

    def compose(self) -> ComposeResult:
        keys = [widget for widget in super().compose() if isinstance(widget, FooterKey)]
        width = self.size.width or self.app.size.width
        help_keys = [key for key in keys if key.key == HELP_KEY]
        # The section's own keys before the ones every section shares (the filter).
        own = {
            binding.action for binding in type(self.screen).BINDINGS if isinstance(binding, Binding)
        }
        others = sorted(
            (key for key in keys if key.key != HELP_KEY), key=lambda key: key.action not in own
        )
        keys = [*others, *help_keys]
        if sum(key_width(key) for key in keys) <= width:
            yield from keys
            return
        room = width - sum(len(key.key_display) + len(" all keys") + 1 for key in help_keys)
        for key in others:
            if key_width(key) > room:
                break
            room -= key_width(key)
            yield key
        for key in help_keys:
            key.description = "all keys"
            yield key

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            self.call_after_refresh(self.recompose)
