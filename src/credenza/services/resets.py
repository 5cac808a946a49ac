"""Secret resets: the provider's plan in its own words, rotation, and shown-once secrets kept."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
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
from credenza.services.context import Context, in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.providers import Providers


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
class ResetPolicy:
    """What a reset dialog asks before the plan: the provider's rules for this application."""

    asks_owner: bool  # only owners may reset (Chorus) and the app is registered: ask
    registered: bool  # registered for production (it has production credentials or contracts)
    one_time: bool  # the new secret is shown once (a one-time link)
    has_secret: bool  # a secret was stored before: a failed check keeps it
    owners: tuple[str, ...]


@dataclass(frozen=True)
class PlanItem:
    """One thing a reset does or asks, in the provider's own words where it has them;
    ``then``: the step the user takes for it (named as a command or a key by the interface)."""

    words: str
    then: NextStep | None = None


@dataclass(frozen=True)
class ResetPlan:
    """What a reset will do: a title and its items, in order."""

    title: str
    items: tuple[PlanItem, ...]


@dataclass(frozen=True)
class ResetResult:
    """What a secret reset did; ``new_secret`` is set when the provider issued it (show once)."""

    environment: str
    rotation: Rotation
    new_secret: Secret | None
    verified: bool
    rotated_at: datetime
    warnings: tuple[str, ...] = ()


def _refuse_reset_without_secret(resolved: ResolvedEnvironment) -> None:
    """A key or a certificate is not reset: a new one is added, registered, then used."""
    from credenza.oauth.auth import method_for

    kind = method_for(resolved.auth_method).secret_kind
    app, env = resolved.application.id, resolved.name
    if kind == "private_key":
        raise ValidationError(
            f"{resolved.label} authenticates with {resolved.auth_method}: a key is rotated by "
            "adding a new one, not reset",
            hint="store the new key with `{0}`, register `{1}` (or the new certificate) at "
            "the provider, then remove the old key there",
            next_steps=(
                step("set_secret", app, env, private_key=None, key_id="NEW"),
                step("public_key"),
            ),
        )
    if kind == "none":
        raise ValidationError(f"{resolved.label} is a public client: it has no secret to reset")


class Resets:
    """Rotating a secret the provider's way; the old one is kept unless the new one works."""

    def __init__(
        self,
        context: Context,
        environments: Environments,
        providers: Providers,
        credentials: Credentials,
        forget_tokens: Callable[[str, str | None], None],
    ) -> None:
        self._context = context
        self._environments = environments
        self._providers = providers
        self._credentials = credentials
        self._forget_tokens = forget_tokens

    def reset_policy(self, app_ref: str, env_name: str) -> ResetPolicy:
        """What a reset dialog must ask or warn about before it shows the plan."""
        resolved = self._environments.resolve(app_ref, env_name)
        application = resolved.application
        text = resolved.profile.reset
        registered = "production" in application.environments or any(
            c.status == "approved" and c.environment == "production" for c in application.contracts
        )
        return ResetPolicy(
            asks_owner=text.who == "owners" and registered,
            registered=registered,
            one_time=text.one_time,
            has_secret=self._credentials.has_secret(resolved),
            owners=tuple(application.owners),
        )

    async def rotation(self, app_ref: str, env_name: str) -> Rotation:
        """How this credential's secret really rotates: the provider's own record where credenza
        can read it (the sandbox's client), else the provider record's or profile's word."""
        resolved = self._environments.resolve(app_ref, env_name)
        return await self._rotation(resolved)

    async def _rotation(self, resolved: ResolvedEnvironment) -> Rotation:
        adapter = self._providers.adapter_for(resolved.application)
        try:
            return await adapter.rotation_of(resolved.environment.client_id)
        except CredenzaError:
            # The record cannot be read (an admin API without it, a hiccup): the provider
            # record's or profile's word, rather than no reset or recovery at all.
            return adapter.rotation

    def reset_plan(
        self,
        app_ref: str,
        env_name: str,
        *,
        owner: bool | None = None,
        rotation: Rotation | None = None,
    ) -> ResetPlan:
        """What a reset will do, in the provider's own words (profiles.toml ``[NAME.reset]``).

        ``owner``: whether the user is an application owner where only owners may reset
        (Chorus); None lists both cases. ``rotation``: what ``rotation`` found (the provider's
        record); without it, what the provider record or profile says.
        """
        resolved = self._environments.resolve(app_ref, env_name)
        _refuse_reset_without_secret(resolved)
        adapter = self._providers.adapter_for(resolved.application)
        rotation = rotation or adapter.rotation
        policy = self.reset_policy(app_ref, env_name)
        profile = resolved.profile
        text = profile.reset
        title = f"Resetting the client secret of {resolved.label} ({profile.name}):"
        words: list[str] = []
        owners = ", ".join(policy.owners) or "none recorded: see the portal"
        if text.who == "owners":
            if not policy.registered and text.unregistered:
                words.append(text.unregistered)
            elif owner is not True and text.not_owner:
                prefix = "if " if owner is None else ""
                words.append(f"{prefix}{text.not_owner.replace('{owners}', owners)}")
                if owner is None:
                    words.append(f"if you are an owner: reset it in {text.where}")
            elif text.where:
                words.append(f"you are an owner: reset it in {text.where}")
        elif text.where and not adapter.issues_secrets:
            words.append(f"where: {text.where}")
        # The provider's own words where they are true here: a portal, or a provider that issues
        # the secret rotating as its profile says (never a one-time link's words for a secret
        # the provider hands over itself).
        own_words = not adapter.issues_secrets or (
            rotation == profile.rotation and not text.one_time
        )
        if text.effects and own_words:
            words.extend(text.effects)
        else:
            if rotation == "overlap":
                words.append(
                    "a second secret is added; the old one keeps working until you retire it"
                )
            else:
                words.append("the old secret stops working at once")
            words.append("tokens already issued stay valid until they expire")
            words.append("every system that uses the old secret must be updated")
        if adapter.issues_secrets:
            words.append(
                "the provider issues the new secret; credenza stores it before it verifies it"
            )
        elif text.one_time:
            words.append(
                "credenza keeps the pasted secret in the keyring before it verifies it, so a "
                "failed check loses nothing"
            )
        elif policy.has_secret:
            words.append(
                "reset it in the provider's portal, then paste the new secret here; credenza "
                "verifies it with a token call and keeps the old one if it fails"
            )
        else:
            # A first "reset": nothing is stored, so there is no old secret to keep.
            words.append(
                "no secret is stored yet: paste the new one here; credenza verifies it with a "
                "token call and stores it only if it works"
            )
        if (team := self._credentials.team_store()) is not None:
            words.append(
                f"the team store's record ({team.shown(resolved.application.id, resolved.name)}) "
                "is claimed first, so a teammate's reset at the same time stops before the "
                "provider; the new secret is written there, for everyone"
            )
        items = [PlanItem(line) for line in words]
        if rotation == "overlap":
            items.append(
                PlanItem(
                    "once every system uses the new secret, retire the old one",
                    step("retire_previous", resolved.application.id, resolved.name),
                )
            )
        return ResetPlan(title, tuple(items))

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
        _refuse_reset_without_secret(resolved)
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
