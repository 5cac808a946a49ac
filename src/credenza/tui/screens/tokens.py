"""Tokens: every token fetched or cached, with a live countdown; refresh, revoke, copy, inspect.

Over 400 lines: its countdown list stands in for the other sections' table, so it carries its own
columns, rows, selection and filter; its actions are left here while the token store's own
refactor (its state made private) lands in this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import BindingType
from textual.timer import Timer
from textual.widget import Widget

from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.services.status import Attention
from credenza.services.tokens.records import SessionToken, TokenEntry
from credenza.tui.advice import keys_in, problem
from credenza.tui.commands import Command, bindings
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.token_inspect import TokenInspectDialog
from credenza.tui.messages import TokenFetched, TokensCached
from credenza.tui.screens.base import TableScreen
from credenza.tui.widgets.countdown import CountdownList, CountdownRow

# Auto-refresh fires this share of the lifetime before expiry (at least 15 s before).
AUTO_REFRESH_SHARE = 0.1


def token_key(session: SessionToken | TokenEntry) -> str:
    return f"{session.application_id}/{session.environment}/{' '.join(session.requested_scopes)}"


class TokensScreen(TableScreen):
    MODE = "tokens"
    # The countdown list draws "Expires in" and "Lifetime left" after these, on every width.
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("application", "Application"),
        ("environment", "Env"),
        ("scopes", "Scopes"),
        ("issued", "Issued"),
        ("auto", "Auto"),
    ]
    WIDTHS: ClassVar[dict[str, int]] = {
        "application": 24,
        "environment": 12,
        "scopes": 20,
        "issued": 8,
        "auto": 4,
    }
    NARROW: ClassVar[set[str]] = {"application", "environment", "auto"}
    SECTION_COMMANDS: ClassVar[tuple[Command, ...]] = (
        Command("fetch", "f", "Fetch"),
        Command(
            "refresh",
            "r",
            "Refresh",
            "Refresh token of {row}",
            "refresh_token grant, or a new token",
        ),
        Command(
            "revoke",
            "x",
            "Revoke",
            "Revoke token of {row}",
            "or log out where the provider does that",
        ),
        Command("copy", "c", "Copy", "Copy token of {row}", "to the clipboard (OSC 52)"),
        Command(
            "inspect", "i", "Inspect", "Inspect token of {row}", "JWT claims and introspection"
        ),
        Command(
            "auto",
            "A",
            "Auto",
            "Toggle auto-refresh for {row}",
            "refresh ahead of expiry",
            action="toggle_auto",
        ),
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings(MODE, SECTION_COMMANDS)

    def __init__(self) -> None:
        super().__init__()
        # The rows kept fresh (auto-refreshed here, and by the agent): from the keep file.
        self.auto: set[str] = set()
        self._storing = 0  # toggles being written: the file is not read back meanwhile
        self.refreshing: set[str] = set()
        self.ticker: Timer | None = None
        self._by_key: dict[str, TokenEntry] = {}
        self._cache_read = False
        self._reloads = 0  # rebuilds so far: a listing made before the last one is stale
        self._listed_at = -1  # the rebuild count when the worker's listing began

    def mounted(self) -> None:
        # One timer for the whole screen, paused while another section is shown.
        self.ticker = self.set_interval(1.0, self.tick)
        self._load_cached()

    def on_screen_suspend(self) -> None:
        if self.ticker:
            self.ticker.pause()

    def resumed(self) -> None:
        if self.ticker:
            self.ticker.resume()

    def _load_cached(self) -> None:
        """Tokens cached by other processes (the CLI, the agent), listed once off the event loop
        from the token index: no keyring read (an older credenza's index is moved out of the
        keyring the first time)."""
        if self._cache_read:
            return
        self._cache_read = True
        self._listed_at = self._reloads
        tokens = self.workspace.tokens

        def read() -> None:  # in a worker thread: the index, no keyring read
            self.post_message(TokensCached(tokens.listing()))

        self.run_task("reading cached tokens", self.call(read), group="keyring")

    @on(TokensCached)
    def _cached(self, message: TokensCached) -> None:
        self._show_cached(message.entries)

    def _show_cached(self, entries: list[TokenEntry]) -> None:
        # The worker's listing, not listed again on the event loop, unless the rows were rebuilt
        # since it began (a token fetched or forgotten meanwhile): then listed afresh.
        self.reload(entries if self._reloads == self._listed_at else None)

    def _session(self, key: str | None) -> TokenEntry | None:
        return self._by_key.get(key) if key is not None else None

    def _with_value(self, entry: TokenEntry, then: Callable[[SessionToken], None]) -> None:
        """``then`` with the token itself: at once when this process holds it, else once a
        worker has read it from the keyring (gone meanwhile: said, and the row goes)."""
        held = self.workspace.tokens.store.holds(entry.fingerprint)
        if held is not None:
            then(held)
            return

        def read() -> SessionToken | None:
            return self.workspace.tokens.session(entry)

        def done(session: SessionToken | None) -> None:
            if session is None:
                self.notify(
                    f"the token of {entry.application_id} / {entry.environment} is no longer "
                    "cached; fetch a new one",
                    severity="warning",
                    markup=False,
                )
                self.reload()
                return
            then(session)

        self.run_task("reading the token", self.call(read), done, group="keyring")

    # -- the countdown list (instead of the DataTable the other sections use) -------------------

    def make_table(self) -> Widget:
        return CountdownList([], clock=self.credenza.clock, id="table")

    @property
    def countdowns(self) -> CountdownList:
        return self.query_one("#table", CountdownList)

    def _set_columns(self, wide: bool) -> None:
        self.wide = wide
        labels = dict(self.COLUMNS)
        self.countdowns.set_columns([(key, labels[key], self.WIDTHS[key]) for key in self.columns])
        self.reload()

    def _row(self, session: TokenEntry) -> CountdownRow:
        key = token_key(session)
        name = self.workspace.applications.get(session.application_id).name
        cells = {
            # Config strings and the scopes a server granted: through the one untrusted-text
            # function, since the list draws its cells as they are.
            "application": clean(name, limit=None),
            "environment": clean(session.environment, limit=None),
            "scopes": clean(" ".join(session.scopes), limit=None) or "—",
            "issued": f"{session.issued_at:%H:%M:%S}",
            "auto": "on" if key in self.auto else "off",
        }
        return CountdownRow(
            key,
            tuple(cells[column] for column in self.columns),
            session.expiry,
            (session.application_id, session.environment, key),
        )

    def reload(self, listing: list[TokenEntry] | None = None) -> None:
        """Rebuild the rows (on data changes, not on ticks); the list sorts them once, here.
        ``listing``: the tokens as a worker just listed them (else listed now)."""
        keep = self.selected_key()
        needle = self.filter_text.lower()
        self._by_key = {}
        rows = []
        self._reloads += 1
        held = self.workspace.tokens.listing() if listing is None else listing
        if not self._storing:
            # Kept fresh is this person's choice, stored (it outlives the dashboard): a small
            # file read on data changes only, never on a tick.
            kept = self.workspace.tokens.kept()
            self.auto = {
                token_key(session)
                for session in held
                if kept and self.workspace.tokens.is_kept(session, kept)
            }
        for session in held:
            row = self._row(session)
            # The filter matches every field, shown or not (at 80 columns some are in the panel).
            everything = (*row.cells, " ".join(session.scopes), session.application_id)
            if needle and not any(needle in text.lower() for text in everything):
                continue
            self._by_key[row.key] = session
            rows.append(row)
        self.countdowns.set_rows(rows)
        self._row_keys = self.countdowns.keys
        if keep is not None:
            self.countdowns.select(keep)
        self.show_detail()

    def selected_key(self) -> str | None:
        return self.countdowns.cursor_key

    def select_key(self, key: str) -> None:
        self.countdowns.select(key)

    @on(CountdownList.Highlighted)
    def _countdown_highlighted(self, event: CountdownList.Highlighted) -> None:
        self.show_detail()

    @on(CountdownList.Selected)
    def _countdown_selected(self, event: CountdownList.Selected) -> None:
        self.action_open()

    def tick(self) -> None:
        """Repaint the countdowns in view that changed; never rebuild or re-sort on a tick.

        Rows out of view are drawn current when they scroll in. Auto-refresh checks every token
        with it switched on, in view or not.
        """
        self.countdowns.tick()
        for key in self.auto:
            session = self._by_key.get(key)
            if session is not None and key not in self.refreshing and self._due(session):
                self._refresh(session, automatic=True)

    def _due(self, session: TokenEntry) -> bool:
        token = session.expiry
        left = token.seconds_left(self.credenza.clock())
        if left is None or token.expires_at is None:
            return False
        lifetime = (token.expires_at - token.issued_at).total_seconds()
        return left <= max(15.0, lifetime * AUTO_REFRESH_SHARE)

    def empty_detail(self) -> Text:
        return Text(
            keys_in(
                self.app,
                "No tokens yet: fetch one with {environments.fetch} on the Environments section "
                "({app.environments}), or from the command palette (ctrl+p).",
            ),
            style="italic",
        )

    def detail(self, key: str) -> Text:
        session = self._session(key)
        if session is None:
            return self.empty_detail()
        token = session
        text = Text()
        text.append(f"{session.application_id} / {session.environment}\n", style="bold")
        for label, value in (
            (
                "token",
                session.masked
                + keys_in(self.app, "   ({tokens.copy} copies, {tokens.inspect} inspects)"),
            ),
            ("type", token.token_type),
            ("scopes granted", token.scope_text() or "—"),
            ("scopes asked", " ".join(session.requested_scopes) or "(the environment's default)"),
            ("issued", f"{token.issued_at:%Y-%m-%d %H:%M:%S} UTC"),
            (
                "expires",
                f"{token.expires_at:%Y-%m-%d %H:%M:%S} UTC" if token.expires_at else "not given",
            ),
            ("refresh token", _refresh_state(session)),
            (
                "auto-refresh",
                "on (kept fresh, after a restart too)"
                if key in self.auto
                else keys_in(self.app, "off ({tokens.auto} toggles)"),
            ),
            *_user_lines(session),
        ):
            text.append(f"{label:>15}: ", style="dim")
            text.append(f"{value}\n")
        return text

    # -- actions --------------------------------------------------------------------------------

    def _refresh(self, session: TokenEntry, *, automatic: bool = False) -> None:
        key = token_key(session)
        self.refreshing.add(key)

        async def work() -> SessionToken:
            try:
                return await self.workspace.tokens.refresh(session)
            finally:
                self.refreshing.discard(key)

        def refreshed(fresh: SessionToken) -> None:
            # The app relays it back here (the row), and a failed refresh no longer needs
            # attention.
            self.app.post_message(TokenFetched(fresh))
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
            self._fetched,
        )

    def _fetched(self, fresh: SessionToken) -> None:
        self.app.post_message(TokenFetched(fresh))

    @on(TokenFetched)
    def _token_fetched(self, message: TokenFetched) -> None:
        # From a worker anywhere (a fetch, a refresh, a sign-in, the palette), relayed by the
        # app; shown now if this section is, else when it is shown again (it reloads then).
        if self.app.current_mode == self.MODE:
            self.reload()

    def select_attention(self, item: Attention) -> None:
        for key in self.row_keys():
            if key.startswith(f"{item.application}/{item.environment}/"):
                self.select_key(key)
                break

    def action_revoke(self) -> None:
        if (session := self._session(self.selected_key())) is None:
            return
        try:
            resolved = self.workspace.environments.resolve(
                session.application_id, session.environment
            )
        except CredenzaError as exc:  # removed elsewhere since the row was drawn
            self.notify(problem(self.app, exc), severity="error", markup=False)
            self.reload()
            return
        how = "Revoke (RFC 7009)" if resolved.revocation_url else "Log out (GET + Bearer)"
        body = f"{resolved.label}: calls that use this token will be refused from now on."
        if session.user:
            who = session.account or "the person signed in"
            body += (
                f" This signs {who} out: the refresh token goes too, and a new token needs a "
                + keys_in(self.app, "new sign-in ({environments.sign_in} on Environments).")
            )

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
                body,
                action="Revoke",
            ),
            confirmed,
        )

    def _revoked(self, outcome: str) -> None:
        self.reload()
        self.notify(f"token {outcome}")

    def action_copy(self) -> None:
        if (entry := self._session(self.selected_key())) is None:
            return

        def copy(session: SessionToken) -> None:
            self.app.copy_to_clipboard(session.token.access_token.reveal())
            self.notify("token copied to the clipboard (OSC 52)")

        self._with_value(entry, copy)

    def action_open(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        if (entry := self._session(self.selected_key())) is None:
            return

        def inspect(session: SessionToken) -> None:
            self.app.push_screen(TokenInspectDialog(self.workspace, session))

        self._with_value(entry, inspect)

    def action_toggle_auto(self) -> None:
        """Keep the token fresh or stop: stored as this person's choice through the workspace
        (the agent keeps it fresh too, and the next dashboard shows it kept)."""
        key = self.selected_key()
        session = self._session(key)
        if key is None or session is None:
            return
        keeping = key not in self.auto
        if keeping:
            self.auto.add(key)
        else:
            self.auto.discard(key)
        self.countdowns.upsert_row(self._row(session))
        self.show_detail()
        tokens = self.workspace.tokens
        app, env = session.application_id, session.environment

        def store() -> None:  # in a worker thread
            if keeping:
                tokens.keep(app, env, session.requested_scopes)
            else:
                tokens.unkeep(app, env)

        async def work() -> None:
            self._storing += 1
            try:
                await self.call(store)
            finally:
                self._storing -= 1

        def stored(_: None) -> None:
            self.notify(
                f"{app} / {env}: "
                + ("kept fresh, also after a restart" if keeping else "no longer kept fresh")
            )

        self.run_task(f"{'keeping' if keeping else 'unkeeping'} {app} / {env}", work(), stored)

    def row_label(self, key: str) -> str | None:
        session = self._session(key)
        if session is None:
            return None
        name = self.workspace.applications.get(session.application_id).name
        return f"{name} / {session.environment}"


def _refresh_state(session: TokenEntry) -> str:
    if not session.refreshable:
        return (
            "no (sign in again when it expires)"
            if session.user
            else ("no (refresh fetches a new token)")
        )
    return "yes (kept in the keyring only)" if session.user else "yes"


def _user_lines(session: TokenEntry) -> list[tuple[str, str]]:
    """A signed-in person's token says whose it is (the JWT's sub; server text, so cleaned)."""
    if not session.user:
        return []
    from credenza.oauth.untrusted import clean

    return [("grant", "user sign-in"), ("account", clean(session.account or "unknown", limit=80))]
