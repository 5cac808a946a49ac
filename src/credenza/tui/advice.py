"""What to do next, in keys: the dashboard's advice for each kind of failure (the CLI names commands)."""

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
)
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
    return with_advice(error.message, kind_of(error))


def with_advice(message: str, status: VerifyStatus) -> str:
    """``message`` (a CLI hint after " — " dropped when it names a command) and the keys."""
    head, _, hint = message.partition(" — ")
    if "credenza " not in hint and hint:
        head = message
    keys = STATUS_ADVICE.get(status, "")
    return f"{head} — {keys}" if keys else head
