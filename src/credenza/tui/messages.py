"""What workers tell the dashboard: results posted on the app, which relays them to the sections.

A worker posts with ``self.app.post_message(...)``; the app reacts (the attention count) and
passes ConfigChanged and TokenFetched on to every section made so far, each handling them with
``@on``. They do not bubble: a relayed message would come back up to the app.
"""

from __future__ import annotations

from textual.message import Message

from credenza.services.tokens.records import SessionToken, TokenEntry


class Result(Message, bubble=False):
    """A worker's result, posted where it is handled (the app, or a section it was for)."""


class ConfigChanged(Result):
    """A worker saved the config (an edit, an addition, a removal, a rotation's timestamp)."""


class TokenFetched(Result):
    """A token was fetched, refreshed or signed in for; the Tokens section and the attention
    count follow."""

    def __init__(self, session: SessionToken) -> None:
        super().__init__()
        self.session = session


class TaskFailed(Result):
    """A worker's call failed; ``advice`` is the one line shown, with the keys to press."""

    def __init__(self, label: str, advice: str) -> None:
        super().__init__()
        self.label = label
        self.advice = advice


class TokensCached(Result):
    """The tokens cached for this workspace, listed from the token index by the Tokens
    section's worker (no values: each is read when it is used)."""

    def __init__(self, entries: list[TokenEntry]) -> None:
        super().__init__()
        self.entries = entries
