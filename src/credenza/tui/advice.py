"""What to do next, in keys: the dashboard's advice for each kind of failure and each next step
(the CLI names commands for the same steps: cli.output)."""

from __future__ import annotations

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

# Keys of the Environments section (2), where every credential can be fixed.
STATUS_ADVICE: dict[VerifyStatus, str] = {
    "ok": "",
    "missing_secret": "press s to set the secret",
    "keyring": "unlock the keyring (or start its service), then press t to try again",
    "config": "press e to fix the environment, then t to verify",
    "wrong_secret": "press s to set the right secret, or r to reset it",
    "wrong_auth_method": "press e and change the auth method (basic or post)",
    "unknown_client": "press e to check the client_id against the provider's portal",
    "grant_not_allowed": "the client may not use this grant: enable it in the provider's portal",
    "scope": "press e to change the scopes, or request access on Contracts (3, then n)",
    "provider": "press the same key to try again; if it persists, ask the provider",
    "sign_in": "press l to sign in (the token is then on Tokens, 4)",
    "unreachable": "press e to check the token URL (or D to discover it), then try again",
}

# Each next step the dashboard takes with a key: the binding that does it, and what it does
# there. A step without one (choosing the file keyring) is left to the words of the status.
STEP_KEYS: dict[StepKind, tuple[str, str]] = {
    "set_secret": ("environments.set_secret", "to set the secret"),
    "recover_secret": ("environments.reset_secret", "on this row to recover the pending secret"),
    "discard_pending": ("environments.reset_secret", "on this row to discard the pending secret"),
    "retire_previous": ("environments.retire_previous", "on this row to retire the old secret"),
    "verify": ("environments.verify", "to verify"),
    "add_environment": ("environments.add", "to add an environment"),
    "edit_environment": ("environments.edit", "to fix the environment"),
    "discover": ("environments.discover", "to discover the endpoints"),
    "sign_in": ("environments.sign_in", "to sign in"),
    "add_application": ("applications.add", "on Applications (1) to add an application"),
    "edit_application": ("applications.edit", "on Applications (1) to edit the application"),
    "request_access": ("contracts.request", "on Contracts (3) to request access"),
}


def key_of(binding_id: str) -> str | None:
    """The key of a binding of the dashboard's sections, read from the binding itself, so a
    changed key is named right. (Defaults: a user's keymap is not read here.)"""
    from textual.binding import Binding

    from credenza.tui.screens.applications import ApplicationsScreen
    from credenza.tui.screens.contracts import ContractsScreen
    from credenza.tui.screens.environments import EnvironmentsScreen

    for screen in (EnvironmentsScreen, ApplicationsScreen, ContractsScreen):
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return binding.key.split(",")[-1]
    return None


def key_for_step(step: NextStep) -> str | None:
    """The key that takes a next step; None: no key does."""
    known = STEP_KEYS.get(step.kind)
    return key_of(known[0]) if known else None


def press(step: NextStep) -> str | None:
    """A next step as the key that takes it ("press s to set the secret"); None: no key does."""
    key = key_for_step(step)
    return f"press {key} {STEP_KEYS[step.kind][1]}" if key else None


def said_as_keys(advice: Advice) -> str:
    """Advice in a result, each next step named as its key (in words where no key takes it)."""
    return fill(advice.words, advice.next_steps, lambda each: press(each) or words(each))


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


def advice(error: CredenzaError) -> str:
    """One line: what happened (without the CLI's hint) and what to press."""
    if isinstance(error, ConfigConflictError):
        return f"{error.message}; close this and open it again to see the other change"
    if isinstance(error, EndpointChangedError):
        return f"{error.message}; press s to store the secret again for the new endpoint"
    # The provider's answer: the advice for its kind says more than a generic step's key.
    steps_first = not isinstance(error, TokenEndpointError)
    return said(error.message, None, error.next_steps, kind_of(error), steps_first=steps_first)


def problem(error: CredenzaError) -> str:
    """An error as the dashboard says it: its next steps as keys (``advice``), or, when it has
    none, its message and its hint in plain words."""
    return advice(error) if error.next_steps else str(error)


def said(
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
    keys = [key for key in map(press, steps) if key]
    if keys and (steps_first or status == "config"):
        return f"{message} — {', or '.join(keys)}"
    head = f"{message} — {hint}" if hint and not steps else message
    keys_for_status = STATUS_ADVICE.get(status, "")
    return f"{head} — {keys_for_status}" if keys_for_status else head
