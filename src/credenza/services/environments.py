"""Environments: add, edit, remove, resolve with the provider's defaults, discover endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from credenza.config.changes import CREDENTIAL_FIELDS, EnvironmentChange, apply_change
from credenza.config.model import Application, Config, Environment
from credenza.errors import ValidationError
from credenza.next_steps import Advice, step
from credenza.providers.profiles import Profile, resolve_profile
from credenza.services.context import Context, find_application, find_environment

_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


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
    authorization_url: str | None = None
    device_authorization_url: str | None = None
    # Where `credenza api` sends the token (bound like every credentialed endpoint).
    api_url: str | None = None

    @property
    def label(self) -> str:
        return f"{self.application.name} / {self.name}"


class Environments:
    def __init__(
        self,
        context: Context,
        *,
        forget_tokens: Callable[[str, str | None], None],
        forget_all: Callable[[str, str | None], None],
    ) -> None:
        self._context = context
        # Drop an environment's cached tokens everywhere (an edit); or its secrets too (removal).
        self._forget_tokens = forget_tokens
        self._forget_all = forget_all

    def add(self, app_ref: str, name: str, change: EnvironmentChange) -> Environment:
        name = name.strip()
        if not _ENV_NAME.fullmatch(name):
            raise ValidationError(
                f"{name!r} is not a usable environment name", hint="use letters, digits, '-' or '_'"
            )
        if not isinstance(change.client_id, str) or not change.client_id.strip():
            raise ValidationError("an environment needs a client_id")

        def add(config: Config) -> Environment:
            application = find_application(config, app_ref)
            if name in application.environments:
                raise ValidationError(
                    f"{application.name} already has an environment {name!r}",
                    hint="change it with `{0}`",
                    next_steps=(step("edit_environment", application.id, name, "..."),),
                )
            assert isinstance(change.client_id, str)
            blank = Environment(client_id=change.client_id.strip())
            environment = _apply(blank, change)
            application.environments[name] = environment
            return environment

        return self._context.mutate(add)

    def edit(
        self, app_ref: str, name: str, change: EnvironmentChange, *, expected: str | None = None
    ) -> Environment:
        if change.is_empty():
            raise ValidationError("nothing to change; give at least one option")
        before: list[Environment] = []

        def edit(config: Config) -> Environment:
            application = find_application(config, app_ref)
            environment = find_environment(application, name)
            before.append(environment)
            updated = _apply(environment, change)
            application.environments[name] = updated
            return updated

        updated = self._context.mutate(edit, expected=expected)
        if any(getattr(before[0], f) != getattr(updated, f) for f in CREDENTIAL_FIELDS):
            # Another credential now: no cache anywhere may hand out the old one's token.
            self._forget_tokens(self._context.application(app_ref).id, name)
        return updated

    def remove(self, app_ref: str, name: str) -> None:
        application = self._context.application(app_ref)
        find_environment(application, name)

        def remove(config: Config) -> None:
            application = find_application(config, app_ref)
            del application.environments[name]
            if application.default_environment == name:
                application.default_environment = None

        # The file first: if the save fails, the secret is still there for what it still has.
        self._context.mutate(remove)
        self._forget_all(application.id, name)

    def resolve(self, app_ref: str, env_name: str | None = None) -> ResolvedEnvironment:
        """The environment with provider defaults applied; ``env_name`` may be omitted if unique."""
        application = self._context.application(app_ref)
        if env_name is None and application.default_environment in application.environments:
            env_name = application.default_environment
        if env_name is None:
            if not application.environments:
                raise ValidationError(
                    f"{application.name} has no environment yet",
                    hint="add one: {0} (or --issuer URL)",
                    next_steps=(
                        step(
                            "add_environment",
                            application.id,
                            "ENV",
                            client_id="ID",
                            token_url="URL",
                        ),
                    ),
                )
            if len(application.environments) != 1:
                names = ", ".join(application.environments)
                raise ValidationError(
                    f"{application.name} has several environments ({names}); say which with --env",
                    hint="or set a default: {0}",
                    next_steps=(
                        step("edit_application", application.id, None, default_env="NAME"),
                    ),
                )
            env_name = next(iter(application.environments))
        environment = find_environment(application, env_name)
        provider = self._context.config.providers.get(application.provider or "")
        profile = resolve_profile(application.provider, provider, self._context.config_dir)
        defaults = profile.environments.get(env_name, {})

        def pick(key: str) -> str | None:
            value = getattr(environment, key)
            return value if value is not None else defaults.get(key)

        token_url = pick("token_url")

        def pick_beside_token(key: str) -> str | None:
            # A profile's default endpoint belongs to the profile's token endpoint: with a token
            # URL pointing elsewhere (a test server), the production logout URL must not follow.
            value: str | None = getattr(environment, key)
            if value is not None:
                return value
            default = defaults.get(key)
            if default is None or token_url is None or same_origin(default, token_url):
                return default
            return None

        return ResolvedEnvironment(
            application=application,
            name=env_name,
            environment=environment,
            profile=profile,
            token_url=token_url,
            revocation_url=pick_beside_token("revocation_url"),
            introspection_url=pick_beside_token("introspection_url"),
            logout_url=pick_beside_token("logout_url"),
            auth_method=environment.auth_method
            or defaults.get("auth_method")
            or profile.auth_method,
            basic_auth_encoding=profile.basic_auth_encoding,
            authorization_url=pick("authorization_url"),
            device_authorization_url=pick("device_authorization_url"),
            api_url=environment.api_url,
        )

    def client_id_warnings(self, app_ref: str, env_name: str, client_id: str) -> list[Advice]:
        """What giving ``env_name`` this client_id means, by the provider's identity rules."""
        application = self._context.application(app_ref)
        current = application.environments.get(env_name)
        profile = resolve_profile(
            application.provider,
            self._context.config.providers.get(application.provider or ""),
            self._context.config_dir,
        )
        warnings: list[Advice] = []
        changed = current is not None and current.client_id != client_id
        if changed and profile.client_id_fixed:
            warnings.append(
                Advice(
                    f"{profile.name} never changes the client_id of an existing app: a new "
                    "client_id means a new app there; if it is one, record it as its own "
                    "application ({0}) rather than editing this one",
                    (step("add_application"),),
                )
            )
        stored = self._context.local_state.secret_set_at(application.id, env_name)
        if changed and stored is not None:
            warnings.append(
                Advice("the stored secret belongs to the old client_id: set the new one's secret")
            )
        if env_name == "production":
            others = [
                other.id
                for other in self._context.config.applications
                if other.id != application.id
                and other.provider == application.provider
                and (env := other.environments.get("production")) is not None
                and env.client_id == client_id
            ]
            if others:
                warnings.append(
                    Advice(
                        f"client_id {client_id} is already used in production by "
                        f"{', '.join(others)}; a client_id belongs to one application"
                    )
                )
        return warnings

    async def endpoints_from_issuer(self, issuer: str) -> EnvironmentChange:
        """The environment fields an issuer's metadata gives (RFC 8414 / OIDC discovery)."""
        metadata = await self._context.client.discover(issuer)
        return EnvironmentChange(
            issuer=issuer,
            token_url=metadata.token_endpoint,
            revocation_url=metadata.revocation_endpoint,
            introspection_url=metadata.introspection_endpoint,
            logout_url=metadata.logout_endpoint or msgspec.UNSET,
            authorization_url=metadata.authorization_endpoint or msgspec.UNSET,
            device_authorization_url=metadata.device_authorization_endpoint or msgspec.UNSET,
        )

    async def discover(self, app_ref: str, env_name: str, issuer: str | None = None) -> Environment:
        """Fill the token, revocation, introspection, logout, authorization and device
        authorization URLs from the issuer's metadata."""
        resolved = self.resolve(app_ref, env_name)
        issuer = issuer or resolved.environment.issuer
        if not issuer:
            raise ValidationError(
                f"{resolved.label} has no issuer to discover from", hint="set one with --issuer"
            )
        found = await self.endpoints_from_issuer(issuer)
        return self.edit(resolved.application.id, resolved.name, found)


def same_origin(first: str, second: str) -> bool:
    from credenza.oauth.origins import origin_of

    return origin_of(first) == origin_of(second)


def _apply(environment: Environment, change: EnvironmentChange) -> Environment:
    from credenza.oauth.params import check_extra_params

    # grant_type, client_secret and the like would change the grant or put a secret in the file.
    check_extra_params(change.set_params)
    if isinstance(change.extra_params, dict):
        check_extra_params(change.extra_params)
    scopes = list(environment.scopes if not isinstance(change.scopes, list) else change.scopes)
    if change.scopes is None:
        scopes = []
    scopes += [s for s in change.add_scopes if s not in scopes]
    scopes = [s for s in scopes if s not in change.remove_scopes]
    requested = [s for s in environment.requested_scopes if s not in change.remove_scopes]
    requested += [s for s in change.request_scopes if s not in requested and s not in scopes]
    for scope in change.grant_scopes:
        if scope not in requested and scope not in scopes:
            raise ValidationError(
                f"{scope!r} was not requested",
                hint="add a scope that is granted already with --add-scope",
            )
        requested = [s for s in requested if s != scope]
        scopes += [scope] if scope not in scopes else []
    params = dict(
        environment.extra_params
        if not isinstance(change.extra_params, dict)
        else change.extra_params
    )
    if change.extra_params is None:
        params = {}
    params.update(change.set_params)
    for key in change.remove_params:
        params.pop(key, None)
    try:
        return apply_change(
            environment,
            change,
            extra={"scopes": scopes, "requested_scopes": requested, "extra_params": params},
        )
    except ValueError as exc:
        raise ValidationError(str(exc), hint="nothing was changed") from None


def usable_name(name: str) -> bool:
    """Whether ``name`` may name an environment (asked before a server is called for it)."""
    return bool(_ENV_NAME.fullmatch(name))
