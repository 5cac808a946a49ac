"""Inspect a token: its JWT header and claims decoded locally, and the provider's introspection."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from credenza.errors import CredenzaError
from credenza.oauth.tokens import decode_jwt, describe_claims
from credenza.oauth.untrusted import clean

if TYPE_CHECKING:
    from credenza.services.tokens.records import SessionToken
    from credenza.workspace import Workspace


def _pretty(data: dict[str, object]) -> str:
    # Claims and introspection fields are the server's words: cleaned, and times that are not
    # dates (an exp of 10**15) said to be out of range instead of crashing the dialog.
    return "\n".join(f"  {key}: {value}" for key, value in describe_claims(data))


class TokenInspectDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="token_inspect.close")
    ]

    def __init__(self, workspace: Workspace, session: SessionToken) -> None:
        super().__init__(classes="dialog")
        self.workspace = workspace
        self.session = session

    def compose(self) -> ComposeResult:
        parts = decode_jwt(self.session.token.access_token.reveal())
        if parts is None:
            local = "Not a JWT: an opaque token (only the provider can say what it means)."
        else:
            local = f"Header\n{_pretty(parts.header)}\n\nClaims (decoded locally, signature not checked)\n{_pretty(parts.claims)}"
        identity = self.session.identity_claims
        if self.session.user:
            local += f"\n\nSigned in as: {self.session.account or 'not said'}"
        if identity is not None:
            # Checked (signature, issuer, audience, times, nonce) before it was kept.
            local += f"\nid_token claims (checked at sign-in)\n{_pretty(identity)}"
        with VerticalScroll(classes="dialog-box inspect"):
            yield Label(
                f"Token · {self.session.application_id} / {self.session.environment}",
                classes="dialog-title",
            )
            yield Static(local, markup=False)
            yield Static("\nIntrospection: asking the provider…", id="introspection", markup=False)

    def on_mount(self) -> None:
        self.run_worker(self._introspect(), exclusive=True, group="introspect")

    async def _introspect(self) -> None:
        box = self.query_one("#introspection", Static)
        try:
            result = await self.workspace.tokens.introspect(self.session)
        except CredenzaError as exc:
            box.update(f"\nIntrospection: {clean(exc, limit=500)}")
            return
        state = "active" if result.get("active") else "NOT active (revoked or expired)"
        box.update(f"\nIntrospection (RFC 7662): {state}\n{_pretty(result)}")

    def action_close(self) -> None:
        self.dismiss(None)
