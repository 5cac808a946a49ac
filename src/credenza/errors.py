"""The one hierarchy of errors that credenza raises; every message says what happened and what to do."""

from __future__ import annotations

from typing import Literal

from credenza.next_steps import NextStep, fill

# What went wrong with a call to a provider, in the words a verify report and the dashboard use;
# each has its own advice (see credenza.oauth.client).
ErrorKind = Literal[
    "wrong_secret",  # the client authenticated with a secret the provider does not accept
    "wrong_auth_method",  # basic where the client is registered for post, or the reverse
    "unknown_client",  # the provider does not know this client_id
    "grant_not_allowed",  # unauthorized_client: this client may not use this grant
    "scope",  # a requested scope is not granted to this client
    "provider",  # anything else the provider said no to, or its own failure
    "unreachable",  # no answer: connection, TLS, redirect, timeout
]


class CredenzaError(Exception):
    """Base of every error credenza reports to a user.

    ``str(error)`` is one line, safe to print: it never holds a secret or a token.
    ``exit_code`` follows the CLI contract: 1 the provider said no, 2 bad input or config.
    ``hint`` says what to do in plain words; where that is one of credenza's own actions it is
    a ``NextStep`` in ``next_steps``, marked ``{0}``, ``{1}``… in the hint, which each
    interface renders its own way (a command, a key); ``str`` in plain words.
    """

    exit_code = 2

    def __init__(
        self, message: str, *, hint: str | None = None, next_steps: tuple[NextStep, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.next_steps = next_steps

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {fill(self.hint, self.next_steps)}"
        return self.message


# --- config -----------------------------------------------------------------------------------


class ConfigError(CredenzaError):
    """The config file cannot be read, parsed or validated."""


class ConfigSyntaxError(ConfigError):
    """The config file is not valid TOML; carries the line and column."""

    def __init__(self, path: str, line: int, column: int, detail: str) -> None:
        super().__init__(
            f"{path}:{line}:{column}: invalid TOML: {detail}",
            hint="fix the file by hand; credenza did not change it",
        )
        self.path = path
        self.line = line
        self.column = column


class ConfigSchemaError(ConfigError):
    """The config parses but a value is wrong; carries the key path."""

    def __init__(self, path: str, key_path: str, detail: str) -> None:
        super().__init__(
            f"{path}: {key_path}: {detail}",
            hint="fix the file by hand; credenza did not change it",
        )
        self.path = path
        self.key_path = key_path
        self.detail = detail


class ConfigConflictError(ConfigError):
    """The file changed on disk since it was loaded; saving would lose that change."""


class ConfigLockError(ConfigError):
    """Another credenza process held the config lock for too long."""


class ConfigWriteError(ConfigError):
    """The file could not be written (full disk, permissions); the old file is intact."""


class NotFoundError(CredenzaError):
    """A named application, environment or contract does not exist."""


class ValidationError(CredenzaError):
    """A value given by the user is not acceptable (a URL, an email, a name)."""


# --- secrets ----------------------------------------------------------------------------------


class SecretStoreError(CredenzaError):
    """The keyring cannot be used: missing, locked, unsafe or failing."""

    exit_code = 3


class NoKeyringError(SecretStoreError):
    """No usable keyring backend exists."""


class KeyringLockedError(SecretStoreError):
    """The keyring is locked, or did not answer within its deadline."""


class UnsafeKeyringError(SecretStoreError):
    """The keyring backend would store secrets in plaintext or not at all."""


class SecretMissingError(SecretStoreError):
    """No secret is stored for this application and environment."""

    exit_code = 2


class CredentialLockError(CredenzaError):
    """Another credenza process held one credential's lock for too long; nothing was changed."""


class TeamStoreError(SecretStoreError):
    """The team's secret store (Vault / OpenBao) cannot be used: no token, unreachable, sealed,
    or it refused a call."""


class TeamStoreUnreachableError(TeamStoreError):
    """The team store did not answer, or answered that it is sealed or unavailable."""


class TeamStoreDeniedError(TeamStoreError):
    """The person's store token may not do this on this path (its policy, or it expired)."""


class TeamStoreConflictError(TeamStoreError):
    """A check-and-set write lost: someone changed the record since it was read."""

    exit_code = 1


class ResetInProgressError(TeamStoreConflictError):
    """Another person (or process) has claimed the credential for a reset."""


class SecretRejectedError(CredenzaError):
    """A secret given by the user is not acceptable (empty, for instance)."""


# --- OAuth ------------------------------------------------------------------------------------


class OAuthError(CredenzaError):
    """A call to a provider failed."""

    exit_code = 1


class TransportError(OAuthError):
    """The provider could not be reached, or the call was cut off."""


class InsecureEndpointError(OAuthError):
    """An endpoint would carry credentials over plain http to a non-loopback host."""

    exit_code = 2


class RedirectRefusedError(OAuthError):
    """The provider answered a credentialed call with a redirect, which credenza never follows."""


class EndpointChangedError(OAuthError):
    """The token endpoint moved to another origin since the secret was stored for it."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        stored_origin: str,
        new_origin: str,
        hint: str,
        next_steps: tuple[NextStep, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, next_steps=next_steps)
        self.stored_origin = stored_origin
        self.new_origin = new_origin


class TokenEndpointError(OAuthError):
    """The provider answered with an error (RFC 6749 §5.2, a numbered code, or an error page)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        description: str | None = None,
        provider_code: str | None = None,
        hint: str | None = None,
        next_steps: tuple[NextStep, ...] = (),
        retry_after: float | None = None,
        kind: ErrorKind = "provider",
    ) -> None:
        super().__init__(message, hint=hint, next_steps=next_steps)
        # What a verify report tells apart; every field below went through untrusted.clean.
        self.kind: ErrorKind = kind
        self.status = status
        self.error = error
        self.description = description
        self.provider_code = provider_code
        self.retry_after = retry_after


class InvalidResponseError(OAuthError):
    """The provider answered 2xx with something that is not a usable response."""


class SecretNotVerifiedError(OAuthError):
    """A new secret failed its verification token call; the old secret was kept."""


class RevocationUnconfirmedError(OAuthError):
    """A revoke or logout was answered, but not with the answer its spec gives (an HTML page)."""


class DiscoveryError(OAuthError):
    """No authorization-server metadata could be found at an issuer."""


class SignInError(OAuthError):
    """A user sign-in (authorization code or device flow) did not end with a token."""


class IdTokenError(SignInError):
    """An OpenID Connect id_token failed a check (signature, issuer, audience, time, nonce): the
    sign-in is refused and nothing of it is kept."""


class IdTokenUnverifiableError(IdTokenError):
    """An id_token that could not be checked at all (no issuer, the provider's keys cannot be
    had): not believed, but not shown to be forged either. A sign-in still fails on it; a
    refresh keeps its (already stored) tokens and the sign-in's checked id_token."""


class SignInRequiredError(OAuthError):
    """A user token cannot be renewed without the user: no refresh token, or it was refused."""
