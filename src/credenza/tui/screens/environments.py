"""Environments: client_id, the masked secret, its age, endpoints, scopes; set, reset, verify."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from credenza.config.model import Environment
from credenza.errors import CredenzaError
from credenza.secrets import CheckedSecret, Secret
from credenza.services.credentials import ResetResult
from credenza.services.tokens import SessionToken
from credenza.services.verification import VerifyResult
from credenza.tui.dialogs.secret_input import SecretInputDialog
from credenza.tui.dialogs.secret_reset import SecretResetDialog
from credenza.tui.dialogs.sign_in import SignInDialog
from credenza.tui.format import age, clip, word
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
        ("age", "Secret age"),
        ("auth", "Auth"),
        ("scopes", "Scopes"),
    ]
    NARROW: ClassVar[set[str]] = {"application", "environment", "secret", "age", "auth"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "fetch", "Fetch", id="environments.fetch"),
        Binding("s", "set_secret", "Set secret", id="environments.set_secret"),
        Binding("r", "reset_secret", "Reset", id="environments.reset_secret"),
        Binding("v", "reveal", "Reveal", id="environments.reveal"),
        Binding("t", "verify", "Verify", id="environments.verify"),
        Binding("D", "discover", "Discover", id="environments.discover"),
        Binding("l", "sign_in", "Sign in", id="environments.sign_in"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed: dict[str, Secret] = {}

    def rows(self) -> Iterable[tuple[str, list[Cell]]]:
        # No keyring read here: whether this person stored a secret comes from their local state
        # (not the shared config), so the section opens at once whatever the number of rows.
        theme = self.app.current_theme
        for application in self.workspace.applications.all():
            for name, environment in application.environments.items():
                key = env_key(application.id, name)
                if key in self.revealed:
                    secret: Cell = word(theme, "shown", "warn")
                elif self.workspace.credentials.stored_at(application.id, name) is not None:
                    secret = Text("•••••••• stored")
                else:
                    secret = word(theme, "not in your keyring", "bad")
                yield (
                    key,
                    [
                        application.name,
                        name,
                        environment.client_id,
                        secret,
                        age(self.workspace.credentials.age(application.id, name)),
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

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.credenza.selected_application:
            self._select_application(self.credenza.selected_application)

    def _select_application(self, app_id: str) -> None:
        for key in self._row_keys:
            if split_key(key)[0] == app_id:
                self.select_key(key)
                return

    def empty_detail(self) -> Text:
        return Text("No environments yet: add one with `credenza env add`.", style="italic")

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
            ("secret age", age(self.workspace.credentials.age(app_id, env_name))),
            (
                "expires",
                f"{environment.secret_expires_at:%Y-%m-%d}"
                if environment.secret_expires_at
                else None,
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
        ]
        for label, value in rows:
            if value:
                text.append(f"{label:>13}: ", style="dim")
                text.append(f"{value}\n")
        return text

    def _selected(self) -> tuple[str, str] | None:
        key = self.selected_key()
        return split_key(key) if key else None

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

        self.run_task(
            f"fetching a token for {app_id} / {env_name}",
            self.workspace.tokens.fetch(app_id, env_name),
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
                self.notify(
                    result.message, title=f"verify: {result.status}", severity="error", timeout=8
                )
                self.set_detail_message(f"✗ {result.status}: {result.message}", "bad")
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
                self.reload()
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

        def done(result: ResetResult | None) -> None:
            self.reload()
            if result is not None:
                self.notify(f"secret of {app_id} / {env_name} rotated")

        try:
            dialog = SecretResetDialog(self.workspace, app_id, env_name)
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
            self.reload()
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
            who = f" as {session.account}" if session.account else ""
            self.notify(f"signed in to {app_id} / {env_name}{who}")
            self.set_detail_message(f"✓ signed in{who}: see Tokens (4)", "good")

        self.app.push_screen(
            SignInDialog(self.workspace, app_id, env_name, method, self.credenza.clock), done
        )

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
        ]
