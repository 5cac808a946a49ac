"""Secret resets run: rotation the provider's way, recovery, and shown-once secrets kept."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from credenza.config.changes import EnvironmentChange
from credenza.config.model import Rotation
from credenza.errors import (
    CredenzaError,
    EndpointChangedError,
    SecretNotVerifiedError,
    SecretStoreError,
    ValidationError,
)
from credenza.next_steps import NextStep, step
from credenza.secrets import Secret, check_secret
from credenza.services.context import in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.environments import ResolvedEnvironment
from credenza.services.reset_plans import ResetPlans, refuse_reset_without_secret


class UnstoredSecretError(SecretStoreError):
    """A provider issued a new secret but the secret store (keyring or team store) would not
    keep it.

    ``secret`` holds it so that the caller can show it to the user once: it exists nowhere else.
    """

    def __init__(
        self, message: str, *, secret: Secret, hint: str, next_steps: tuple[NextStep, ...] = ()
    ) -> None:
        super().__init__(message, hint=hint, next_steps=next_steps)
        self.secret = secret


@dataclass(frozen=True)
class ResetResult:
    """What a secret reset did; ``new_secret`` is set when the provider issued it (show once)."""

    environment: str
    rotation: Rotation
    new_secret: Secret | None
    verified: bool
    rotated_at: datetime
    warnings: tuple[str, ...] = ()


class Resets(ResetPlans):
    """Rotating a secret the provider's way; the old one is kept unless the new one works."""

    async def reset(
        self,
        app_ref: str,
        env_name: str,
        new_secret: str | Secret | None = None,
        *,
        expires_at: datetime | None = None,
    ) -> ResetResult:
        """Rotate the secret the provider's way; the old one is kept unless the new one works.

        Portal providers: ``new_secret`` is what the user got from the portal; it is verified
        with a token call before it replaces the old one. Providers that issue the secret: it is
        in the keyring (as the pending secret) before anything else happens, so that neither a
        failed verification nor Ctrl-C nor a crash can lose it. ``expires_at``: when the new
        secret expires, as the provider says; the old secret's expiry never carries over.

        Under the credential's lock, from the provider's reset to the new secret stored: two
        resets at once (two dashboards, a script) never store a secret the other one killed.
        """
        resolved = self._environments.resolve(app_ref, env_name)
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            return await self._claimed(resolved, new_secret, expires_at)

    async def _claimed(
        self,
        resolved: ResolvedEnvironment,
        new_secret: str | Secret | None,
        expires_at: datetime | None,
    ) -> ResetResult:
        refuse_reset_without_secret(resolved)
        adapter = self._providers.adapter_for(resolved.application)
        team = self._credentials.team_store()
        if team is None:
            return await self._reset(resolved, new_secret, expires_at)
        # A team store: the credential is claimed (a check-and-set write naming who and when)
        # before the provider is asked, so a second reset stops at the claim instead of
        # rotating the secret the first one is rotating.
        app_id, env = resolved.application.id, resolved.name
        if adapter.issues_secrets or new_secret is not None:
            await in_thread(team.claim, app_id, env)
        try:
            return await self._reset(resolved, new_secret, expires_at)
        except BaseException:
            # Nothing issued (a refusal, a failed check): the claim is given back. An issued
            # secret keeps it, with the pending copy, until `secret recover` finishes. What
            # stopped the reset is what is reported (it may carry a secret to show once).
            with contextlib.suppress(CredenzaError):
                await in_thread(team.release, app_id, env)
            raise

    async def _reset(
        self,
        resolved: ResolvedEnvironment,
        new_secret: str | Secret | None,
        expires_at: datetime | None,
    ) -> ResetResult:
        adapter = self._providers.adapter_for(resolved.application)
        warnings: list[str] = []
        verified = True
        issued: Secret | None = None
        rotation = adapter.rotation
        if not adapter.issues_secrets:
            if new_secret is None:
                raise ValidationError(
                    "reset the secret in the provider's portal, then give credenza the new one",
                    hint=f"portal: {resolved.profile.portal_url or 'see your provider'}",
                )
            raw = new_secret.reveal() if isinstance(new_secret, Secret) else new_secret
            checked = check_secret(raw, expected_length=resolved.profile.secret_length)
            warnings.extend(checked.warnings)
            candidate = checked.secret
            one_time = resolved.profile.reset.one_time
            if one_time:
                # A one-time link cannot be opened again: keep the secret before anything else.
                await self._keep_pending(resolved, candidate)
            try:
                await self._credentials.try_secret(resolved, candidate)
            except EndpointChangedError:
                raise
            except CredenzaError as exc:
                kept = (
                    "the old one was kept"
                    if self._credentials.has_secret(resolved)
                    else "nothing was stored (there was no secret before)"
                )
                if one_time:
                    kept += f"; the new one is kept in the {self._credentials.where()} as pending"
                raise SecretNotVerifiedError(
                    f"the new secret did not work, so {kept}: {exc.message}",
                    hint="recover it with `{0}` once it works" if one_time else exc.hint,
                    next_steps=(step("recover_secret", resolved.application.id, resolved.name),)
                    if one_time
                    else exc.next_steps,
                ) from None
        else:
            rotation = await self._rotation(resolved)
            issued = await adapter.reset_secret(resolved.environment.client_id)
            assert issued is not None
            candidate = issued
            await self._keep_pending(resolved, issued)
            # Shielded: Escape in the dashboard or a cancelled task does not stop the check
            # half-way; and the pending secret is in the keyring whatever happens from here.
            import asyncio

            verified, warning = await asyncio.shield(
                self._verify_issued(resolved, issued, rotation)
            )
            warnings.extend(warning)
        now = await self._finish(resolved, candidate, rotation, expires_at)
        return ResetResult(
            environment=resolved.name,
            rotation=rotation,
            new_secret=issued,
            verified=verified,
            rotated_at=now,
            warnings=tuple(warnings),
        )

    async def _verify_issued(
        self, resolved: ResolvedEnvironment, issued: Secret, rotation: Rotation
    ) -> tuple[bool, list[str]]:
        try:
            await self._credentials.try_secret(resolved, issued)
        except CredenzaError as exc:
            if rotation == "overlap":
                raise SecretNotVerifiedError(
                    f"the provider issued a new secret but it did not work yet ({exc.message}); "
                    "the old one still works and the new one is kept in the "
                    f"{self._credentials.where()} as pending",
                    hint="try again later: {0}",
                    next_steps=(step("recover_secret", resolved.application.id, resolved.name),),
                ) from None
            # Cut-over: the old secret is already dead, so the new one is kept regardless.
            return False, [f"the new secret could not be verified yet: {exc}"]
        return True, []

    async def _finish(
        self,
        resolved: ResolvedEnvironment,
        secret: Secret,
        rotation: Rotation,
        expires_at: datetime | None = None,
    ) -> datetime:
        """The new secret becomes the current one; only then is the pending copy dropped. The
        old secret's expiry goes with it: the new one's is ``expires_at`` (None: not known)."""
        app_id, env = resolved.application.id, resolved.name
        await in_thread(
            self._credentials.store_rotated, resolved, secret, keep_previous=rotation == "overlap"
        )
        await in_thread(self._context.local_state.reset_finished, app_id, env)
        now = self._context.clock()
        self._environments.edit(
            app_id, env, EnvironmentChange(secret_rotated_at=now, secret_expires_at=expires_at)
        )
        await in_thread(self._forget_tokens, app_id, env)
        return now

    async def discard_pending(self, app_ref: str, env_name: str) -> bool:
        """Throw away a pending secret that does not work (a mistyped paste from a one-time
        link): the current secret stays as it is and the reset no longer counts as unfinished.
        False: nothing was pending."""
        resolved = self._environments.resolve(app_ref, env_name)
        app_id, env = resolved.application.id, resolved.name
        # Under the lock: a reset under way elsewhere stores its pending secret before or after.
        async with credential_lock(self._context, app_id, env):
            pending = await in_thread(self.pending, app_id, env)
            await in_thread(self._credentials.drop_pending, app_id, env)
            await in_thread(self._context.local_state.reset_finished, app_id, env)
        return pending is not None

    async def finish_with_current(self, app_ref: str, env_name: str) -> bool:
        """After `secret set` during an unfinished reset: when the secret now stored works, it
        is the one the reset was for, so the reset is finished and the pending copy dropped.
        False (nothing changed) when nothing was pending or the stored secret does not work."""
        resolved = self._environments.resolve(app_ref, env_name)
        # Under the lock: a pending secret another reset stores meanwhile is never dropped.
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            return await self._finish_with_current(resolved)

    async def _finish_with_current(self, resolved: ResolvedEnvironment) -> bool:
        app_id, env = resolved.application.id, resolved.name
        if await in_thread(self.pending, app_id, env) is None:
            return False
        current = await in_thread(self._credentials.reveal, app_id, env)
        try:
            await self._credentials.try_secret(resolved, current)
        except EndpointChangedError:
            raise
        except CredenzaError:
            return False
        await in_thread(self._credentials.drop_pending, app_id, env)
        await in_thread(self._context.local_state.reset_finished, app_id, env)
        # The reset is done: the old secret's expiry went with it.
        self._environments.edit(
            app_id,
            env,
            EnvironmentChange(secret_rotated_at=self._context.clock(), secret_expires_at=None),
        )
        return True

    async def recover(self, app_ref: str, env_name: str) -> ResetResult | None:
        """Finish a reset that a crash, a cancel or a failed check left unfinished: the secret
        kept as pending becomes the current one once a token call works with it. A secret the
        provider issued with cut-over rotation is stored even when the check fails: the old one
        is already dead. None: there is nothing pending."""
        resolved = self._environments.resolve(app_ref, env_name)
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            return await self._recover(resolved)

    async def _recover(self, resolved: ResolvedEnvironment) -> ResetResult | None:
        app_id, env = resolved.application.id, resolved.name
        pending = await in_thread(self.pending, app_id, env)
        if pending is None:
            await in_thread(self._context.local_state.reset_finished, app_id, env)
            await in_thread(self.give_back_claim, app_id, env)
            return None
        adapter = self._providers.adapter_for(resolved.application)
        rotation = await self._rotation(resolved)
        warnings: list[str] = []
        verified = True
        try:
            await self._credentials.try_secret(resolved, pending)
        except EndpointChangedError:
            raise
        except CredenzaError as exc:
            # A secret pasted from a portal may be mistyped: only one the provider issued to
            # credenza itself, the old one dead (cut-over), is stored unchecked.
            if not (adapter.issues_secrets and rotation == "cutover"):
                raise SecretNotVerifiedError(
                    f"the pending secret of {resolved.label} does not work yet ({exc.message}); "
                    "it stays pending and the current one is unchanged",
                    hint="try again later ({0}); if it was mistyped, store the right one with "
                    "`{1}` or throw it away: {2}",
                    next_steps=(
                        step("recover_secret", app_id, env),
                        step("set_secret"),
                        step("discard_pending", app_id, env),
                    ),
                ) from None
            verified = False
            warnings.append(
                f"the pending secret could not be verified ({exc.message}); stored anyway: "
                "the provider replaced the old one at the reset"
            )
        now = await self._finish(resolved, pending, rotation)
        return ResetResult(
            environment=env,
            rotation=rotation,
            new_secret=None,
            verified=verified,
            rotated_at=now,
            warnings=tuple(warnings),
        )

    def give_back_claim(self, app_ref: str, env_name: str) -> bool:
        """A team store's claim this person left with nothing issued (a reset killed while the
        provider was asked) is given back; someone else's is reported. True: one was."""
        team = self._credentials.team_store()
        if team is None:
            return False
        resolved = self._environments.resolve(app_ref, env_name)
        return team.release(resolved.application.id, resolved.name, only_mine=True)

    def pending(self, app_ref: str, env_name: str) -> Secret | None:
        """A provider-issued secret that a reset stored but did not finish with (a crash)."""
        resolved = self._environments.resolve(app_ref, env_name)
        return self._credentials.pending_secret(resolved.application.id, resolved.name)

    async def retire_previous(self, app_ref: str, env_name: str) -> None:
        """Overlap rotation: once every consumer uses the new secret, retire the old one."""
        resolved = self._environments.resolve(app_ref, env_name)
        team = self._credentials.team_store()
        if team is not None:
            # Checked first: a person who may not write is refused before the provider acts.
            await in_thread(team.check_writable, resolved.application.id, resolved.name)
        await self._providers.adapter_for(resolved.application).retire_previous_secret(
            resolved.environment.client_id
        )
        if team is not None:
            await in_thread(team.retire_previous, resolved.application.id, resolved.name)

    async def _keep_pending(self, resolved: ResolvedEnvironment, issued: Secret) -> None:
        app_id, env = resolved.application.id, resolved.name
        local = self._context.local_state
        # Marked first: a crash between the two leaves the header counting one reset too many
        # (the keyring-checked report drops it), never one too few.
        await in_thread(local.reset_started, app_id, env, self._context.clock())
        try:
            await in_thread(self._credentials.keep_pending, app_id, env, issued)
        except SecretStoreError as exc:
            await in_thread(local.reset_finished, app_id, env)
            where = self._credentials.where()
            raise UnstoredSecretError(
                f"the provider issued a new secret but the {where} did not keep it "
                f"({exc.message}); it is NOT stored",
                secret=issued,
                hint="copy the secret shown now and store it with `{0}` once the keyring works; "
                "it is not shown again",
                next_steps=(step("set_secret"),),
            ) from None
