"""Verify credentials with live token calls, telling the ways they fail apart."""

from __future__ import annotations

import contextlib
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
from credenza.services.context import Context, in_thread
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments
from credenza.services.tokens import Tokens

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
        from credenza.oauth.answers import error_kind

        try:
            resolved = self._environments.resolve(app_ref, env_name)
        except CredenzaError as exc:
            return _failed(app_ref, env_name, "config", exc)
        app_id = resolved.application.id
        warnings = expiry_warnings(resolved.environment, self._context.clock())
        # A user grant is verified by a refresh: credenza never sends a grant the app lacks.
        user = signs_in(resolved.application.grant_types)
        try:
            session = await self._tokens.fresh(app_id, env_name)
        except SecretMissingError as exc:
            return _failed(app_id, env_name, "missing_secret", exc, warnings)
        except SecretStoreError as exc:
            return _failed(app_id, env_name, "keyring", exc, warnings)
        except SignInRequiredError as exc:
            return _failed(app_id, env_name, "sign_in", exc, warnings)
        except OAuthError as exc:
            return _failed(app_id, env_name, error_kind(exc), exc, warnings)
        except CredenzaError as exc:
            return _failed(app_id, env_name, "config", exc, warnings)
        from credenza.oauth.tokens import token_warnings

        warnings += tuple(token_warnings(session.token, session.requested_scopes))
        how = resolved.auth_method + (", refreshing the user's token" if user else "")
        return VerifyResult(
            app_id,
            env_name,
            "ok",
            f"token issued ({how}); scope {session.token.scope_text() or '-'}",
            warnings,
        )

    async def verify_many(
        self, targets: Iterable[tuple[str, str]], *, concurrency: int = 16
    ) -> list[VerifyResult]:
        import asyncio  # here, not at the top: the one-shot CLI path never awaits

        targets = list(targets)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(app_id: str, env_name: str) -> VerifyResult:
            async with gate:
                return await self.verify(app_id, env_name)

        # Every client secret in a few batched keyring calls first, not one call each at the
        # start of each verify (gnome-keyring answers one call at a time, O(items) each): 400
        # credentials made 1,200 keyring calls, the slowest part of the run.
        with contextlib.suppress(CredenzaError):  # then each verify reads (and reports) its own
            await in_thread(self._credentials.read_ahead, self._known(targets))
        try:
            return list(await asyncio.gather(*(one(a, e) for a, e in targets)))
        finally:
            self._credentials.read_ahead([])

    def _known(self, targets: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (application id, environment) of the targets that resolve (the rest are
        reported by their verify)."""
        known = []
        for app_ref, env_name in targets:
            with contextlib.suppress(CredenzaError):
                resolved = self._environments.resolve(app_ref, env_name)
                known.append((resolved.application.id, resolved.name))
        return known


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
