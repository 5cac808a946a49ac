"""Verify credentials with live token calls, telling the ways they fail apart."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from credenza.config.model import Environment
from credenza.errors import (
    CredenzaError,
    ErrorKind,
    OAuthError,
    SecretMissingError,
    SecretStoreError,
    SignInRequiredError,
)
from credenza.next_steps import NextStep, fill
from credenza.oauth.grants import signs_in
from credenza.services.context import Context
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.tokens import Tokens
from credenza.services.tokens.records import SessionToken

EXPIRY_WARNING = timedelta(days=30)

# What a verify tells apart: the provider's answers (ErrorKind) and credenza's own findings.
# "sign_in": a person's token is needed and nobody is signed in (or the sign-in has lapsed).
VerifyStatus = Literal["ok", "missing_secret", "keyring", "config", "sign_in"] | ErrorKind


@dataclass(frozen=True)
class VerifyResult:
    application_id: str
    environment: str
    status: VerifyStatus
    message: str  # what happened (the error's message, without its hint)
    warnings: tuple[str, ...] = ()
    hint: str | None = None  # what to do, in words; ``next_steps`` marked {0}, {1}…
    next_steps: tuple[NextStep, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {fill(self.hint, self.next_steps)}"
        return self.message


def _failed(
    app_id: str,
    env_name: str,
    status: VerifyStatus,
    exc: CredenzaError,
    warnings: tuple[str, ...] = (),
) -> VerifyResult:
    return VerifyResult(app_id, env_name, status, exc.message, warnings, exc.hint, exc.next_steps)


class Verification:
    def __init__(
        self,
        context: Context,
        environments: Environments,
        tokens: Tokens,
        credentials: Credentials,
    ) -> None:
        self._context = context
        self._environments = environments
        self._tokens = tokens
        self._credentials = credentials

    async def verify(self, app_ref: str, env_name: str) -> VerifyResult:
        """A live token call that tells apart: ok, wrong secret, scope, unreachable, provider."""
        try:
            resolved = self._environments.resolve(app_ref, env_name)
        except CredenzaError as exc:
            return _failed(app_ref, env_name, "config", exc)
        try:
            got: SessionToken | CredenzaError = await self._tokens.fresh(
                resolved.application.id, env_name
            )
        except CredenzaError as exc:
            got = exc
        return self._result(resolved, got)

    async def verify_many(
        self, targets: Iterable[tuple[str, str]], *, concurrency: int = 16
    ) -> list[VerifyResult]:
        """``verify`` of each, at most ``concurrency`` token calls in flight, in the targets'
        order. The calls go together (``Tokens.fresh_many``): on gnome-keyring every keyring
        call is a D-Bus round trip answered one at a time, so the secrets are read in a batch
        before the calls and again after them, not one by one in between."""
        results: list[VerifyResult | None] = []
        known: list[ResolvedEnvironment] = []
        for app_ref, env_name in targets:
            try:
                known.append(self._environments.resolve(app_ref, env_name))
                results.append(None)
            except CredenzaError as exc:  # reported, never called
                results.append(_failed(app_ref, env_name, "config", exc))
        got = iter(await self._tokens.fresh_many(known, concurrency=concurrency))
        answers = iter(known)
        return [
            result if result is not None else self._result(next(answers), next(got))
            for result in results
        ]

    def _result(
        self, resolved: ResolvedEnvironment, got: SessionToken | CredenzaError
    ) -> VerifyResult:
        """What a token call (or why none was made) says of a credential."""
        from credenza.oauth.answers import error_kind

        app_id, env_name = resolved.application.id, resolved.name
        warnings = expiry_warnings(resolved.environment, self._context.clock())
        if isinstance(got, SecretMissingError):
            return _failed(app_id, env_name, "missing_secret", got, warnings)
        if isinstance(got, SecretStoreError):
            return _failed(app_id, env_name, "keyring", got, warnings)
        if isinstance(got, SignInRequiredError):
            return _failed(app_id, env_name, "sign_in", got, warnings)
        if isinstance(got, OAuthError):
            return _failed(app_id, env_name, error_kind(got), got, warnings)
        if isinstance(got, CredenzaError):
            return _failed(app_id, env_name, "config", got, warnings)
        from credenza.oauth.tokens import token_warnings

        warnings += tuple(token_warnings(got.token, got.requested_scopes))
        # A user grant is verified by a refresh: credenza never sends a grant the app lacks.
        user = signs_in(resolved.application.grant_types)
        how = resolved.auth_method + (", refreshing the user's token" if user else "")
        return VerifyResult(
            app_id,
            env_name,
            "ok",
            f"token issued ({how}); scope {got.token.scope_text() or '-'}",
            warnings,
        )


def expiry_warnings(environment: Environment, now: datetime) -> tuple[str, ...]:
    expires = environment.secret_expires_at
    if expires is None:
        return ()
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= now:
        return (f"the secret expired on {expires:%Y-%m-%d}",)
    if expires - now <= EXPIRY_WARNING:
        return (f"the secret expires on {expires:%Y-%m-%d} (in {(expires - now).days} days)",)
    return ()
