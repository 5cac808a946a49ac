"""Environments: client_id, the masked secret, its age, endpoints, scopes; set, reset, verify."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from credenza.config.model import Environment, EnvironmentChange, Rotation
from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.secrets import CheckedSecret, Secret
from credenza.services.environments import ResolvedEnvironment
from credenza.services.resets import ResetResult
from credenza.services.tokens.records import SessionToken
from credenza.services.verification import VerifyResult
from credenza.tui.advice import advice, with_advice
from credenza.tui.dialogs.confirm import ConfirmDialog
from credenza.tui.dialogs.environment_form import EnvironmentForm, EnvironmentTarget
from credenza.tui.dialogs.pending_secret import PendingChoice, PendingSecretDialog
from credenza.tui.dialogs.secret_input import SecretInputDialog
from credenza.tui.dialogs.secret_reset import SecretResetDialog
from credenza.tui.dialogs.sign_in import SignInDialog
from credenza.tui.format import age, clip, expiry, word
from credenza.tui.messages import ConfigChanged, TokenFetched
from credenza.tui.screens.base import Cell, Command, TableScreen

REVEAL_SECONDS = 10.0


def env_key(app_id: str, env_name: str) -> str:
    return f"{app_id}/{env_name}"


def split_key(key: str) -> tuple[str, str]:
    app_id, _, env_name = key.partition("/")
    return app_id, env_name


class EnvironmentsScreen(TableScreen):
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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "fetch", "Fetch", id="environments.fetch"),
        Binding("s", "set_secret", "Set secret", id="environments.set_secret"),
        Binding("r", "reset_secret", "Reset", id="environments.reset_secret"),
        Binding("t", "verify", "Verify", id="environments.verify"),
        Binding("e", "edit", "Edit", id="environments.edit"),
        Binding("a", "add", "Add", id="environments.add"),
        Binding("v", "reveal", "Reveal", id="environments.reveal"),
        Binding("D", "discover", "Discover", id="environments.discover"),
        Binding("l", "sign_in", "Sign in", id="environments.sign_in"),
        Binding("P", "retire_previous", "Retire old secret", id="environments.retire_previous"),
        Binding("delete,d", "remove", "Remove", id="environments.remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed: dict[str, Secret] = {}
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

    def on_mount(self) -> None:
        super().on_mount()
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

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
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

    def empty_detail(self) -> Text:
        return Text("No environments yet: press a to add one.", style="italic")

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
        rows: list[tuple[str, Any]] = [
            ("client_id", environment.client_id),
            (
                "secret",
                f"{secret.reveal()}   (hides in {REVEAL_SECONDS:g} s)"
                if secret
                else "•••••••• (v reveals)",
            ),
            ("stored in", self._stored_in(app_id, env_name)),
            ("secret age", age(self.workspace.credentials.age(app_id, env_name))),
            (
                "expires",
                f"{environment.secret_expires_at:%Y-%m-%d} (e changes it)"
                if environment.secret_expires_at
                else "not recorded (e sets it)",
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
            "overlap: after a reset both secrets work until P retires the old one\n"
            if rotation == "overlap"
            else "cut-over: a reset ends the old secret at once\n"
        )
        return text

    def _selected(self) -> tuple[str, str] | None:
        key = self.selected_key()
        return split_key(key) if key else None

    def _resolved(self, app_id: str, env_name: str) -> ResolvedEnvironment | None:
        """The selected row's environment, or None with the reason said: the row may be stale
        (another process removed or renamed it), and a key press never ends the dashboard."""
        try:
            return self.workspace.environments.resolve(app_id, env_name)
        except CredenzaError as exc:
            self.notify(advice(exc), title=f"{app_id} / {env_name}", severity="error")
            self.post_message(ConfigChanged())  # the rows as the file has them now
            return None

    # -- actions --------------------------------------------------------------------------------

    def action_fetch(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def fetched(session: SessionToken) -> None:
            left = session.token.seconds_left(self.credenza.clock())
            self.notify(
                f"token for {app_id} / {env_name}" + (f", expires in {int(left)} s" if left else "")
            )
            self.set_detail_message("✓ token fetched: see Tokens (4)", "good")
            self.post_message(TokenFetched(session))

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
                said = with_advice(result.message, result.status)
                self.notify(said, title=f"verify: {result.status}", severity="error", timeout=8)
                self.set_detail_message(f"✗ {result.status}: {said}", "bad")
            for warning in result.warnings:
                self.notify(warning, severity="warning")

        self.run_task(
            f"verifying {app_id} / {env_name}",
            self.workspace.verification.verify(app_id, env_name),
            verified,
        )

    def action_set_secret(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def entered(secret: Secret | None) -> None:
            if secret is None:
                return

            def stored(checked: CheckedSecret) -> None:
                self.post_message(ConfigChanged())
                self.notify(
                    f"stored the secret for {app_id} / {env_name} ({checked.secret.masked()})"
                )
                for warning in checked.warnings:
                    self.notify(warning, severity="warning")

            self.run_task(
                "storing the secret in the keyring",
                self.call(self.workspace.credentials.set, app_id, env_name, secret),
                stored,
                group="keyring",
            )

        self.app.push_screen(
            SecretInputDialog(
                f"Set secret · {app_id} / {env_name}",
                "Stored in the OS keyring, never in the config file.",
            ),
            entered,
        )

    def action_reset_secret(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected

        def checked(found: tuple[Secret | None, Rotation | None]) -> None:
            pending, rotation = found
            if pending is None:
                self._open_reset(app_id, env_name, rotation)
            else:
                self._offer_recovery(app_id, env_name, pending.masked())

        async def look() -> tuple[Secret | None, Rotation | None]:
            pending = await self.call(self.workspace.resets.pending, app_id, env_name)
            if pending is not None:
                return pending, None
            try:  # the plan says what the provider really does (the sandbox's record)
                return None, await self.workspace.resets.rotation(app_id, env_name)
            except CredenzaError:
                return None, None  # the dialog then says the profile's word, and fails later

        # A reset left unfinished holds a secret the provider showed once: a new reset would
        # replace it, so finishing that one comes first.
        self.run_task(f"checking {app_id} / {env_name} for an unfinished reset", look(), checked)

    def _offer_recovery(self, app_id: str, env_name: str, masked: str) -> None:
        label = f"{app_id} / {env_name}"

        def recovered(result: ResetResult | None) -> None:
            self.post_message(ConfigChanged())
            if result is None:
                self.set_detail_message("nothing was pending any more", "info")
                return
            lines = ["✓ the secret the provider issued is stored as the current one"]
            lines += [f"⚠ {warning}" for warning in result.warnings]
            self.set_detail_message("\n".join(lines), "good" if result.verified else "warn")
            self.notify(f"reset of {label} finished")

        def discarded(found: bool) -> None:
            self.post_message(ConfigChanged())
            self.set_detail_message(
                "the pending secret is discarded; the current one is unchanged"
                if found
                else "nothing was pending any more",
                "info",
            )

        def sure(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"discarding the pending secret of {label}",
                    self.workspace.resets.discard_pending(app_id, env_name),
                    discarded,
                )

        def chosen(choice: PendingChoice | None) -> None:
            if choice == "finish":
                self.run_task(
                    f"finishing the reset of {label}",
                    self.workspace.resets.recover(app_id, env_name),
                    recovered,
                )
            elif choice == "discard":
                self.app.push_screen(
                    ConfirmDialog(
                        f"Discard the pending secret of {label}?",
                        f"The pending secret ({masked}) is deleted from your keyring. A secret "
                        "shown once is not shown again; the current secret stays.",
                        action="Discard",
                        type_to_confirm=env_name,
                    ),
                    sure,
                )

        self.app.push_screen(PendingSecretDialog(label, masked), chosen)

    def _open_reset(self, app_id: str, env_name: str, rotation: Rotation | None = None) -> None:
        def done(result: ResetResult | None) -> None:
            self.post_message(ConfigChanged())
            if result is not None:
                self.notify(f"secret of {app_id} / {env_name} rotated")

        try:
            dialog = SecretResetDialog(self.workspace, app_id, env_name, rotation=rotation)
        except CredenzaError as exc:  # a key or a public client: nothing to reset
            self.notify(str(exc), title="reset", severity="error", timeout=8)
            return
        self.app.push_screen(dialog, done)

    def action_reveal(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        app_id, env_name = split_key(key)

        def shown(secret: Secret) -> None:
            self.revealed[key] = secret
            self.reload()
            self.set_timer(REVEAL_SECONDS, lambda: self._hide(key))

        self.run_task(
            "reading the keyring",
            self.call(self.workspace.credentials.reveal, app_id, env_name),
            shown,
            group="keyring",
        )

    def _hide(self, key: str) -> None:
        if self.revealed.pop(key, None) is not None and self.is_mounted:
            self.reload()

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
            self.post_message(ConfigChanged())
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
        from credenza.oauth.grants import declares_device_flow
        from credenza.oauth.grants.authorization_code import browser_available

        # Over SSH no browser reaches this machine's loopback: the device flow, where declared.
        grants = self.workspace.applications.get(app_id).grant_types
        device = declares_device_flow(grants) and not browser_available()
        try:
            method = self.workspace.sign_in.method(app_id, env_name, device=device)
        except CredenzaError as exc:
            self.notify(str(exc), title="sign in", severity="error", timeout=8)
            return

        def done(session: SessionToken | None) -> None:
            if session is None:
                return
            # account is cleaned server text; markup off, so a bracket in a name stays a bracket.
            who = f" as {session.account}" if session.account else ""
            self.notify(f"signed in to {app_id} / {env_name}{who}", markup=False)
            self.set_detail_message(f"✓ signed in{who}: see Tokens (4)", "good")

        self.app.push_screen(
            SignInDialog(self.workspace, app_id, env_name, method, self.credenza.clock), done
        )

    def _form(self, target: EnvironmentTarget | None, app_id: str | None) -> EnvironmentForm:
        workspace = self.workspace
        # The file as the form saw it: a change made meanwhile (the CLI) is a conflict, not lost.
        opened = workspace.config_digest

        async def save(app: str, name: str, change: EnvironmentChange) -> Environment:
            if target is None:
                return await self.call(workspace.environments.add, app, name, change)
            return await self.call(workspace.environments.edit, app, name, change, expected=opened)

        return EnvironmentForm(
            save,
            workspace.environments.endpoints_from_issuer,
            applications=[(a.name, a.id) for a in workspace.applications.all()],
            target=target,
            app_id=app_id,
            warnings=workspace.environments.client_id_warnings,
        )

    def action_add(self) -> None:
        selected = self._selected()
        app_id = selected[0] if selected else self.credenza.selected_application
        if not self.workspace.applications.all():
            self.notify("add an application first (1, then a)", severity="warning")
            return

        def added(environment: Environment | None) -> None:
            if environment is not None:
                self.post_message(ConfigChanged())
                self.notify("environment added: press s to store its secret")

        self.app.push_screen(self._form(None, app_id), added)

    def action_edit(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return
        target = EnvironmentTarget(app_id, env_name, resolved.environment)

        def edited(result: Environment | None) -> None:
            if result is not None:
                self.post_message(ConfigChanged())
                self.notify(f"saved {app_id} / {env_name}")

        self.app.push_screen(self._form(target, app_id), edited)

    def action_retire_previous(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return

        def known(rotation: Rotation) -> None:
            # The provider's own record (the sandbox's client), not the profile's default.
            if rotation != "overlap":
                self.notify(
                    f"{resolved.label}: the provider rotates by cut-over, so a reset already "
                    "ended the old secret; there is nothing to retire",
                    severity="warning",
                )
                return
            self.app.push_screen(
                ConfirmDialog(
                    f"Retire the previous secret of {resolved.label}?",
                    "Do this once every system that used the old secret uses the new one: from "
                    "now on the provider refuses the old secret.",
                    action="Retire",
                ),
                confirmed,
            )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"retiring the previous secret of {app_id} / {env_name}",
                    self.workspace.resets.retire_previous(app_id, env_name),
                    lambda _: self.set_detail_message(
                        "✓ the previous secret is retired: only the new one works", "good"
                    ),
                )

        self.run_task(
            f"asking how {app_id} / {env_name} rotates",
            self.workspace.resets.rotation(app_id, env_name),
            known,
        )

    def action_remove(self) -> None:
        if (selected := self._selected()) is None:
            return
        app_id, env_name = selected
        if (resolved := self._resolved(app_id, env_name)) is None:
            return
        body = (
            f"This removes the environment {env_name} of {resolved.application.name} from the "
            "config, and deletes its secret and cached tokens from your keyring. The provider "
            "keeps the client: revoke it there if nothing uses it any more."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_task(
                    f"removing {app_id} / {env_name}",
                    self.call(self.workspace.environments.remove, app_id, env_name),
                    lambda _: self._removed(env_key(app_id, env_name), resolved.label),
                    group="config",
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove {resolved.label}?",
                body,
                action="Remove",
                # As for a production reset, the application's name is typed: one key is too little.
                type_to_confirm=resolved.application.name if env_name == "production" else None,
            ),
            confirmed,
        )

    def _removed(self, key: str, label: str) -> None:
        self.revealed.pop(key, None)
        self.post_message(ConfigChanged())
        self.notify(f"removed {label}")

    def commands(self) -> list[Command]:
        key = self.selected_key()
        if key is None:
            return []
        app_id, env_name = split_key(key)
        label = f"{self.workspace.applications.get(app_id).name} / {env_name}"
        return [
            (f"Fetch token for {label}", "client_credentials grant", self.action_fetch),
            (f"Verify {label}", "a live token call", self.action_verify),
            (f"Set secret for {label}", "store it in the keyring", self.action_set_secret),
            (f"Reset secret for {label}", "rotate, verify, record", self.action_reset_secret),
            (f"Reveal secret for {label}", "shown for 10 seconds", self.action_reveal),
            (f"Discover endpoints for {label}", "from the issuer's metadata", self.action_discover),
            (f"Sign in to {label}", "as a user: browser or device code", self.action_sign_in),
            (f"Edit {label}", "client_id, endpoints, scopes, secret expiry", self.action_edit),
            (
                f"Retire the previous secret of {label}",
                "overlap rotation: after a reset",
                self.action_retire_previous,
            ),
            (f"Remove {label}", "its secret and tokens leave the keyring", self.action_remove),
            ("Add environment", "to an application", self.action_add),
        ]
