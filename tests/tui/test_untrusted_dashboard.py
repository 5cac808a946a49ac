"""The dashboard against a hostile server: numbers no clock can hold, escapes, markup, echoes.

What a server or a config string says is shown as plain text: no control character reaches the
screen, no `[@click=...]` runs, an `exp` of 10**15 is said to be out of range.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.token_inspect import TokenInspectDialog
from credenza.tui.widgets.table import VimTable
from credenza.workspace import Workspace
from tests.hostile import (
    ESCAPES,
    control_characters,
    echo_in,
    hostile,
    json_answer,
    jwt,
    leaks,
    token,
)
from tests.tui.conftest import FrozenClock, detail_text, goto, settle

SECRET = "cAnArY-3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e"


def all_text(app: CredenzaApp) -> str:
    """Every Static on the current screen, the toasts, and the table cells."""
    parts = []
    for widget in app.screen.query(Static):
        content = widget.content
        parts.append(content.plain if isinstance(content, Text) else str(content))
    parts += [f"{n.title} {n.message}" for n in app._notifications]
    return "\n".join(parts)


def add_app(workspace: Workspace, issuer: str, name: str = "Hostile", **fields: Any) -> str:
    app_id = workspace.applications.add(name, ApplicationChange(**fields)).id
    workspace.environments.add(
        app_id,
        "production",
        EnvironmentChange(
            client_id="hostile-client",
            token_url=f"{issuer}/token",
            introspection_url=f"{issuer}/introspect",
        ),
    )
    workspace.credentials.set(app_id, "production", SECRET)
    return app_id


async def test_inspect_with_an_exp_of_10_to_the_15_says_out_of_range(workspace: Workspace) -> None:
    claims = {"sub": "me", "exp": 10**15, "iat": 1_700_000_000}
    with hostile() as (script, server):
        script.on("/token", token(jwt(claims), expires_in=300))
        script.on("/introspect", json_answer({"active": True, "exp": 10**15}))
        app_id = add_app(workspace, server.issuer)
        session, _ = await workspace.tokens.token(app_id, "production")
        app = CredenzaApp(workspace, clock=FrozenClock())
        async with app.run_test(size=(120, 40)) as pilot:
            await goto(pilot, "4", f"{app_id}/production/{' '.join(session.requested_scopes)}")
            await pilot.press("i")
            await settle(pilot)
            assert isinstance(app.screen, TokenInspectDialog)
            texts = all_text(app)
    assert texts.count("out of range") == 2  # the JWT's exp and the introspection's
    assert "2023-11-14" in texts  # a real iat is still a date
    assert "Introspection (RFC 7662): active" in texts


async def test_escapes_and_markup_from_config_and_server_are_shown_plain(
    workspace: Workspace,
) -> None:
    description = f"desc{ESCAPES}[@click=app.quit]click me[/]"
    with hostile() as (script, server):
        script.on("/token", echo_in("description", status=401))
        app_id = add_app(workspace, server.issuer, name="Esc [b]bold[/b]", description=description)
        app = CredenzaApp(workspace, clock=FrozenClock())
        async with app.run_test(size=(120, 40)) as pilot:
            await goto(pilot, "1", app_id)
            shown = detail_text(app) + all_text(app)
            # The name as typed, drawn plain: a str cell would be parsed as markup (bold).
            table = app.screen.query_one("#table", VimTable)
            drawn = "\n".join(table.render_line(y).text for y in range(table.size.height))
            assert "Esc [b]bold[/b]" in drawn
            await goto(pilot, "2", f"{app_id}/production")
            await pilot.press("t")  # verify: the server echoes the request into its error
            await settle(pilot)
            await pilot.press("f")  # fetch: the same echo, as a toast
            await settle(pilot)
            shown += detail_text(app) + all_text(app)
            assert app.is_running
    assert control_characters(shown) == []
    assert "pwned" not in shown
    assert leaks(shown, SECRET, "hostile-client") == []
    assert "[redacted]" in shown


async def test_a_dialog_title_shows_an_application_name_as_written(workspace: Workspace) -> None:
    from textual.widgets import Label

    from credenza.tui.dialogs.secret_reset import SecretResetDialog

    name = "Acme [bold]x[/bold] [@click=app.quit]y[/]"
    with hostile() as (_, server):
        app_id = add_app(workspace, server.issuer, name=name)
        app = CredenzaApp(workspace, clock=FrozenClock())
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(SecretResetDialog(workspace, app_id, "production"))
            await settle(pilot)
            titles = [str(label.render()) for label in app.screen.query(Label)]
            assert f"Reset secret · {name} / production" in titles
            assert app.is_running
