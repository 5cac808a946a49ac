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
)
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
    return with_advice(app, error.message, kind_of(error))


def with_advice(app: App[Any], message: str, status: VerifyStatus) -> str:
    """``message`` (a CLI hint after " — " dropped when it names a command) and the keys."""
    head, _, hint = message.partition(" — ")
    if "credenza " not in hint and hint:
        head = message
    keys = keys_in(app, STATUS_ADVICE.get(status, ""))
    return f"{head} — {keys}" if keys else head
