"""Client secrets: store, reveal, bind to an endpoint, reset safely (shown-once secrets kept)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from credenza.config.model import EnvironmentChange, Rotation
from credenza.errors import (
    CredenzaError,
    EndpointChangedError,
    SecretNotVerifiedError,
    SecretStoreError,
    ValidationError,
)
from credenza.oauth.tokens import Token
from credenza.secrets import CheckedSecret, Secret, check_secret, names
from credenza.services.context import Context
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.providers import Providers

if TYPE_CHECKING:
    from credenza.oauth.client import ClientCredentials


class UnstoredSecretError(SecretStoreError):
    """A provider issued a new secret but the keyring would not keep it.

    ``secret`` holds it so that the caller can show it to the user once: it exists nowhere else.
    """

    def __init__(self, message: str, *, secret: Secret, hint: str) -> None:
        super().__init__(message, hint=hint)
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
class ResetResult:
    """What a secret reset did; ``new_secret`` is set when the provider issued it (show once)."""

    environment: str
    rotation: Rotation
    new_secret: Secret | None
    verified: bool
    rotated_at: datetime
    warnings: tuple[str, ...] = ()


# The endpoints that receive a credential: the client's secret (token, revocation,
# introspection, device authorization) or a token it was issued (logout).
CredentialedEndpoint = Literal[
    "token", "revocation", "introspection", "logout", "device_authorization"
]


def _refuse_reset_without_secret(resolved: ResolvedEnvironment) -> None:
    """A key or a certificate is not reset: a new one is added, registered, then used."""
    from credenza.oauth.auth import method_for

    kind = method_for(resolved.auth_method).secret_kind
    app, env = resolved.application.id, resolved.name
    if kind == "private_key":
        raise ValidationError(
            f"{resolved.label} authenticates with {resolved.auth_method}: a key is rotated by "
            "adding a new one, not reset",
            hint=f"store the new key with `credenza secret set {app} {env} --private-key "
            "--key-id NEW`, register `credenza secret public-key` (or the new certificate) at the "
            "provider, then remove the old key there",
        )
    if kind == "none":
        raise ValidationError(f"{resolved.label} is a public client: it has no secret to reset")


def origin(url: str | None) -> str | None:
    if not url:
        return None
    from credenza.oauth.origins import origin_of

    return origin_of(url)


def credentialed_endpoints(resolved: ResolvedEnvironment) -> dict[CredentialedEndpoint, str]:
    """Every URL of an environment that a credential is sent to, by what it is for."""
    found: dict[CredentialedEndpoint, str | None] = {
        "token": resolved.token_url,
        "revocation": resolved.revocation_url,
        "introspection": resolved.introspection_url,
        "logout": resolved.logout_url,
        "device_authorization": getattr(resolved, "device_authorization_url", None),
    }
    return {name: url for name, url in found.items() if url}


def bound_origins(stored_origin: str | None) -> set[str]:
    """The origins a stored secret may be sent to (one per endpoint host the user confirmed)."""
    return set((stored_origin or "").split())


def check_bound(
    resolved: ResolvedEnvironment,
    origins: set[str],
    endpoint: CredentialedEndpoint,
    url: str,
) -> None:
    """THE rule for every credentialed endpoint: its origin is one the secret was confirmed for.

    A discovered or edited endpoint on another origin gets nothing until the user runs
    `credenza secret confirm-endpoint` (or sets the secret again).
    """
    where = origin(url) or url
    if where in origins:
        return
    from credenza.oauth.untrusted import clean

    confirmed = ", ".join(sorted(origins)) or "none"
    raise EndpointChangedError(
        f"the {endpoint.replace('_', ' ')} endpoint of {resolved.label} is on "
        f"{clean(where, limit=120)}: it moved from {clean(confirmed, limit=200)}, where the secret "
        "was confirmed; nothing was sent there",
        stored_origin=confirmed,
        new_origin=where,
        hint="if you trust it, run `credenza secret confirm-endpoint "
        f"{resolved.application.id} {resolved.name}`, or set the secret again",
    )


class Credentials:
    def __init__(
        self,
        context: Context,
        environments: Environments,
        providers: Providers,
        forget_tokens: Callable[[str, str | None], None],
    ) -> None:
        self._context = context
        self._environments = environments
        self._providers = providers
        self._forget_tokens = forget_tokens

    def set(self, app_ref: str, env_name: str, value: str | Secret) -> CheckedSecret:
        """Check and store a client secret in the keyring, bound to the current token endpoint."""
        resolved = self._environments.resolve(app_ref, env_name)
        raw = value.reveal() if isinstance(value, Secret) else value
        checked = check_secret(raw, expected_length=resolved.profile.secret_length)
        self._store(resolved, checked.secret)
        self._forget_tokens(resolved.application.id, resolved.name)
        return checked

    def reveal(self, app_ref: str, env_name: str) -> Secret:
        resolved = self._environments.resolve(app_ref, env_name)
        stored = self._context.secrets.get_client_secret(resolved.application.id, resolved.name)
        return stored.secret

    def confirm_endpoint(self, app_ref: str, env_name: str) -> list[str]:
        """Bind the stored secret to the origins of every endpoint the environment now has."""
        resolved = self._environments.resolve(app_ref, env_name)
        stored = self._context.secrets.get_client_secret(resolved.application.id, resolved.name)
        self._store(resolved, stored.secret, new=False)
        return self.bound_origins(resolved.application.id, resolved.name)

    def bound_origins(self, app_ref: str, env_name: str) -> list[str]:
        """The origins the stored secret may be sent to."""
        resolved = self._environments.resolve(app_ref, env_name)
        stored = self._context.secrets.get_client_secret(resolved.application.id, resolved.name)
        return sorted(bound_origins(stored.origin))

    def unbound_endpoints(self, app_ref: str, env_name: str) -> dict[str, str]:
        """Endpoints on an origin the stored secret is not bound to (shown after a discovery)."""
        resolved = self._environments.resolve(app_ref, env_name)
        try:
            stored = self._context.secrets.get_client_secret(resolved.application.id, resolved.name)
        except SecretStoreError:
            return {}
        origins = bound_origins(stored.origin) or {origin(resolved.token_url) or ""}
        return {
            name: url
            for name, url in credentialed_endpoints(resolved).items()
            if origin(url) not in origins
        }

    def after_discovery(self, app_ref: str, env_name: str) -> dict[str, str]:
        """Bind a secret stored while only the issuer was known; then the endpoints the
        discovery put on another origin, which get nothing until confirmed (shown to the user)."""
        self.bind_if_unbound(app_ref, env_name)
        return self.unbound_endpoints(app_ref, env_name)

    def bind_if_unbound(self, app_ref: str, env_name: str) -> None:
        """A secret stored before the environment had a token URL (issuer only) is bound to the
        token endpoint the first discovery found; later moves then need confirmation."""
        resolved = self._environments.resolve(app_ref, env_name)
        if not resolved.token_url:
            return
        try:
            stored = self._context.secrets.get_client_secret(resolved.application.id, resolved.name)
        except SecretStoreError:
            return
        if stored.origin is None:
            self._bind_to_token_endpoint(resolved, stored.secret)

    async def check_destination(
        self, resolved: ResolvedEnvironment, endpoint: CredentialedEndpoint, url: str
    ) -> None:
        """For a call that sends a token but not the secret (logout): the same binding rule."""
        try:
            stored = await asyncio.to_thread(
                self._context.secrets.get_client_secret, resolved.application.id, resolved.name
            )
            origins = bound_origins(stored.origin)
        except SecretStoreError:
            origins = set()
        check_bound(resolved, origins or {origin(resolved.token_url) or ""}, endpoint, url)

    def remove(self, app_id: str, environment: str) -> None:
        secrets = self._context.secrets
        secrets.delete_client_secret(app_id, environment)
        self._context.local_state.forget_secret(app_id, environment)
        secrets.delete_raw(names.pending_secret(app_id, environment))

    def stored_at(
        self, app_ref: str, env_name: str, *, check_keyring: bool = False
    ) -> datetime | None:
        """When this person stored the secret (None: not in their keyring). Kept on this machine,
        not in the shared config, so that a teammate's view is their own. ``check_keyring``
        looks in the keyring when nothing is recorded (a secret stored before this was kept)."""
        resolved = self._environments.resolve(app_ref, env_name)
        app_id, name = resolved.application.id, resolved.name
        local = self._context.local_state
        when = local.secret_set_at(app_id, name)
        secrets = self._context.secrets
        if when is None and check_keyring and secrets.get_raw(names.client_secret(app_id, name)):
            when = resolved.environment.secret_set_at or self._context.clock()
            local.record_secret(app_id, name, when)
        return when

    def _has_secret(self, resolved: ResolvedEnvironment) -> bool:
        app_id, name = resolved.application.id, resolved.name
        return self.stored_at(app_id, name, check_keyring=True) is not None

    def age(self, app_ref: str, env_name: str, *, check_keyring: bool = False) -> timedelta | None:
        """How old this person's secret is: since it was rotated, or since they stored it."""
        stored = self.stored_at(app_ref, env_name, check_keyring=check_keyring)
        if stored is None:
            return None
        rotated = self._environments.resolve(app_ref, env_name).environment.secret_rotated_at
        since = max(stored, rotated) if rotated is not None else stored
        return self._context.clock() - since

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
            has_secret=self._has_secret(resolved),
            owners=tuple(application.owners),
        )

    def reset_plan(self, app_ref: str, env_name: str, *, owner: bool | None = None) -> list[str]:
        """What a reset will do, in the provider's own words (profiles.toml ``[NAME.reset]``).

        ``owner``: whether the user is an application owner where only owners may reset
        (Chorus); None lists both cases.
        """
        resolved = self._environments.resolve(app_ref, env_name)
        _refuse_reset_without_secret(resolved)
        adapter = self._providers.adapter_for(resolved.application)
        policy = self.reset_policy(app_ref, env_name)
        profile = resolved.profile
        text = profile.reset
        lines = [f"Resetting the client secret of {resolved.label} ({profile.name}):"]
        owners = ", ".join(policy.owners) or "none recorded: see the portal"
        if text.who == "owners":
            if not policy.registered and text.unregistered:
                lines.append(f"• {text.unregistered}")
            elif owner is not True and text.not_owner:
                prefix = "if " if owner is None else ""
                lines.append(f"• {prefix}{text.not_owner.replace('{owners}', owners)}")
                if owner is None:
                    lines.append(f"• if you are an owner: reset it in {text.where}")
            elif text.where:
                lines.append(f"• you are an owner: reset it in {text.where}")
        elif text.where and not adapter.issues_secrets:
            lines.append(f"• where: {text.where}")
        if text.effects and not adapter.issues_secrets:
            lines.extend(f"• {line}" for line in text.effects)
        else:
            if adapter.rotation == "overlap":
                lines.append(
                    "• a second secret is added; the old one keeps working until you retire it"
                )
            else:
                lines.append("• the old secret stops working at once")
            lines.append("• tokens already issued stay valid until they expire")
            lines.append("• every system that uses the old secret must be updated")
        if adapter.issues_secrets:
            lines.append(
                "• the provider issues the new secret; credenza stores it before it verifies it"
            )
        elif text.one_time:
            lines.append(
                "• credenza keeps the pasted secret in the keyring before it verifies it, so a "
                "failed check loses nothing"
            )
        elif policy.has_secret:
            lines.append(
                "• reset it in the provider's portal, then paste the new secret here; credenza "
                "verifies it with a token call and keeps the old one if it fails"
            )
        else:
            # A first "reset": nothing is stored, so there is no old secret to keep.
            lines.append(
                "• no secret is stored yet: paste the new one here; credenza verifies it with a "
                "token call and stores it only if it works"
            )
        if adapter.rotation == "overlap":
            lines.append(
                "• once every system uses the new secret, retire the old one "
                f"(credenza secret retire-previous {resolved.application.id} {resolved.name})"
            )
        return lines

    async def reset(
        self, app_ref: str, env_name: str, new_secret: str | Secret | None = None
    ) -> ResetResult:
        """Rotate the secret the provider's way; the old one is kept unless the new one works.

        Portal providers: ``new_secret`` is what the user got from the portal; it is verified
        with a token call before it replaces the old one. Providers that issue the secret: it is
        in the keyring (as the pending secret) before anything else happens, so that neither a
        failed verification nor Ctrl-C nor a crash can lose it.
        """
        resolved = self._environments.resolve(app_ref, env_name)
        _refuse_reset_without_secret(resolved)
        adapter = self._providers.adapter_for(resolved.application)
        warnings: list[str] = []
        verified = True
        issued: Secret | None = None
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
                await self.try_secret(resolved, candidate)
            except EndpointChangedError:
                raise
            except CredenzaError as exc:
                kept = (
                    "the old one was kept"
                    if self._has_secret(resolved)
                    else "nothing was stored (there was no secret before)"
                )
                if one_time:
                    kept += "; the new one is kept in the keyring as pending"
                raise SecretNotVerifiedError(
                    f"the new secret did not work, so {kept}: {exc.message}",
                    hint=f"recover it with `credenza secret recover {resolved.application.id} "
                    f"{resolved.name}` once it works"
                    if one_time
                    else exc.hint,
                ) from None
        else:
            issued = await adapter.reset_secret(resolved.environment.client_id)
            assert issued is not None
            candidate = issued
            await self._keep_pending(resolved, issued)
            # Shielded: Escape in the dashboard or a cancelled task does not stop the check
            # half-way; and the pending secret is in the keyring whatever happens from here.
            verified, warning = await asyncio.shield(
                self._verify_issued(resolved, issued, adapter.rotation)
            )
            warnings.extend(warning)
        await asyncio.to_thread(self._store, resolved, candidate)
        await asyncio.to_thread(
            self._context.secrets.delete_raw,
            names.pending_secret(resolved.application.id, resolved.name),
        )
        now = self._context.clock()
        self._environments.edit(
            resolved.application.id, resolved.name, EnvironmentChange(secret_rotated_at=now)
        )
        await asyncio.to_thread(self._forget_tokens, resolved.application.id, resolved.name)
        return ResetResult(
            environment=resolved.name,
            rotation=adapter.rotation,
            new_secret=issued,
            verified=verified,
            rotated_at=now,
            warnings=tuple(warnings),
        )

    async def _verify_issued(
        self, resolved: ResolvedEnvironment, issued: Secret, rotation: Rotation
    ) -> tuple[bool, list[str]]:
        try:
            await self.try_secret(resolved, issued)
        except CredenzaError as exc:
            if rotation == "overlap":
                raise SecretNotVerifiedError(
                    f"the provider issued a new secret but it did not work yet ({exc.message}); "
                    "the old one still works and the new one is kept in the keyring as pending",
                    hint=f"try again later: credenza secret recover {resolved.application.id} "
                    f"{resolved.name}",
                ) from None
            # Cut-over: the old secret is already dead, so the new one is kept regardless.
            return False, [f"the new secret could not be verified yet: {exc}"]
        return True, []

    def pending(self, app_ref: str, env_name: str) -> Secret | None:
        """A provider-issued secret that a reset stored but did not finish with (a crash)."""
        resolved = self._environments.resolve(app_ref, env_name)
        value = self._context.secrets.get_raw(
            names.pending_secret(resolved.application.id, resolved.name)
        )
        return None if value is None else Secret(value)

    async def retire_previous(self, app_ref: str, env_name: str) -> None:
        """Overlap rotation: once every consumer uses the new secret, retire the old one."""
        resolved = self._environments.resolve(app_ref, env_name)
        await self._providers.adapter_for(resolved.application).retire_previous_secret(
            resolved.environment.client_id
        )

    # -- what a token call needs ----------------------------------------------------------------

    async def ready(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment:
        """The environment, its endpoints discovered if it has only an issuer."""
        resolved = self._environments.resolve(app_ref, env_name)
        if resolved.token_url is None and resolved.environment.issuer:
            await self._environments.discover(resolved.application.id, resolved.name)
            resolved = self._environments.resolve(app_ref, resolved.name)
            await asyncio.to_thread(self.bind_if_unbound, resolved.application.id, resolved.name)
        if resolved.token_url is None:
            raise ValidationError(
                f"{resolved.label} has no token endpoint",
                hint=f"set one: credenza env edit {resolved.application.id} {resolved.name} --token-url URL",
            )
        return resolved

    async def client_credentials(
        self,
        resolved: ResolvedEnvironment,
        scopes: tuple[str, ...],
        secret: Secret | None = None,
        *,
        endpoint: CredentialedEndpoint = "token",
        url: str | None = None,
    ) -> ClientCredentials:
        """What a call to ``endpoint`` sends, with the stored secret only if both the token
        endpoint and ``url`` are on an origin the secret is bound to."""
        from credenza.oauth.auth import method_for
        from credenza.oauth.client import ClientCredentials, check_endpoint

        assert resolved.token_url is not None
        check_endpoint(resolved.token_url, "token endpoint")
        if secret is None and method_for(resolved.auth_method).secret_kind == "none":
            secret = Secret("")  # a public client: nothing in the keyring, nothing to send
        if secret is None:
            stored = await asyncio.to_thread(
                self._context.secrets.get_client_secret, resolved.application.id, resolved.name
            )
            if stored.origin is None:
                # Stored before the environment had a token URL (issuer only), or by an older
                # credenza: bound now, on first use, so that any later move is asked about.
                await asyncio.to_thread(self._bind_to_token_endpoint, resolved, stored.secret)
                origins = {origin(resolved.token_url) or ""}
            else:
                origins = bound_origins(stored.origin)
            check_bound(resolved, origins, "token", resolved.token_url)
            if url is not None and endpoint != "token":
                check_bound(resolved, origins, endpoint, url)
            secret = stored.secret
        environment = resolved.environment
        return ClientCredentials(
            token_url=resolved.token_url,
            client_id=environment.client_id,
            secret=secret,
            auth_method=resolved.auth_method,
            basic_auth_encoding=resolved.basic_auth_encoding,
            scopes=scopes,
            audience=environment.audience,
            resource=environment.resource,
            extra_params=dict(environment.extra_params),
            profile=resolved.profile,
            key_id=environment.key_id,
            assertion_audience=environment.assertion_audience,
            certificate=os.path.expanduser(environment.certificate)
            if environment.certificate
            else None,
        )

    def set_private_key(
        self, app_ref: str, env_name: str, pem: Secret, key_id: str | None = None
    ) -> dict[str, Any]:
        """Check and store a private key (private_key_jwt, or an mTLS certificate's key) where the
        client secret would be, bound to the token endpoint; returns its public JWK."""
        from credenza.oauth.auth.private_key_jwt import public_jwk

        resolved = self._environments.resolve(app_ref, env_name)
        jwk = public_jwk(pem, key_id)  # refuses what is not a usable private key
        self._store(resolved, Secret(pem.reveal().strip() + "\n"))
        if key_id is not None and key_id != resolved.environment.key_id:
            self._environments.edit(
                resolved.application.id, resolved.name, EnvironmentChange(key_id=key_id)
            )
        self._forget_tokens(resolved.application.id, resolved.name)
        return jwk

    def public_key(self, app_ref: str, env_name: str) -> dict[str, Any]:
        """The public JWK of the stored private key, to register at the provider."""
        from credenza.oauth.auth.private_key_jwt import public_jwk

        resolved = self._environments.resolve(app_ref, env_name)
        return public_jwk(self.reveal(app_ref, env_name), resolved.environment.key_id)

    async def try_secret(self, resolved: ResolvedEnvironment, candidate: Secret) -> Token:
        resolved = await self.ready(resolved.application.id, resolved.name)
        scopes = tuple(sorted(set(resolved.environment.scopes)))
        credentials = await self.client_credentials(resolved, scopes, secret=candidate)
        token: Token = await self._context.client.fetch_token(credentials)
        return token

    # -- internals ------------------------------------------------------------------------------

    def _store(self, resolved: ResolvedEnvironment, secret: Secret, *, new: bool = True) -> None:
        """Store ``secret`` bound to every endpoint the environment has now: the user is setting
        it for this configuration. Endpoints added or moved later need confirmation. ``new``:
        a secret this person just stored (not a re-binding), recorded in their local state."""
        origins = sorted(
            {o for url in credentialed_endpoints(resolved).values() if (o := origin(url))}
        )
        self._context.secrets.set_client_secret(
            resolved.application.id, resolved.name, secret, origin=" ".join(origins) or None
        )
        if new:
            self._context.local_state.record_secret(
                resolved.application.id, resolved.name, self._context.clock()
            )

    def _bind_to_token_endpoint(self, resolved: ResolvedEnvironment, secret: Secret) -> None:
        self._context.secrets.set_client_secret(
            resolved.application.id, resolved.name, secret, origin=origin(resolved.token_url)
        )

    async def _keep_pending(self, resolved: ResolvedEnvironment, issued: Secret) -> None:
        try:
            await asyncio.to_thread(
                self._context.secrets.set_raw,
                names.pending_secret(resolved.application.id, resolved.name),
                issued.reveal(),
            )
        except SecretStoreError as exc:
            raise UnstoredSecretError(
                "the provider issued a new secret but the keyring did not keep it "
                f"({exc.message}); it is NOT stored",
                secret=issued,
                hint="copy the secret shown now and store it with `credenza secret set` once "
                "the keyring works; it is not shown again",
            ) from None
