"""The dashboard app: four sections as modes, keys, the command palette, and safe crashes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from credenza.errors import CredenzaError
from credenza.oauth.untrusted import clean
from credenza.services.context import utc_now
from credenza.tui.advice import key_for, problem, section_ref
from credenza.tui.messages import ConfigChanged, TaskFailed, TokenFetched
from credenza.tui.screens.base import TableScreen
from credenza.tui.sections import BY_MODE, SECTIONS, WHERE
from credenza.tui.stylesheet import KeptParseStylesheet
from credenza.workspace import Workspace

if TYPE_CHECKING:
    from credenza.services.status import Attention
    from credenza.services.tokens.records import SessionToken

# Binding ids whose keys the help lists with the table's and Textual's own.
TABLE_KEYS = "countdown."


class CredenzaApp(App[None]):
    """The dashboard over one workspace. The workspace (and a clock, for tests) are handed in."""

    CSS_PATH = Path(__file__).parent / "credenza.tcss"  # absolute: subclasses live elsewhere
    TITLE = "credenza"
    # The sections' screens are imported when first shown (~15 ms of imports in front of the
    # first frame for the three not shown first).
    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = {
        section.mode: section.make_screen for section in SECTIONS
    }
    DEFAULT_MODE = SECTIONS[0].mode
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                section.key,
                f"switch_mode('{section.mode}')",
                section.title,
                show=False,
                id=section.binding_id,
            )
            for section in SECTIONS
        ),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("exclamation_mark", "attention", "Needs attention", show=False, id="app.attention"),
        Binding("q", "quit", "Quit", show=False, id="app.quit"),
    ]

    def __init__(
        self, workspace: Workspace, *, clock: Callable[[], datetime] = utc_now, demo_label: str = ""
    ) -> None:
        super().__init__()
        self.stylesheet = KeptParseStylesheet(variables=self.get_css_variables())
        self.workspace = workspace
        self.clock = clock
        self.demo_label = demo_label
        self.selected_application: str | None = None
        self.attention_count: int | None = None  # None until first worked out
        self._held_notifications: list[tuple[str, str, SeverityLevel, float | None]] = []

    def on_mount(self) -> None:
        saved = self.workspace.preferences.theme
        if saved in self.available_themes:
            self.theme = saved
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        # After the first frame: the report walks every application (its checklist), and a
        # thread doing that would take the GIL from the rows being drawn.
        self.call_after_refresh(self.work_out_attention)

    def _theme_changed(self, theme: object) -> None:
        # Kept for the next start, off the event loop (a file write).
        self.run_worker(
            lambda: self.workspace.preferences.set_theme(self.theme),
            thread=True,
            group="preferences",
            exclusive=True,
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is plain text: messages carry provider and config words, which must
        neither run markup (`[@click=...]`) nor reach the terminal with an escape sequence.
        A toast never covers a dialog: one raised while a dialog is open is held, and shown
        when the dialog closes (the stylesheet hides those already shown meanwhile)."""
        held = (clean(message, limit=600), clean(title, limit=120), severity, timeout)
        if isinstance(self.screen, ModalScreen):
            self._held_notifications.append(held)
            return
        self._toast(*held)

    def release_notifications(self) -> None:
        """Show the toasts held while a dialog was open (a section calls it on resuming)."""
        held, self._held_notifications = self._held_notifications, []
        for notification in held:
            self._toast(*notification)

    def _toast(
        self, message: str, title: str, severity: SeverityLevel, timeout: float | None
    ) -> None:
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    async def on_unmount(self) -> None:
        await self.workspace.aclose()

    def action_help(self) -> None:
        """credenza's own keys first (this section's, then the app's), Textual's after."""
        screen = self.screen
        own: list[tuple[str, str]] = []
        built_in: list[tuple[str, str]] = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            entry = (binding.key_display or self.get_key_display(binding), binding.description)
            # Every credenza binding has an id; Textual's own (the table's, ctrl+q) do not, and
            # the countdown list's cursor keys stand in for the table's.
            theirs = not binding.id or binding.id.startswith(TABLE_KEYS)
            (built_in if theirs else own).append(entry)
        # The section's own keys first, then the table's and the app's.
        section_keys = {b.description for b in type(screen).BINDINGS if isinstance(b, Binding)}
        own.sort(key=lambda entry: entry[1] not in section_keys)
        own += [
            ("click", "a section's tab in the header; the count there lists what is due"),
        ]
        section = BY_MODE[self.current_mode].title if self.current_mode in BY_MODE else ""
        from credenza.tui.dialogs.help import HelpDialog

        self.push_screen(
            HelpDialog(section, list(dict.fromkeys(own)), list(dict.fromkeys(built_in)))
        )

    # -- what needs attention -------------------------------------------------------------------

    # Workers post their results on the app; it works out the count again and relays them to
    # every section (each reacts with @on; one not shown catches up when shown again).

    @on(ConfigChanged)
    def _config_changed(self, message: ConfigChanged) -> None:
        self.work_out_attention()
        self._relay(message)

    @on(TokenFetched)
    def _token_fetched(self, message: TokenFetched) -> None:
        self.work_out_attention()
        self._relay(message)

    @on(TaskFailed)
    def _task_failed(self, message: TaskFailed) -> None:
        # A failed refresh is something that needs attention (the status report says so).
        self.work_out_attention()

    def _relay(self, message: ConfigChanged | TokenFetched) -> None:
        for screen in self.sections():
            screen.post_message(message)  # messages that do not bubble back up to the app

    def sections(self) -> list[TableScreen]:
        """The section screens made so far, in every mode's stack."""
        made: list[TableScreen] = []
        for section in SECTIONS:
            try:
                stack = self.get_screen_stack(section.mode)
            except KeyError:  # not shown yet
                continue
            made += [screen for screen in stack if isinstance(screen, TableScreen)]
        return made

    def work_out_attention(self) -> None:
        """The header's count: the workspace's status report, off the event loop; a newer
        request drops an older one. Without a keyring read: unfinished resets come from the
        marks this person's credenza keeps beside the keyring's pending secrets (the ! list and
        `credenza status` read the keyring itself and correct the marks)."""

        async def work() -> None:
            try:
                due = await asyncio.to_thread(self.workspace.status.due_count, check_keyring=False)
            except CredenzaError:
                return  # the count stays as it was; the sections show the error themselves
            self.attention_count = due
            for screen in self.screen_stack:
                if isinstance(screen, TableScreen):
                    screen.show_attention()

        self.run_worker(work(), group="attention", exclusive=True, exit_on_error=False)

    def action_attention(self) -> None:
        """List what needs attention; the item chosen opens its section on its row."""
        from credenza.tui.dialogs.attention import AttentionDialog

        async def work() -> None:
            try:
                report = await asyncio.to_thread(self.workspace.status.report)
            except CredenzaError as exc:
                self.notify(problem(self, exc), title="what needs attention", severity="error")
                return
            self.attention_count = len(report.due)
            for screen in self.screen_stack:
                if isinstance(screen, TableScreen):
                    screen.show_attention()
            self.push_screen(AttentionDialog(report), self._chosen)

        if not isinstance(self.screen, AttentionDialog):
            self.run_worker(work(), group="attention-list", exclusive=True, exit_on_error=False)

    async def _chosen(self, item: Attention | None) -> None:
        if item is not None:
            await self.go_to(item)

    async def go_to(self, item: Attention) -> None:
        """The section and row where ``item`` is fixed."""
        section, _ = WHERE[item.kind]
        self.selected_application = item.application
        await self.switch_mode(section.mode)
        screen = self.screen
        if isinstance(screen, TableScreen):
            screen.select_attention(item)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for section in SECTIONS:
            yield SystemCommand(
                section.palette,
                f"{section.help} (key {key_for(self, section.binding_id)})",
                self._switcher(section.mode),
            )
        if isinstance(screen, TableScreen):
            for title, help_text, callback in screen.commands():
                yield SystemCommand(title, help_text, callback)
        from credenza.oauth.grants import token_grant

        for application in self.workspace.applications.all():
            # Only where the client gets its own token: a person's comes from signing in (l).
            if token_grant(application.grant_types) != "client_credentials":
                continue
            for env_name in application.environments:
                yield SystemCommand(
                    f"Fetch token for {application.name} / {env_name}",
                    f"client_credentials grant; see {section_ref(self, 'tokens')}",
                    self._fetcher(application.id, env_name),
                )

    def _switcher(self, mode: str) -> Callable[[], None]:
        def switch() -> None:
            self.switch_mode(mode)

        return switch

    def _fetcher(self, app_id: str, env_name: str) -> Callable[[], None]:
        def fetch() -> None:
            # The palette may still be on top when this runs: use the section beneath it.
            screen = next(
                (s for s in reversed(self.screen_stack) if isinstance(s, TableScreen)), None
            )
            if screen is not None:
                screen.run_task(
                    f"fetching a token for {app_id} / {env_name}",
                    self.workspace.tokens.fetch(app_id, env_name),
                    lambda session: self._fetched(session, f"{app_id} / {env_name}"),
                )

        return fetch

    def _fetched(self, session: SessionToken, label: str) -> None:
        self.notify(f"token for {label}: see {section_ref(self, 'tokens')}")
        self.post_message(TokenFetched(session))

    def _fatal_error(self) -> None:
        # Textual's own crash report prints every frame's local variables, secrets included.
        # credenza's shows the frames without them, and the app still exits non-zero.
        import rich
        from rich.traceback import Traceback

        self.bell()
        self._exit_renderables.append(Traceback(show_locals=False, width=None, suppress=[rich]))
        self._close_messages_no_wait()


def run_dashboard(workspace: Workspace, *, demo_label: str = "") -> int:
    """Run the dashboard; the exit code is non-zero after a crash."""
    app = CredenzaApp(workspace, demo_label=demo_label)
    app.run()
    return app.return_code or 0
