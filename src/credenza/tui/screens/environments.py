"""Environments: client_id, the masked secret, its age, endpoints, scopes; fetch, verify, sign in.

The secret's commands (set, reset, reveal, retire) are in environment_secrets.py, the edits (add,
edit, remove) in environment_edits.py: this screen extends both, and declares every command once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType

from credenza.config.model import Environment
from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.services.status import Attention
from credenza.services.tokens.records import SessionToken
from credenza.services.verification import VerifyResult
from credenza.tui.advice import key_for, keys_in, problem, section_ref
from credenza.tui.advice import said as advised
from credenza.tui.commands import Command, bindings
from credenza.tui.dialogs.sign_in import SignInDialog
from credenza.tui.format import age, clip, expiry, word
from credenza.tui.messages import ConfigChanged, TokenFetched
from credenza.tui.screens.environment_edits import EditCommands
from credenza.tui.screens.environment_secrets import REVEAL_SECONDS, env_key, split_key
from credenza.tui.widgets.table import Cell


class EnvironmentsScreen(EditCommands):
    MODE = "environments"
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("application", "Application"),
        ("environment", "Env"),
        ("client_id", "client_id"),
        ("secret", "Secret"),
        ("age", "Age"),
        ("expires", "Expires"),
        ("auth", "Auth"),
        ("scopes", "Scopes"),
    ]
    NARROW: ClassVar[set[str]] = {"application", "environment", "secret", "age", "expires"}
    SECTION_COMMANDS: ClassVar[tuple[Command, ...]] = (
        Command("fetch", "f", "Fetch", "Fetch token for {row}", "client_credentials grant"),
        Command("set_secret", "s", "Set secret", "Set secret for {row}", "store it in the keyring"),
        Command("reset_secret", "r", "Reset", "Reset secret for {row}", "rotate, verify, record"),
        Command("verify", "t", "Verify", "Verify {row}", "a live token call"),
        Command("edit", "e", "Edit", "Edit {row}", "client_id, endpoints, scopes, secret expiry"),
        Command("add", "a", "Add", "Add environment", "to an application"),
        Command("reveal", "v", "Reveal", "Reveal secret for {row}", "shown for 10 seconds"),
        Command(
            "discover",
            "D",
            "Discover",
            "Discover endpoints for {row}",
            "from the issuer's metadata",
        ),
        Command("sign_in", "l", "Sign in", "Sign in to {row}", "as a user: browser or device code"),
        Command(
            "retire_previous",
            "P",
            "Retire old secret",
            "Retire the previous secret of {row}",
            "overlap rotation: after a reset",
        ),
        Command(
            "remove",
            "delete,d",
            "Remove",
            "Remove {row}",
            "its secret and tokens leave the keyring",
        ),
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings(MODE, SECTION_COMMANDS)

    def __init__(self) -> None:
        super().__init__()
        self._follow_on_resume = True

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        # No keyring read here: whether this person stored a secret comes from their local state
        # (not the shared config), so the section opens at once whatever the number of rows.
        theme = self.app.current_theme
        now = self.credenza.clock()
        warn_days = self.workspace.config.settings.expiry_warning_days
        # One Text per state, shared by the rows; config text stays a str, which the table
        # shows plain (cleaned as it is drawn) without a Text of its own per cell.
        shown, stored = word(theme, "shown", "warn"), Text("•••• stored")
        credentials = self.workspace.credentials
        # With a team store: where the secret lives and its version, as last seen (the store is
        # read by a worker when the section opens, never here).
        in_team = self.workspace.config.team is not None
        missing = word(theme, "not in the team store" if in_team else "not in your keyring", "bad")
        for application in self.workspace.applications.all():
            for name, environment in application.environments.items():
                key = env_key(application.id, name)
                place = None if key in self.revealed else credentials.place(application.id, name)
                if key in self.revealed:
                    secret: Cell = shown
                elif place == "keyring":
                    secret = stored
                elif place is not None:
                    secret = Text(f"•••• {place}")
                else:
                    secret = missing
                yield (
                    key,
                    [
                        application.name,
                        name,
                        environment.client_id,
                        secret,
                        age(self.workspace.credentials.age(application.id, name)),
                        expiry(environment.secret_expires_at, now, warn_days, theme),
                        self.workspace.environments.resolve(
                            application.id, name
                        ).auth_method.replace("client_secret_", ""),
                        clip(" ".join(environment.scopes) or "—"),
                    ],
                )

    def mounted(self) -> None:
        if self.credenza.selected_application:
            self._select_application(self.credenza.selected_application)
        if self.workspace.config.team is not None:
            pairs = [
                (application.id, name)
                for application in self.workspace.applications.all()
                for name in application.environments
            ]
            look = self.workspace.credentials.look_in_team_store
            self.run_task(
                "reading the team store",
                self.call(look, pairs),
                lambda _: self.reload(),
                group="team",
            )

    def on_screen_suspend(self) -> None:
        # Suspended by another section (a mode switch) or by a dialog over this one: only the
        # first comes back to follow the application opened elsewhere. After a dialog the cursor
        # stays on the row it was on, or the next key would act on another environment.
        self._follow_on_resume = self.app.current_mode != self.MODE

    def resumed(self) -> None:
        if self.credenza.selected_application and self._follow_on_resume:
            self._select_application(self.credenza.selected_application)

    def _select_application(self, app_id: str) -> None:
        for key in self._row_keys:
            if split_key(key)[0] == app_id:
                self.select_key(key)
                return
        if self.building:  # its rows are not built yet: the cursor goes there once they are
            try:
                application = self.workspace.applications.get(app_id)
            except CredenzaError:
                return
            for name in application.environments:
                self.select_key(env_key(application.id, name))
                return

    def select_attention(self, item: Attention) -> None:
        if item.environment:
            self.select_key(env_key(item.application, item.environment))

    def empty_detail(self) -> Text:
        said = keys_in(self.app, "No environments yet: press {environments.add} to add one.")
        return Text(said, style="italic")

    def _stored_in(self, app_id: str, env_name: str) -> str | None:
        team = self.workspace.credentials.team_store()
        if team is None:
            return None  # the keyring, as always
        version = team.known(app_id, env_name)[0]
        where = f"the team store ({team.shown(app_id, env_name)} at {team.address}"
        return where + (f", version {version})" if version is not None else ", not seen there)")

    def detail(self, key: str) -> Text:
        app_id, env_name = split_key(key)
        resolved = self.workspace.environments.resolve(app_id, env_name)
        environment = resolved.environment
        text = Text()
        text.append(f"{resolved.label}\n", style="bold")
        secret = self.revealed.get(key)
        edit = key_for(self.app, "environments.edit")
        rows: list[tuple[str, Any]] = [
            ("client_id", environment.client_id),
            (
                "secret",
                f"{secret.reveal()}   (hides in {REVEAL_SECONDS:g} s)"
                if secret
                else keys_in(self.app, "•••••••• ({environments.reveal} reveals)"),
            ),
            ("stored in", self._stored_in(app_id, env_name)),
            ("secret age", age(self.workspace.credentials.age(app_id, env_name))),
            (
                "expires",
                f"{environment.secret_expires_at:%Y-%m-%d} ({edit} changes it)"
                if environment.secret_expires_at
                else f"not recorded ({edit} sets it)",
            ),
            ("issuer", environment.issuer),
            ("token URL", resolved.token_url),
            ("revocation", resolved.revocation_url),
            ("introspection", resolved.introspection_url),
            ("logout", resolved.logout_url),
            ("auth method", resolved.auth_method),
            ("scopes", " ".join(environment.scopes)),
            ("audience", environment.audience),
            ("resource", environment.resource),
            ("API URL", resolved.api_url),
            ("DPoP", "on: tokens bound to this environment's key" if environment.dpop else None),
        ]
        for label, value in rows:
            if value:
                text.append(f"{label:>13}: ", style="dim")
                text.append(f"{clean(value, limit=None)}\n")
        # The profile says how it rotates; the adapter would read the keyring (an admin token).
        rotation = resolved.profile.rotation
        text.append(f"{'rotation':>13}: ", style="dim")
        text.append(
            keys_in(
                self.app,
                "overlap: after a reset both secrets work until {environments.retire_previous} "
                "retires the old one\n",
            )
            if rotation == "overlap"
            else "cut-over: a reset ends the old secret at once\n"
        )
        return text

    def row_label(self, key: str) -> str | None:
        app_id, env_name = split_key(key)
        return f"{self.workspace.applications.get(app_id).name} / {env_name}"

    # -- actions (the secret's and the edits' are in the classes it extends) --------------------

    def action_fetch(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def fetched(session: SessionToken) -> None:
            left = session.token.seconds_left(self.credenza.clock())
            self.notify(
                f"token for {app_id} / {env_name}" + (f", expires in {int(left)} s" if left else "")
            )
            self.set_detail_message(
                f"✓ token fetched: see {section_ref(self.app, 'tokens')}", "good"
            )
            self.app.post_message(TokenFetched(session))

        # A person's token is refreshed from the sign-in (l signs in when there is none).
        self.run_task(
            f"fetching a token for {app_id} / {env_name}",
            self.workspace.tokens.fresh(app_id, env_name),
            fetched,
        )

    def action_verify(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def verified(result: VerifyResult) -> None:
            if result.ok:
                self.notify(f"{app_id} / {env_name}: the credentials work")
                self.set_detail_message("✓ verified: the provider issued a token", "good")
            else:
                said = advised(
                    self.app,
                    result.message,
                    result.hint,
                    result.next_steps,
                    result.status,
                    steps_first=result.status == "config",
                )
                self.notify(said, title=f"verify: {result.status}", severity="error", timeout=8)
                self.set_detail_message(f"✗ {result.status}: {said}", "bad")
            for warning in result.warnings:
                self.notify(warning, severity="warning")

        self.run_task(
            f"verifying {app_id} / {env_name}",
            self.workspace.verification.verify(app_id, env_name),
            verified,
        )

    def action_discover(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        async def work() -> tuple[Environment, dict[str, str]]:
            environment = await self.workspace.environments.discover(app_id, env_name)
            foreign = await asyncio.to_thread(
                self.workspace.credentials.after_discovery, app_id, env_name
            )
            return environment, foreign

        def discovered(result: tuple[Environment, dict[str, str]]) -> None:
            environment, foreign = result
            self.app.post_message(ConfigChanged())
            self.notify(f"token endpoint {environment.token_url}")
            for name, url in foreign.items():
                self.notify(
                    f"the {name.replace('_', ' ')} endpoint {url} is on another origin than the "
                    "secret was confirmed for; nothing is sent there until `credenza secret "
                    f"confirm-endpoint {app_id} {env_name}`",
                    severity="warning",
                    timeout=12,
                )

        self.run_task(f"discovering endpoints for {app_id} / {env_name}", work(), discovered)

    def action_sign_in(self) -> None:
        """Sign in as a user (authorization code in a browser, or a device code)."""
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        from credenza.oauth.grants import declares
        from credenza.oauth.grants.authorization_code import browser_available

        # Over SSH no browser reaches this machine's loopback: the device flow, where declared.
        grants = self.workspace.applications.get(app_id).grant_types
        device = declares(grants, "device_code") and not browser_available()
        try:
            method = self.workspace.sign_in.method(app_id, env_name, device=device)
        except CredenzaError as exc:
            self.notify(problem(self.app, exc), title="sign in", severity="error", timeout=8)
            return

        def done(session: SessionToken | None) -> None:
            if session is None:
                return
            # account is cleaned server text; markup off, so a bracket in a name stays a bracket.
            who = f" as {session.account}" if session.account else ""
            self.notify(f"signed in to {app_id} / {env_name}{who}", markup=False)
            self.set_detail_message(
                f"✓ signed in{who}: see {section_ref(self.app, 'tokens')}", "good"
            )
            self.app.post_message(TokenFetched(session))

        self.app.push_screen(
            SignInDialog(self.workspace, app_id, env_name, method, self.credenza.clock), done
        )
