"""Tokens: every token fetched or cached, with a live countdown; refresh, revoke, copy, inspect."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.timer import Timer

from credenza.services.tokens import SessionToken
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.token_inspect import TokenInspectDialog
from credenza.tui.format import countdown, lifetime_bar, word
from credenza.tui.screens.base import Cell, Command, TableScreen, VimTable

# Auto-refresh fires this share of the lifetime before expiry (at least 15 s before).
AUTO_REFRESH_SHARE = 0.1


def token_key(session: SessionToken) -> str:
    return f"{session.application_id}/{session.environment}/{' '.join(session.requested_scopes)}"


class TokensScreen(TableScreen):
    MODE = "tokens"
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("application", "Application"),
        ("environment", "Env"),
        ("scopes", "Scopes"),
        ("issued", "Issued"),
        ("expires", "Expires in"),
        ("bar", "Lifetime left"),
        ("auto", "Auto"),
    ]
    NARROW: ClassVar[set[str]] = {"application", "environment", "expires", "bar", "auto"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "fetch", "Fetch", id="tokens.fetch"),
        Binding("r", "refresh", "Refresh", id="tokens.refresh"),
        Binding("x", "revoke", "Revoke", id="tokens.revoke"),
        Binding("c", "copy", "Copy", id="tokens.copy"),
        Binding("i", "inspect", "Inspect", id="tokens.inspect"),
        Binding("A", "toggle_auto", "Auto", id="tokens.auto"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.auto: set[str] = set()
        self.refreshing: set[str] = set()
        self.ticker: Timer | None = None
        self._shown: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._cache_read = False

    def on_mount(self) -> None:
        super().on_mount()
        # One timer for the whole screen, paused while another section is shown.
        self.ticker = self.set_interval(1.0, self.tick)
        self._load_cached()

    def on_screen_suspend(self) -> None:
        if self.ticker:
            self.ticker.pause()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.ticker:
            self.ticker.resume()

    def _load_cached(self) -> None:
        """Tokens cached in the keyring by the CLI, read once, off the event loop."""
        if self._cache_read:
            return
        self._cache_read = True

        def loaded(sessions: list[SessionToken]) -> None:
            for session in sessions:
                self.workspace.tokens.sessions.setdefault(session.key, session)
            self.reload()

        self.run_task(
            "reading cached tokens",
            self.call(self.workspace.tokens.cached_sessions),
            loaded,
            group="keyring",
        )

    def sessions(self) -> list[SessionToken]:
        return sorted(
            self.workspace.tokens.sessions.values(), key=lambda s: (s.application_id, s.environment)
        )

    def _session(self, key: str | None) -> SessionToken | None:
        return next((s for s in self.sessions() if token_key(s) == key), None)

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        theme = self.app.current_theme
        now = self.credenza.clock()
        for session in self.sessions():
            key = token_key(session)
            yield (
                key,
                [
                    self.workspace.applications.get(session.application_id).name,
                    session.environment,
                    " ".join(session.token.scopes) or "—",
                    f"{session.token.issued_at:%H:%M:%S}",
                    countdown(session.token, now, theme),
                    lifetime_bar(session.token, now, theme),
                    word(theme, "on", "good") if key in self.auto else Text("off", style="dim"),
                ],
            )

    def tick(self) -> None:
        """Update the countdown cells of the rows in view; never rebuild the table on a tick.

        Rows out of view catch up on the next tick after they scroll in. Auto-refresh checks
        every token, in view or not.
        """
        table = self.query_one("#table", VimTable)
        theme = self.app.current_theme
        now = self.credenza.clock()
        first = int(table.scroll_y)
        in_view = set(self._row_keys[first : first + table.size.height + 1])
        for session in self.sessions():
            key = token_key(session)
            if key in in_view:
                self._update(table, key, "expires", countdown(session.token, now, theme))
                if "bar" in self.columns:
                    self._update(table, key, "bar", lifetime_bar(session.token, now, theme))
            if key in self.auto and key not in self.refreshing and self._due(session):
                self._refresh(session, automatic=True)
        if len(self.workspace.tokens.sessions) != len(self._row_keys) and not self.filter_text:
            self.reload()

    def _update(self, table: VimTable, key: str, column: str, value: Text) -> None:
        """Repaint a cell only when its text or tone changed (most ticks change one cell)."""
        shown = (value.plain, str(value.style), str(value.spans))
        if self._shown.get((key, column)) != shown:
            self._shown[(key, column)] = shown
            table.update_cell(key, column, value)

    def reload(self) -> None:
        self._shown.clear()
        super().reload()

    def _due(self, session: SessionToken) -> bool:
        token = session.token
        left = token.seconds_left(self.credenza.clock())
        if left is None or token.expires_at is None:
            return False
        lifetime = (token.expires_at - token.issued_at).total_seconds()
        return left <= max(15.0, lifetime * AUTO_REFRESH_SHARE)

    def empty_detail(self) -> Text:
        return Text(
            "No tokens yet: fetch one with f on the Environments section (2), "
            "or from the command palette (ctrl+p).",
            style="italic",
        )

    def detail(self, key: str) -> Text:
        session = self._session(key)
        if session is None:
            return self.empty_detail()
        token = session.token
        text = Text()
        text.append(f"{session.application_id} / {session.environment}\n", style="bold")
        for label, value in (
            ("token", token.access_token.masked() + "   (c copies, i inspects)"),
            ("type", token.token_type),
            ("scopes granted", " ".join(token.scopes) or "—"),
            ("scopes asked", " ".join(session.requested_scopes) or "(the environment's default)"),
            ("issued", f"{token.issued_at:%Y-%m-%d %H:%M:%S} UTC"),
            (
                "expires",
                f"{token.expires_at:%Y-%m-%d %H:%M:%S} UTC" if token.expires_at else "not given",
            ),
            ("refresh token", "yes" if token.refresh_token else "no (refresh fetches a new token)"),
            ("auto-refresh", "on" if key in self.auto else "off (A toggles)"),
        ):
            text.append(f"{label:>15}: ", style="dim")
            text.append(f"{value}\n")
        return text

    # -- actions --------------------------------------------------------------------------------

    def _refresh(self, session: SessionToken, *, automatic: bool = False) -> None:
        key = token_key(session)
        self.refreshing.add(key)

        async def work() -> SessionToken:
            try:
                return await self.workspace.tokens.refresh(session)
            finally:
                self.refreshing.discard(key)

        def refreshed(fresh: SessionToken) -> None:
            self.reload()
            self.notify(
                f"{'auto-' if automatic else ''}refreshed {session.application_id} / {session.environment}"
            )

        self.run_task(
            f"refreshing {session.application_id} / {session.environment}", work(), refreshed
        )

    def action_refresh(self) -> None:
        if (session := self._session(self.selected_key())) is not None:
            self._refresh(session)

    def action_fetch(self) -> None:
        if (session := self._session(self.selected_key())) is None:
            return
        self.run_task(
            f"fetching a token for {session.application_id} / {session.environment}",
            self.workspace.tokens.fetch(
                session.application_id, session.environment, session.requested_scopes
            ),
            lambda _: self.reload(),
        )

    def action_revoke(self) -> None:
        if (session := self._session(self.selected_key())) is None:
            return
        resolved = self.workspace.environments.resolve(session.application_id, session.environment)
        how = "Revoke (RFC 7009)" if resolved.revocation_url else "Log out (GET + Bearer)"

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            self.run_task(
                f"revoking the token of {session.application_id} / {session.environment}",
                self.workspace.tokens.revoke(session),
                lambda outcome: self._revoked(outcome),
            )

        self.app.push_screen(
            ConfirmDialog(
                f"{how} this token?",
                f"{resolved.label}: calls that use this token will be refused from now on.",
                action="Revoke",
            ),
            confirmed,
        )

    def _revoked(self, outcome: str) -> None:
        self.reload()
        self.notify(f"token {outcome}")

    def action_copy(self) -> None:
        if (session := self._session(self.selected_key())) is not None:
            self.app.copy_to_clipboard(session.token.access_token.reveal())
            self.notify("token copied to the clipboard (OSC 52)")

    def action_open(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        if (session := self._session(self.selected_key())) is not None:
            self.app.push_screen(TokenInspectDialog(self.workspace, session))

    def action_toggle_auto(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        if key in self.auto:
            self.auto.discard(key)
        else:
            self.auto.add(key)
        self.query_one("#table", VimTable).update_cell(
            key,
            "auto",
            word(self.app.current_theme, "on", "good")
            if key in self.auto
            else Text("off", style="dim"),
        )
        self.show_detail()

    def commands(self) -> list[Command]:
        session = self._session(self.selected_key())
        if session is None:
            return []
        label = f"{self.workspace.applications.get(session.application_id).name} / {session.environment}"
        return [
            (
                f"Refresh token of {label}",
                "refresh_token grant, or a new token",
                self.action_refresh,
            ),
            (
                f"Revoke token of {label}",
                "or log out where the provider does that",
                self.action_revoke,
            ),
            (f"Copy token of {label}", "to the clipboard (OSC 52)", self.action_copy),
            (f"Inspect token of {label}", "JWT claims and introspection", self.action_inspect),
            (
                f"Toggle auto-refresh for {label}",
                "refresh ahead of expiry",
                self.action_toggle_auto,
            ),
        ]
