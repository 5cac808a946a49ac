"""Secret reset plans: what a reset will do and ask, in the provider's own words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from credenza.config.model import Rotation
from credenza.errors import CredenzaError, ValidationError
from credenza.next_steps import NextStep, step
from credenza.services.context import Context
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.providers import Providers


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


def refuse_reset_without_secret(resolved: ResolvedEnvironment) -> None:
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


class ResetPlans:
    """The plan half of ``Resets``: the provider's rules and words for a reset, before it runs."""

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
        refuse_reset_without_secret(resolved)
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
