"""What to do next, in keys: the dashboard's advice for each failure (the CLI names commands).

A key is named from its binding id (``key_for(app, "environments.set_secret")``), so a key
remapped through Textual's keymap (App.set_keymap / update_keymap) is named as the user bound it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import import_module
from typing import Any

from textual.app import App
from textual.binding import Binding

from credenza.errors import (
    ConfigConflictError,
    CredenzaError,
    EndpointChangedError,
    ErrorKind,
    OAuthError,
    SecretMissingError,
    SecretStoreError,
    SignInRequiredError,
    TokenEndpointError,
)
from credenza.next_steps import Advice, NextStep, StepKind, fill, words
from credenza.services.verification import VerifyStatus
from credenza.tui.sections import BY_MODE, SECTIONS

# Keys of the Environments section, where every credential can be fixed: templates whose
# {binding.id} is the key bound to that id now ({app.tokens}: the Tokens section's key).
STATUS_ADVICE: dict[VerifyStatus, str] = {
    "ok": "",
    "missing_secret": "press {environments.set_secret} to set the secret",
    "keyring": (
        "unlock the keyring (or start its service), then press {environments.verify} to try again"
    ),
    "config": (
        "press {environments.edit} to fix the environment, then {environments.verify} to verify"
    ),
    "wrong_secret": (
        "press {environments.set_secret} to set the right secret, "
        "or {environments.reset_secret} to reset it"
    ),
    "wrong_auth_method": "press {environments.edit} and change the auth method (basic or post)",
    "unknown_client": (
        "press {environments.edit} to check the client_id against the provider's portal"
    ),
    "grant_not_allowed": "the client may not use this grant: enable it in the provider's portal",
    "scope": (
        "press {environments.edit} to change the scopes, or request access on Contracts "
        "({app.contracts}, then {contracts.request})"
    ),
    "provider": "press the same key to try again; if it persists, ask the provider",
    "sign_in": (
        "press {environments.sign_in} to sign in (the token is then on Tokens, {app.tokens})"
    ),
    "unreachable": (
        "press {environments.edit} to check the token URL "
        "(or {environments.discover} to discover it), then try again"
    ),
}

_PLACEHOLDER = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")


def key_for(app: App[Any], binding_id: str) -> str:
    """The key bound to ``binding_id`` now, as the footer shows it (the first, if several).

    The app's keymap wins (it is what Textual applies to the bindings); else the key the
    binding declares. KeyError for an id no credenza binding has.
    """
    binding = _declared(type(app), binding_id)
    # Textual keeps the keymap it applies in App._keymap and offers no public reader.
    remapped = app._keymap.get(binding_id)
    if remapped is not None:
        binding = binding.with_key(remapped, key_display=None)
    first = binding.key.split(",")[0].strip()
    return app.get_key_display(binding.with_key(first, binding.key_display))


def keys_in(app: App[Any], template: str) -> str:
    """``template`` with each {binding.id} replaced by the key bound to it now."""
    return _PLACEHOLDER.sub(lambda match: key_for(app, match.group(1)), template)


def section_ref(app: App[Any], mode: str) -> str:
    """A section as advice names it: "Tokens (4)", with the key bound to it now."""
    section = BY_MODE[mode]
    return f"{section.title} ({key_for(app, section.binding_id)})"


def _declared(app_type: type[App[Any]], binding_id: str) -> Binding:
    """The binding with ``binding_id`` as declared: the app's own first (the mode bar names
    the sections' keys before any other section is imported), then the sections'."""
    found = _bindings((app_type,)).get(binding_id)
    if found is None:
        found = _section_bindings()[binding_id]
    return found


@cache
def _section_bindings() -> dict[str, Binding]:
    """Every binding with an id the sections (and their tables) declare."""
    from textual.dom import DOMNode

    from credenza.tui.widgets.countdown import CountdownList
    from credenza.tui.widgets.table import VimTable

    classes: list[type[DOMNode]] = [VimTable, CountdownList]
    for section in SECTIONS:
        module, _, name = section.screen.partition(":")
        classes.append(getattr(import_module(module), name))
    return _bindings(tuple(classes))


@cache
def _bindings(classes: tuple[type[Any], ...]) -> dict[str, Binding]:
    found: dict[str, Binding] = {}
    for cls in classes:
        for klass in cls.__mro__:
            for binding in getattr(klass, "BINDINGS", ()):
                if isinstance(binding, Binding) and binding.id:
                    found.setdefault(binding.id, binding)
    return found


def kind_of(error: CredenzaError) -> VerifyStatus:
    """The verify status an error corresponds to, for errors from any action."""
    from credenza.oauth.answers import error_kind

    if isinstance(error, SecretMissingError):
        return "missing_secret"
    if isinstance(error, SecretStoreError):
        return "keyring"
    if isinstance(error, SignInRequiredError):
        return "sign_in"
    if isinstance(error, OAuthError) and not isinstance(error, EndpointChangedError):
        kind: ErrorKind = error_kind(error)
        return kind
    return "config"


def advice(app: App[Any], error: CredenzaError) -> str:
    """One line: what happened (without the CLI's hint) and what to press."""
    if isinstance(error, ConfigConflictError):
        return f"{error.message}; close this and open it again to see the other change"
    if isinstance(error, EndpointChangedError):
        return f"{error.message}; " + keys_in(
            app, "press {environments.set_secret} to store the secret again for the new endpoint"
        )
    # The provider's answer: the advice for its kind says more than a generic step's key.
    steps_first = not isinstance(error, TokenEndpointError)
    return said(app, error.message, None, error.next_steps, kind_of(error), steps_first=steps_first)


def problem(app: App[Any], error: CredenzaError) -> str:
    """An error as the dashboard says it: its next steps as keys (``advice``), or, when it has
    none, its message and its hint in plain words."""
    return advice(app, error) if error.next_steps else str(error)


def said(
    app: App[Any],
    message: str,
    hint: str | None,
    steps: tuple[NextStep, ...],
    status: VerifyStatus,
    *,
    steps_first: bool = True,
) -> str:
    """``message`` and what to press: the keys of its next steps (with ``steps_first``, or
    where the status has no advice of its own), else the status's advice; a hint in plain
    words (no steps) is kept before it."""
    keys = [key for key in (press(app, each) for each in steps) if key]
    if keys and (steps_first or status == "config"):
        return f"{message} — {', or '.join(keys)}"
    head = f"{message} — {hint}" if hint and not steps else message
    keys_for_status = keys_in(app, STATUS_ADVICE.get(status, ""))
    return f"{head} — {keys_for_status}" if keys_for_status else head


# Each next step the dashboard takes with a key: what to press, a template whose {binding.id}
# names the key bound now. A step no key takes (choosing the file keyring) is not here.
STEP_KEYS: dict[StepKind, str] = {
    "set_secret": "press {environments.set_secret} to set the secret",
    "recover_secret": "press {environments.reset_secret} on this row to recover the pending secret",
    "discard_pending": (
        "press {environments.reset_secret} on this row to discard the pending secret"
    ),
    "retire_previous": "press {environments.retire_previous} on this row to retire the old secret",
    "verify": "press {environments.verify} to verify",
    "add_environment": "press {environments.add} to add an environment",
    "edit_environment": "press {environments.edit} to fix the environment",
    "discover": "press {environments.discover} to discover the endpoints",
    "sign_in": "press {environments.sign_in} to sign in",
    "add_application": (
        "press {applications.add} on Applications ({app.applications}) to add an application"
    ),
    "edit_application": (
        "press {applications.edit} on Applications ({app.applications}) to edit the application"
    ),
    "request_access": "press {contracts.request} on Contracts ({app.contracts}) to request access",
}
# The binding each of those steps is taken with (the first in its template).
_STEP_BINDINGS = {kind: _PLACEHOLDER.findall(text)[0] for kind, text in STEP_KEYS.items()}


def key_for_step(app: App[Any], step: NextStep) -> str | None:
    """The key bound now to a next step; None: no key takes it."""
    binding_id = _STEP_BINDINGS.get(step.kind)
    return key_for(app, binding_id) if binding_id else None


def press(app: App[Any], step: NextStep) -> str | None:
    """A next step as the key that takes it ("press s to set the secret"); None: no key does."""
    template = STEP_KEYS.get(step.kind)
    return keys_in(app, template) if template else None


def said_as_keys(app: App[Any], advice: Advice) -> str:
    """Advice in a result, each next step named as its key (in words where no key takes it)."""
    return fill(advice.words, advice.next_steps, lambda each: press(app, each) or words(each))
