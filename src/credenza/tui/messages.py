"""What workers tell the dashboard: they post these, and the app and the screens react."""

from __future__ import annotations

from textual.message import Message

from credenza.services.tokens.records import SessionToken


class ConfigChanged(Message):
    """A worker saved the config (an edit, an addition, a removal, a rotation's timestamp)."""


class TokenFetched(Message):
    """A token was fetched or refreshed; the Tokens section and the attention count follow."""

    def __init__(self, session: SessionToken) -> None:
        super().__init__()
        self.session = session


class TaskFailed(Message):
    """A worker's call failed; ``advice`` is the one line shown, with the keys to press."""

    def __init__(self, label: str, advice: str) -> None:
        super().__init__()
        self.label = label
        self.advice = advice
