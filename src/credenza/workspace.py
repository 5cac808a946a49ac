"""The Workspace: the one service facade the dashboard and the CLI call. It never imports Textual.

It owns the config store, the secret store and the OAuth client, and turns user intentions
(add an application, store a secret, fetch a token, reset a secret, request access) into calls
on them. Network calls are async; keyring calls inside them run in a thread.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from credenza.config.model import (
    Application,
    Config,
    Contract,
    ContractStatus,
    Environment,
    Provider,
    is_email,
    is_url,
    slugify,
)
from credenza.config.store import ConfigStore
from credenza.errors import (
    CredenzaError,
    EndpointChangedError,
    NotFoundError,
    OAuthError,
    RevocationUnconfirmedError,
    SecretMissingError,
    SecretNotVerifiedError,
    SecretStoreError,
    TokenEndpointError,
    ValidationError,
)
from credenza.oauth.tokens import Token
from credenza.providers.profiles import Profile, resolve_profile
from credenza.secrets import CheckedSecret, Secret, SecretStore, check_secret

if TYPE_CHECKING:
    # httpx and the adapters load only when a network call needs them: `credenza token` with a
    # cached token and every offline command stay fast.
    from credenza.oauth.client import ClientCredentials, HttpSettings, OAuthClient
    from credenza.providers.adapters import CatalogueEntry, ProviderAdapter

T = TypeVar("T")
Clock = Callable[[], datetime]
PLACEHOLDER_HOSTS = ("localhost", "example.com", "example.org", "example.net")
EXPIRY_WARNING = timedelta(days=30)


def default_config_path() -> Path:
    """``--config``, then ``CREDENZA_CONFIG``, then the platform's user config directory."""
    if override := os.environ.get("CREDENZA_CONFIG"):
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("credenza", appauthor=False)) / "credenza.toml"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class UnstoredSecretError(SecretStoreError):
    """A provider issued a new secret but the keyring would not keep it.

    ``secret`` holds it so that the caller can show it to the user once: it exists nowhere else.
    """

    def __init__(self, message: str, *, secret: Secret, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.secret = secret


@dataclass(frozen=True)
class ResolvedEnvironment:
    """An application's environment with the provider's defaults filled in."""

    application: Application
    name: str
    environment: Environment
    profile: Profile
    token_url: str | None
    revocation_url: str | None
    introspection_url: str | None
    logout_url: str | None
    auth_method: str
    basic_auth_encoding: str

    @property
    def label(self) -> str:
        return f"{self.application.name} / {self.name}"


@dataclass
class SessionToken:
    """A token the workspace fetched, with what it was fetched for."""

    application_id: str
    environment: str
    token: Token
    requested_scopes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        # Sorted, as the keyring cache and the agent key them: one token, one row.
        return (self.application_id, self.environment, tuple(sorted(self.requested_scopes)))


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    application_id: str
    environment: str
    status: str  # ok, wrong_secret, scope, unreachable, provider, missing_secret, config
    message: str
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class ResetResult:
    """What a secret reset did; ``new_secret`` is set when the provider issued it (show once)."""

    environment: str
    rotation: str
    new_secret: Secret | None
    verified: bool
    rotated_at: datetime
    warnings: tuple[str, ...] = ()


@dataclass
class Workspace:
    """Applications, environments, contracts, secrets and tokens; the only thing UI and CLI call."""

    store: ConfigStore
    secrets: SecretStore
    clock: Clock = utc_now
    http_settings: HttpSettings | None = None
    preloaded: InitVar[Config | None] = None
    _config: Config = field(init=False, repr=False)
    _index: dict[str, Application] = field(init=False, repr=False, default_factory=dict)
    tokens: dict[tuple[str, str, tuple[str, ...]], SessionToken] = field(
        init=False, default_factory=dict
    )
    _client: OAuthClient | None = field(init=False, default=None)
    _adapters: dict[str, tuple[Provider | None, ProviderAdapter]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self, preloaded: Config | None) -> None:
        self.config = preloaded if preloaded is not None else self.store.load()

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        # Every change goes through here (load, reload, _mutate), so the index cannot go stale.
        self._config = config
        self._index = {}
        for application in config.applications:
            self._index.setdefault(application.name.lower(), application)
        for application in config.applications:
            self._index[application.id] = application

    @classmethod
    def open(
        cls, path: Path | None = None, *, warn: Callable[[str], None] | None = None, **kwargs: Any
    ) -> Workspace:
        """Load the config once (a large one takes a while to parse) and build the services;
        ``warn`` receives the secret store's warnings (a plaintext keyring)."""
        store = ConfigStore(path or default_config_path())
        config = store.load()
        settings = config.settings
        secrets = kwargs.pop("secrets", None) or SecretStore(
            timeout=settings.keyring_timeout,
            allow_plaintext=settings.allow_plaintext_keyring,
            warn=warn,
            keyring=settings.keyring,
        )
        return cls(store=store, secrets=secrets, preloaded=config, **kwargs)

    def reload(self) -> Config:
        self.config = self.store.load()
        return self.config

    @property
    def warnings(self) -> list[str]:
        return list(self.store.warnings)

    # -- applications --------------------------------------------------------------------------

    def applications(self) -> list[Application]:
        return list(self.config.applications)

    def application(self, ref: str) -> Application:
        """By id or (case-insensitive) name, in constant time: screens look one up per row."""
        found = self._index.get(ref.strip().lower())
        return found if found is not None else _find_application(self.config, ref)

    def add_application(self, name: str, **fields: Any) -> Application:
        """Add an application; only the name is required. The id is derived from the name."""
        name = name.strip()
        if not name:
            raise ValidationError("an application needs a name")
        _validate_application_fields(fields)

        def change(config: Config) -> Application:
            base = fields.pop("id", None) or slugify(name)
            taken = {app.id for app in config.applications}
            if any(app.name.lower() == name.lower() for app in config.applications):
                raise ValidationError(f"an application named {name!r} already exists")
            app_id, number = base, 2
            while app_id in taken:
                app_id, number = f"{base}-{number}", number + 1
            application = Application(id=app_id, name=name, **_clean_fields(fields))
            config.applications.append(application)
            return application

        return self._mutate(change)

    def edit_application(self, ref: str, **changes: Any) -> Application:
        _validate_application_fields(changes)

        def change(config: Config) -> Application:
            application = _find_application(config, ref)
            if "name" in changes:
                new_name = str(changes["name"]).strip()
                if not new_name:
                    raise ValidationError("an application needs a name")
                if any(
                    a.name.lower() == new_name.lower() and a is not application
                    for a in config.applications
                ):
                    raise ValidationError(f"an application named {new_name!r} already exists")
            for key, value in changes.items():
                setattr(application, key, value)
            return application

        return self._mutate(change)

    def remove_application(self, ref: str) -> Application:
        """Remove an application, its environments and contracts, and its keyring entries."""
        application = self.application(ref)
        for environment in list(application.environments):
            self._forget_environment_secrets(application.id, environment)

        def change(config: Config) -> Application:
            target = _find_application(config, application.id)
            config.applications.remove(target)
            return target

        return self._mutate(change)

    # -- environments --------------------------------------------------------------------------

    def add_environment(
        self, app_ref: str, name: str, *, client_id: str, **fields: Any
    ) -> Environment:
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise ValidationError(
                f"{name!r} is not a usable environment name", hint="use letters, digits, '-' or '_'"
            )
        _validate_environment_fields(fields)
        if not client_id.strip():
            raise ValidationError("an environment needs a client_id")

        def change(config: Config) -> Environment:
            application = _find_application(config, app_ref)
            if name in application.environments:
                raise ValidationError(f"{application.name} already has an environment {name!r}")
            environment = Environment(client_id=client_id.strip(), **_clean_fields(fields))
            application.environments[name] = environment
            return environment

        return self._mutate(change)

    def edit_environment(self, app_ref: str, name: str, **changes: Any) -> Environment:
        _validate_environment_fields(changes)

        def change(config: Config) -> Environment:
            application = _find_application(config, app_ref)
            environment = _find_environment(application, name)
            for key, value in changes.items():
                setattr(environment, key, value)
            return environment

        return self._mutate(change)

    def remove_environment(self, app_ref: str, name: str) -> None:
        application = self.application(app_ref)
        _find_environment(application, name)
        self._forget_environment_secrets(application.id, name)

        def change(config: Config) -> None:
            del _find_application(config, app_ref).environments[name]

        self._mutate(change)

    def resolve(self, app_ref: str, env_name: str | None = None) -> ResolvedEnvironment:
        """The environment with provider defaults applied; ``env_name`` may be omitted if unique."""
        application = self.application(app_ref)
        if env_name is None:
            if len(application.environments) != 1:
                names = ", ".join(application.environments) or "none yet"
                raise ValidationError(
                    f"{application.name} has several environments ({names}); say which with --env",
                )
            env_name = next(iter(application.environments))
        environment = _find_environment(application, env_name)
        provider = self.config.providers.get(application.provider or "")
        profile = resolve_profile(application.provider, provider)
        defaults = profile.environments.get(env_name, {})

        def pick(key: str) -> str | None:
            value = getattr(environment, key)
            return value if value is not None else defaults.get(key)

        return ResolvedEnvironment(
            application=application,
            name=env_name,
            environment=environment,
            profile=profile,
            token_url=pick("token_url"),
            revocation_url=pick("revocation_url"),
            introspection_url=pick("introspection_url"),
            logout_url=pick("logout_url"),
            auth_method=environment.auth_method
            or defaults.get("auth_method")
            or profile.auth_method,
            basic_auth_encoding=profile.basic_auth_encoding,
        )

    async def endpoints_from_issuer(self, issuer: str) -> dict[str, str | None]:
        """The environment fields an issuer's metadata gives (RFC 8414 / OIDC discovery)."""
        metadata = await self.client.discover(issuer)
        return {
            "issuer": issuer,
            "token_url": metadata.token_endpoint,
            "revocation_url": metadata.revocation_endpoint,
            "introspection_url": metadata.introspection_endpoint,
            "logout_url": metadata.logout_endpoint,
        }

    async def discover_endpoints(
        self, app_ref: str, env_name: str, issuer: str | None = None
    ) -> Environment:
        """Fill token, revocation, introspection and logout URLs from the issuer's metadata."""
        resolved = self.resolve(app_ref, env_name)
        issuer = issuer or resolved.environment.issuer
        if not issuer:
            raise ValidationError(
                f"{resolved.label} has no issuer to discover from", hint="set one with --issuer"
            )
        found = await self.endpoints_from_issuer(issuer)
        # A provider without a logout endpoint in its metadata keeps the one set by hand.
        found["logout_url"] = found["logout_url"] or resolved.environment.logout_url
        return self.edit_environment(resolved.application.id, resolved.name, **found)

    # -- secrets -------------------------------------------------------------------------------

    def set_secret(self, app_ref: str, env_name: str, value: str | Secret) -> CheckedSecret:
        """Check and store a client secret in the keyring, bound to the current token endpoint."""
        resolved = self.resolve(app_ref, env_name)
        raw = value.reveal() if isinstance(value, Secret) else value
        checked = check_secret(raw, expected_length=resolved.profile.secret_length)
        self._store_secret(resolved, checked.secret)
        now = self.clock()
        self.edit_environment(resolved.application.id, resolved.name, secret_set_at=now)
        return checked

    def reveal_secret(self, app_ref: str, env_name: str) -> Secret:
        resolved = self.resolve(app_ref, env_name)
        return self.secrets.get_client_secret(resolved.application.id, resolved.name).secret

    def confirm_endpoint(self, app_ref: str, env_name: str) -> str:
        """Bind the stored secret to the environment's current token endpoint origin."""
        resolved = self.resolve(app_ref, env_name)
        stored = self.secrets.get_client_secret(resolved.application.id, resolved.name)
        self._store_secret(resolved, stored.secret)
        return _origin(resolved.token_url) or ""

    def secret_age(self, app_ref: str, env_name: str) -> timedelta | None:
        environment = self.resolve(app_ref, env_name).environment
        since = environment.secret_rotated_at or environment.secret_set_at
        return None if since is None else self.clock() - since

    def reset_plan(self, app_ref: str, env_name: str) -> list[str]:
        """What a reset will do, in the seeds' terms; the CLI and the dashboard show it."""
        resolved = self.resolve(app_ref, env_name)
        adapter = self.adapter_for(resolved.application)
        lines = [f"Resetting the client secret of {resolved.label}:"]
        if adapter.rotation == "overlap":
            lines.append(
                "• a second secret is added; the old one keeps working until you retire it"
            )
        else:
            lines.append("• the old secret stops working at once")
        lines.append("• tokens already issued stay valid until they expire")
        lines.append("• every system that uses the old secret must be updated")
        if adapter.kind == "manual":
            lines.append(
                "• reset it in the provider's portal, then paste the new secret here; credenza "
                "verifies it with a token call and keeps the old one if it fails"
            )
        else:
            lines.append("• the provider issues the new secret; credenza verifies and stores it")
        return lines

    async def reset_secret(
        self, app_ref: str, env_name: str, new_secret: str | Secret | None = None
    ) -> ResetResult:
        """Rotate the secret the provider's way; the old one is kept unless the new one works.

        Manual provider: ``new_secret`` is what the user got from the portal; it is verified with a
        token call before it replaces the old one. Sandbox: the provider issues it.
        """
        resolved = self.resolve(app_ref, env_name)
        adapter = self.adapter_for(resolved.application)
        warnings: list[str] = []
        verified = True
        if adapter.kind == "manual":
            if new_secret is None:
                raise ValidationError(
                    "reset the secret in the provider's portal, then give credenza the new one",
                    hint=f"portal: {resolved.profile.portal_url or 'see your provider'}",
                )
            raw = new_secret.reveal() if isinstance(new_secret, Secret) else new_secret
            checked = check_secret(raw, expected_length=resolved.profile.secret_length)
            warnings.extend(checked.warnings)
            candidate = checked.secret
            try:
                await self._try_secret(resolved, candidate)
            except EndpointChangedError:
                raise
            except CredenzaError as exc:
                raise SecretNotVerifiedError(
                    f"the new secret did not work, so the old one was kept: {exc.message}",
                    hint=exc.hint,
                ) from None
            issued = None
        else:
            issued = await adapter.reset_secret(resolved.environment.client_id)
            assert issued is not None
            candidate = issued
            try:
                await self._try_secret(resolved, candidate)
            except CredenzaError as exc:
                if adapter.rotation == "overlap":
                    raise
                # Cut-over: the old secret is already dead, so the new one is kept regardless.
                verified = False
                warnings.append(f"the new secret could not be verified yet: {exc}")
        try:
            await asyncio.to_thread(self._store_secret, resolved, candidate)
        except SecretStoreError as exc:
            if issued is not None:
                raise UnstoredSecretError(
                    f"the provider issued a new secret but the keyring did not keep it ({exc.message})",
                    secret=issued,
                    hint="copy the secret shown now and store it with `credenza secret set` once "
                    "the keyring works; it is not shown again",
                ) from None
            raise
        now = self.clock()
        self.edit_environment(resolved.application.id, resolved.name, secret_rotated_at=now)
        await asyncio.to_thread(self._forget_cached_tokens, resolved.application.id, resolved.name)
        return ResetResult(
            environment=resolved.name,
            rotation=adapter.rotation,
            new_secret=issued,
            verified=verified,
            rotated_at=now,
            warnings=tuple(warnings),
        )

    async def retire_previous_secret(self, app_ref: str, env_name: str) -> None:
        """Overlap rotation: once every consumer uses the new secret, retire the old one."""
        resolved = self.resolve(app_ref, env_name)
        await self.adapter_for(resolved.application).retire_previous_secret(
            resolved.environment.client_id
        )

    # -- tokens --------------------------------------------------------------------------------

    async def fetch_token(
        self, app_ref: str, env_name: str | None = None, scopes: Iterable[str] | None = None
    ) -> SessionToken:
        resolved = await self._ready(app_ref, env_name)
        credentials = await self._credentials(resolved, scopes)
        token = await self.client.fetch_token(credentials)
        session = SessionToken(resolved.application.id, resolved.name, token, credentials.scopes)
        self.tokens[session.key] = session
        return session

    async def refresh_token(self, session: SessionToken) -> SessionToken:
        """Refresh with the refresh_token when one was issued, else fetch a new token."""
        resolved = await self._ready(session.application_id, session.environment)
        credentials = await self._credentials(resolved, session.requested_scopes)
        if session.token.refresh_token is not None:
            token = await self.client.refresh(credentials, session.token.refresh_token)
        else:
            token = await self.client.fetch_token(credentials)
        fresh = SessionToken(
            session.application_id, session.environment, token, session.requested_scopes
        )
        self.tokens[fresh.key] = fresh
        return fresh

    async def revoke_token(self, session: SessionToken) -> str:
        """Revoke (RFC 7009) or log out (GET + Bearer); the local copy is dropped either way."""
        resolved = self.resolve(session.application_id, session.environment)
        try:
            if resolved.revocation_url:
                credentials = await self._credentials(resolved, session.requested_scopes)
                await self.client.revoke(
                    credentials, resolved.revocation_url, session.token.access_token
                )
                how = "revoked"
            elif resolved.logout_url:
                await self.client.logout(
                    resolved.logout_url, session.token.access_token, resolved.profile
                )
                how = "logged out"
            else:
                raise ValidationError(
                    f"{resolved.label} has no revocation or logout endpoint",
                    hint="set --revocation-url or --logout-url on the environment, or discover them",
                )
        except RevocationUnconfirmedError:
            # An answer that is not the spec's: maybe revoked, maybe not; never used again.
            await asyncio.to_thread(self._drop, session)
            raise
        except TokenEndpointError as exc:
            if exc.error == "unsupported_token_type":
                await asyncio.to_thread(self._drop, session)
            raise
        await asyncio.to_thread(self._drop, session)
        return how

    async def introspect(self, session: SessionToken) -> dict[str, Any]:
        resolved = self.resolve(session.application_id, session.environment)
        if not resolved.introspection_url:
            raise ValidationError(
                f"{resolved.label} has no introspection endpoint",
                hint="set --introspection-url on the environment, or discover it from the issuer",
            )
        credentials = await self._credentials(resolved, session.requested_scopes)
        return await self.client.introspect(
            credentials, resolved.introspection_url, session.token.access_token
        )

    async def verify(self, app_ref: str, env_name: str) -> VerifyResult:
        """A live token call that tells apart: ok, wrong secret, scope, unreachable, provider."""
        from credenza.oauth.client import error_kind

        try:
            resolved = self.resolve(app_ref, env_name)
        except CredenzaError as exc:
            return VerifyResult(app_ref, env_name, "config", str(exc))
        app_id = resolved.application.id
        warnings = _expiry_warnings(resolved.environment, self.clock())
        try:
            await self.fetch_token(app_id, env_name)
        except SecretMissingError as exc:
            return VerifyResult(app_id, env_name, "missing_secret", str(exc), warnings)
        except SecretStoreError as exc:
            return VerifyResult(app_id, env_name, "keyring", str(exc), warnings)
        except OAuthError as exc:
            return VerifyResult(app_id, env_name, error_kind(exc), str(exc), warnings)
        except CredenzaError as exc:
            return VerifyResult(app_id, env_name, "config", str(exc), warnings)
        return VerifyResult(app_id, env_name, "ok", "token issued", warnings)

    async def verify_many(
        self, targets: Iterable[tuple[str, str]], *, concurrency: int = 16
    ) -> list[VerifyResult]:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(app_id: str, env_name: str) -> VerifyResult:
            async with gate:
                return await self.verify(app_id, env_name)

        return list(await asyncio.gather(*(one(a, e) for a, e in targets)))

    # -- token cache (keyring) -----------------------------------------------------------------

    async def token(
        self,
        app_ref: str,
        env_name: str | None = None,
        scopes: Iterable[str] | None = None,
        *,
        use_cache: bool = True,
        skew: float | None = None,
    ) -> tuple[SessionToken, bool]:
        """A usable token: the cached one while it is further than ``skew`` from expiry, else a
        new one, which is then cached in the keyring. Returns (token, came from the cache)."""
        resolved = self.resolve(app_ref, env_name)
        requested = tuple(scopes) if scopes else tuple(resolved.environment.scopes)
        skew = self.config.settings.token_skew_seconds if skew is None else skew
        app_id, env = resolved.application.id, resolved.name
        if use_cache:
            cached = await asyncio.to_thread(self.cached_token, app_id, env, requested)
            if cached is not None and cached.is_usable(self.clock(), skew):
                session = SessionToken(app_id, env, cached, requested)
                self.tokens[session.key] = session
                return session, True
        session = await self.fetch_token(app_id, env, requested)
        await asyncio.to_thread(self.cache_token, session)
        return session, False

    def cached_token(self, app_id: str, env_name: str, scopes: tuple[str, ...]) -> Token | None:
        """The token cached in the keyring for these scopes, or None (also when damaged)."""
        from credenza.errors import InvalidResponseError

        payload = self.secrets.get_raw(_cache_entry(app_id, env_name, scopes))
        if payload is None:
            return None
        try:
            return Token.from_json(payload)
        except InvalidResponseError:
            return None

    def cache_token(self, session: SessionToken) -> None:
        name = _cache_entry(session.application_id, session.environment, session.requested_scopes)
        index_name = f"{session.application_id}/{session.environment}/token-index"
        index = set(filter(None, (self.secrets.get_raw(index_name) or "").split("\n")))
        if name not in index:
            # The index first: an entry it does not list could never be removed.
            self.secrets.set_raw(index_name, "\n".join(sorted(index | {name})))
        self.secrets.set_raw(name, session.token.to_json())

    def cached_sessions(
        self, app_ref: str | None = None, env_name: str | None = None
    ) -> list[SessionToken]:
        """Tokens cached in the keyring, for every environment or only the ones named.

        Each environment costs keyring reads (about 20 ms each on Secret Service): name it when
        only one matters.
        """
        found: list[SessionToken] = []
        applications = [self.application(app_ref)] if app_ref else self.config.applications
        for application in applications:
            for env_name_ in application.environments:
                if env_name is not None and env_name_ != env_name:
                    continue
                index = self.secrets.get_raw(f"{application.id}/{env_name_}/token-index") or ""
                for name in filter(None, index.split("\n")):
                    payload = self.secrets.get_raw(name)
                    if payload is None:
                        continue
                    try:
                        token = Token.from_json(payload)
                    except CredenzaError:
                        continue
                    scopes = tuple(name.rpartition("token:")[2].split()) if "token:" in name else ()
                    found.append(SessionToken(application.id, env_name_, token, scopes))
        return found

    # -- contracts -----------------------------------------------------------------------------

    def contracts(self, app_ref: str) -> list[Contract]:
        return list(self.application(app_ref).contracts)

    def effective_contracts(self, app_ref: str) -> dict[tuple[str, str], Contract]:
        """Per (API, environment), the least restrictive approved contract that covers it."""
        best: dict[tuple[str, str], Contract] = {}
        for contract in self.application(app_ref).contracts:
            if contract.status != "approved":
                continue
            for api in contract.covered_apis:
                key = (api, contract.environment)
                current = best.get(key)
                if current is None or (contract.sla_rank or 0) > (current.sla_rank or 0):
                    best[key] = contract
        return best

    async def catalogue(self, app_ref: str) -> list[CatalogueEntry]:
        return await self.adapter_for(self.application(app_ref)).catalogue()

    async def request_access(
        self,
        app_ref: str,
        env_name: str,
        *,
        api: str,
        instance: str,
        sla_tier: str | None = None,
        terms_accepted: bool = False,
        target: str = "api",
        apis: Iterable[str] = (),
        scopes: Iterable[str] = (),
    ) -> Contract:
        from credenza.providers.adapters import AccessRequest

        resolved = self.resolve(app_ref, env_name)
        adapter = self.adapter_for(resolved.application)
        contract = await adapter.request_access(
            AccessRequest(
                api=api,
                instance=instance,
                environment=resolved.name,
                client_id=resolved.environment.client_id,
                sla_tier=sla_tier,
                terms_accepted=terms_accepted,
                target=target,
                apis=tuple(apis),
                scopes=tuple(scopes),
            )
        )

        def change(config: Config) -> Contract:
            _find_application(config, resolved.application.id).contracts.append(contract)
            return contract

        return self._mutate(change)

    async def decide_contract(
        self, app_ref: str, contract_id: str, status: ContractStatus
    ) -> Contract:
        """Approve or reject (where the provider lets credenza), or revoke a contract."""
        application = self.application(app_ref)
        adapter = self.adapter_for(application)
        if status in ("approved", "rejected") and not adapter.can_decide:
            raise ValidationError(
                "the provider decides on access requests in its portal",
                hint="record its decision with `credenza contract record` once it answers",
            )
        contract = _find_contract(application, contract_id)
        updated = await adapter.decide(contract, status)
        return self._replace_contract(application.id, updated)

    def record_contract_status(
        self, app_ref: str, contract_id: str, status: ContractStatus
    ) -> Contract:
        """Manual providers: record the decision the provider made in its portal."""
        if status not in ("pending", "approved", "rejected", "revoked"):
            raise ValidationError(f"{status!r} is not a contract status")

        def change(config: Config) -> Contract:
            contract = _find_contract(_find_application(config, app_ref), contract_id)
            contract.status = status
            contract.decided_at = self.clock()
            return contract

        return self._mutate(change)

    async def refresh_contracts(self, app_ref: str) -> list[Contract]:
        application = self.application(app_ref)
        adapter = self.adapter_for(application)
        for contract in application.contracts:
            environment = application.environments.get(contract.environment)
            if environment is not None:
                updated = await adapter.refresh_contract(contract, environment.client_id)
                self._replace_contract(application.id, updated)
        return self.contracts(application.id)

    # -- production checklist ------------------------------------------------------------------

    def checklist(self, app_ref: str) -> list[ChecklistItem]:
        """What the seeds require before production: owners, callback, contracts, terms."""
        application = self.application(app_ref)
        items = [
            ChecklistItem(
                "two application owners",
                len(application.owners) >= 2,
                f"{len(application.owners)} named" if application.owners else "none named",
            )
        ]
        redirect_grants = {"authorization_code", "implicit"} & set(application.grant_types)
        if application.callback_url:
            placeholder = is_placeholder_url(application.callback_url)
            items.append(
                ChecklistItem(
                    "a real callback URL",
                    not placeholder,
                    "placeholder: " + application.callback_url
                    if placeholder
                    else application.callback_url,
                )
            )
        else:
            items.append(
                ChecklistItem(
                    "a real callback URL",
                    not redirect_grants,
                    "not set" if redirect_grants else "not needed for client_credentials only",
                )
            )
        live = [
            c
            for c in application.contracts
            if c.environment == "production" and c.status != "rejected"
        ]
        covered = {api for c in live if c.status != "revoked" for api in c.covered_apis}
        missing = [api for api in application.apis if api not in covered]
        items.append(
            ChecklistItem(
                "registered with each API used",
                bool(live) and not missing,
                "missing: " + ", ".join(missing)
                if missing
                else (f"{len(live)} production contract(s)" if live else "no production contract"),
            )
        )
        unaccepted = [c for c in live if c.terms_accepted_at is None]
        items.append(
            ChecklistItem(
                "terms accepted",
                bool(live) and not unaccepted,
                "not accepted for: " + ", ".join(c.api for c in unaccepted) if unaccepted else "",
            )
        )
        waiting = [c for c in live if c.status != "approved"]
        items.append(
            ChecklistItem(
                "contracts approved",
                bool(live) and not waiting,
                ", ".join(f"{c.api}: {c.status}" for c in waiting),
            )
        )
        return items

    # -- providers -----------------------------------------------------------------------------

    def add_provider(self, key: str, provider: Provider) -> Provider:
        def change(config: Config) -> Provider:
            config.providers[key] = provider
            return provider

        return self._mutate(change)

    def adapter_for(self, application: Application) -> ProviderAdapter:
        from credenza.providers.adapters import ManualAdapter, SandboxAdapter

        key = application.provider or ""
        provider = self.config.providers.get(key)
        cached = self._adapters.get(key)
        if cached is not None and cached[0] == provider:
            return cached[1]
        profile = resolve_profile(key, provider)
        adapter: ProviderAdapter
        if provider is not None and provider.kind == "sandbox" and provider.admin_url:
            token = self.secrets.get_raw(f"providers/{key}/admin_token")
            if token is None:
                raise ValidationError(
                    f"no admin token is stored for the sandbox provider {key!r}",
                    hint="run `credenza sandbox serve`, then store its admin token",
                )
            adapter = SandboxAdapter(provider.admin_url, Secret(token), rotation=profile.rotation)
        else:
            adapter = ManualAdapter(rotation=profile.rotation, clock=self.clock)
        self._adapters[key] = (provider, adapter)
        return adapter

    # -- internals -----------------------------------------------------------------------------

    @property
    def client(self) -> OAuthClient:
        if self._client is None:
            from credenza.oauth.client import HttpSettings, OAuthClient

            settings = self.config.settings
            self._client = OAuthClient(
                self.http_settings
                or HttpSettings(
                    connect_timeout=settings.connect_timeout,
                    read_timeout=settings.read_timeout,
                    deadline=settings.deadline,
                    retry_attempts=settings.retry_attempts,
                    ca_bundle=settings.ca_bundle,
                ),
                clock=lambda: self.clock(),
            )
        return self._client

    async def aclose(self) -> None:
        """Close network clients; the workspace stays usable (they reopen on the next call)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for _, adapter in self._adapters.values():
            await adapter.aclose()

    def _mutate(self, change: Callable[[Config], T]) -> T:
        with self.store.edit() as config:
            result = change(config)
        self.config = config
        return result

    def _replace_contract(self, app_id: str, updated: Contract) -> Contract:
        def change(config: Config) -> Contract:
            application = _find_application(config, app_id)
            for index, contract in enumerate(application.contracts):
                if contract.id == updated.id:
                    application.contracts[index] = updated
            return updated

        return self._mutate(change)

    def _store_secret(self, resolved: ResolvedEnvironment, secret: Secret) -> None:
        self.secrets.set_client_secret(
            resolved.application.id, resolved.name, secret, origin=_origin(resolved.token_url)
        )

    async def _ready(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment:
        resolved = self.resolve(app_ref, env_name)
        if resolved.token_url is None and resolved.environment.issuer:
            await self.discover_endpoints(resolved.application.id, resolved.name)
            resolved = self.resolve(app_ref, resolved.name)
        if resolved.token_url is None:
            raise ValidationError(
                f"{resolved.label} has no token endpoint",
                hint=f"set one: credenza env edit {resolved.application.id} {resolved.name} --token-url URL",
            )
        return resolved

    async def _credentials(
        self,
        resolved: ResolvedEnvironment,
        scopes: Iterable[str] | None,
        secret: Secret | None = None,
    ) -> ClientCredentials:
        from credenza.oauth.client import ClientCredentials, check_endpoint

        assert resolved.token_url is not None
        check_endpoint(resolved.token_url, "token endpoint")
        if secret is None:
            stored = await asyncio.to_thread(
                self.secrets.get_client_secret, resolved.application.id, resolved.name
            )
            current = _origin(resolved.token_url)
            if stored.origin is not None and stored.origin != current:
                raise EndpointChangedError(
                    f"the token endpoint of {resolved.label} moved from {stored.origin} to "
                    f"{current}; the secret was not sent there",
                    stored_origin=stored.origin,
                    new_origin=current or "",
                    hint=f"if you trust the new endpoint, run `credenza secret confirm-endpoint "
                    f"{resolved.application.id} {resolved.name}`, or set the secret again",
                )
            secret = stored.secret
        environment = resolved.environment
        requested = tuple(scopes) if scopes else tuple(environment.scopes)
        return ClientCredentials(
            token_url=resolved.token_url,
            client_id=environment.client_id,
            secret=secret,
            auth_method=resolved.auth_method,
            basic_auth_encoding=resolved.basic_auth_encoding,
            scopes=requested,
            audience=environment.audience,
            resource=environment.resource,
            extra_params=dict(environment.extra_params),
            profile=resolved.profile,
        )

    async def _try_secret(self, resolved: ResolvedEnvironment, candidate: Secret) -> Token:
        resolved = await self._ready(resolved.application.id, resolved.name)
        credentials = await self._credentials(resolved, None, secret=candidate)
        token: Token = await self.client.fetch_token(credentials)
        return token

    def _drop(self, session: SessionToken) -> None:
        self.tokens.pop(session.key, None)
        app_id, env_name, scopes = (
            session.application_id,
            session.environment,
            session.requested_scopes,
        )
        cached = self.cached_token(app_id, env_name, scopes)
        if cached is not None and cached.access_token == session.token.access_token:
            self.secrets.delete_raw(_cache_entry(app_id, env_name, scopes))

    def _forget_environment_secrets(self, app_id: str, environment: str) -> None:
        self.secrets.delete_client_secret(app_id, environment)
        self._forget_cached_tokens(app_id, environment)

    def _forget_cached_tokens(self, app_id: str, environment: str) -> None:
        for key in [k for k in self.tokens if k[:2] == (app_id, environment)]:
            del self.tokens[key]
        index_name = f"{app_id}/{environment}/token-index"
        index = self.secrets.get_raw(index_name)
        for name in filter(None, (index or "").split("\n")):
            self.secrets.delete_raw(name)
        if index is not None:
            self.secrets.delete_raw(index_name)


def is_placeholder_url(url: str) -> bool:
    """A callback URL that cannot be production: localhost, loopback, example domains, .test."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return True
    from credenza.oauth.client import is_loopback

    return (
        is_loopback(host)
        or any(host == p or host.endswith("." + p) for p in PLACEHOLDER_HOSTS)
        or host.endswith((".test", ".invalid", ".example", ".local"))
    )


def _expiry_warnings(environment: Environment, now: datetime) -> tuple[str, ...]:
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


def _cache_entry(app_id: str, env_name: str, scopes: tuple[str, ...]) -> str:
    # Keyed by application, environment and requested scopes: a token never crosses environments.
    return f"{app_id}/{env_name}/token:{' '.join(sorted(scopes))}"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    from credenza.oauth.client import origin_of

    return origin_of(url)


def _find_application(config: Config, ref: str) -> Application:
    wanted = ref.strip().lower()
    for application in config.applications:
        if application.id == wanted or application.name.lower() == wanted:
            return application
    known = ", ".join(a.id for a in config.applications) or "none yet"
    raise NotFoundError(f"no application {ref!r} (known: {known})", hint="see `credenza app list`")


def _find_environment(application: Application, name: str) -> Environment:
    try:
        return application.environments[name]
    except KeyError:
        known = ", ".join(application.environments) or "none yet"
        raise NotFoundError(
            f"{application.name} has no environment {name!r} (known: {known})",
            hint=f"add it with `credenza env add {application.id} {name} --client-id ID --token-url URL`",
        ) from None


def _find_contract(application: Application, contract_id: str) -> Contract:
    for contract in application.contracts:
        if contract.id == contract_id:
            return contract
    raise NotFoundError(f"{application.name} has no contract {contract_id!r}")


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _validate_application_fields(fields: dict[str, Any]) -> None:
    for key in ("url", "callback_url"):
        value = fields.get(key)
        if value and not is_url(value):
            raise ValidationError(
                f"{key} {value!r} is not a URL", hint="use http:// or https:// and a host"
            )
    callback = fields.get("callback_url")
    if isinstance(callback, list | tuple):
        raise ValidationError("an application has exactly one callback URL")
    for owner in fields.get("owners") or []:
        if not is_email(owner):
            raise ValidationError(f"owner {owner!r} is not an email address")
    if fields.get("type") not in (None, "private", "public"):
        raise ValidationError("type is private or public")


def _validate_environment_fields(fields: dict[str, Any]) -> None:
    for key in ("issuer", "token_url", "revocation_url", "introspection_url", "logout_url"):
        value = fields.get(key)
        if value and not is_url(value):
            raise ValidationError(
                f"{key} {value!r} is not a URL", hint="use http:// or https:// and a host"
            )
    if fields.get("auth_method") not in (None, "client_secret_basic", "client_secret_post"):
        raise ValidationError("auth method is client_secret_basic or client_secret_post")
