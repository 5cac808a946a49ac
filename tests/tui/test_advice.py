"""Advice names the key bound now: a key remapped through Textual's keymap is named as remapped,
in the failure advice, the ! list, the header's tabs and the "see Tokens (4)" references."""

from __future__ import annotations

from textual.widgets import Static

from credenza.services.status import KIND_ORDER
from credenza.tui.advice import key_for, said, section_ref
from credenza.tui.app import CredenzaApp
from credenza.tui.dialogs.attention import AttentionDialog
from credenza.tui.sections import SECTIONS, WHERE
from credenza.tui.widgets.mode_bar import ModeTab
from tests.tui.conftest import detail_text, goto, settle

TELENOR = "telenor-sms-gateway/production"


async def test_key_for_names_the_declared_key_then_the_remapped_one(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert key_for(app, "environments.set_secret") == "s"
        assert key_for(app, "environments.discover") == "D"
        assert key_for(app, "app.help") == "?"
        assert "press s to set the secret" in said(app, "no secret", None, (), "missing_secret")
        app.update_keymap({"environments.set_secret": "ctrl+e", "app.tokens": "9"})
        assert key_for(app, "environments.set_secret") == "^e"
        assert "press ^e to set the secret" in said(app, "no secret", None, (), "missing_secret")
        assert section_ref(app, "tokens") == "Tokens (9)"


async def test_a_failure_advises_the_remapped_key(app: CredenzaApp) -> None:
    app.workspace.credentials.remove("telenor-sms-gateway", "production")
    async with app.run_test(size=(100, 40)) as pilot:
        app.set_keymap({"environments.set_secret": "S", "environments.verify": "V"})
        await goto(pilot, "2", TELENOR)
        await pilot.press("V")  # verify, as remapped
        await settle(pilot)
        assert "press S to set the secret" in detail_text(app)
        assert "press s " not in detail_text(app)


async def test_the_attention_list_and_the_tabs_name_remapped_keys(app: CredenzaApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_keymap({"environments.reset_secret": "R", "app.contracts": "c"})
        await settle(pilot)
        tabs = {tab.mode: str(tab.render()) for tab in app.screen.query(ModeTab)}
        assert tabs["contracts"].strip().startswith("c ")
        await pilot.press("exclamation_mark")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AttentionDialog)
        kinds = [item.kind for item in dialog.report.items]
        for _ in range(kinds.index("secret_expiring")):
            await pilot.press("j")
        advice = str(dialog.query_one("#attention-advice", Static).content)
        assert "press R to rotate it" in advice


def test_every_kind_of_attention_is_fixed_in_one_section() -> None:
    assert set(WHERE) == set(KIND_ORDER)
    assert len({section.key for section in SECTIONS}) == len(SECTIONS)


async def test_every_advice_template_names_keys_that_are_bound(app: CredenzaApp) -> None:
    from credenza.tui.advice import STATUS_ADVICE, keys_in

    async with app.run_test(size=(100, 30)):
        templates = [*STATUS_ADVICE.values(), *(words for _, words in WHERE.values())]
        for template in templates:
            said = keys_in(app, template)  # an id no binding has raises KeyError
            assert "{" not in said, said
