"""Dynamic client registration (RFC 7591) and its management (RFC 7592): an environment whose
issuer has a registration endpoint gets its client from there.

The client_id and the registration_client_uri go into the config; the client secret into the
keyring where `secret set` puts it (bound to the token endpoint's origin), and the registration
access token into its own keyring entry, bound to the issuer's origin. Neither is ever returned
to a caller that prints.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from credenza.config.auth_methods import AUTH_METHODS, AuthMethod
from credenza.config.changes import EnvironmentChange
from credenza.errors import EndpointChangedError, SecretStoreError, ValidationError
from credenza.next_steps import step
from credenza.secrets import Secret, names
from credenza.services.binding import origin
from credenza.services.context import Context, in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment, usable_name
from credenza.services.tokens import Tokens

if TYPE_CHECKING:
    from credenza.oauth.discovery import ServerMetadata
    from credenza.oauth.registration import Registered


@dataclass(frozen=True)
class Registration:
    """What `app register` did, with nothing secret in it."""

    application_id: str
    environment: str
    label: str
    client_id: str
    created_environment: bool
    stored_secret: bool
    manageable: bool  # RFC 7592: a registration_client_uri and a token to use it were issued
    secret_expires_at: datetime | None


class Registrations:
    def __init__(
        self,
        context: Context,
        environments: Environments,
        credentials: Credentials,
        tokens: Tokens,
    ) -> None:
        self._context = context
        self._environments = environments
        self._credentials = credentials
        self._tokens = tokens

    async def register(
        self,
        app_ref: str,
        env_name: str,
        *,
        issuer: str | None = None,
        initial_access_token: Secret | None = None,
        scopes: tuple[str, ...] | None = None,
        auth_method: str | None = None,
    ) -> Registration:
        """Register the application as a new client of ``env_name``'s issuer (the environment is
        created with ``issuer`` when it does not exist yet) and keep what the server issued."""
        from credenza.oauth.registration import plan_register

        application = self._context.application(app_ref)
        existing = application.environments.get(env_name)
        if existing is None and not usable_name(env_name):
            # Asked before the server is: a client it registered must find its environment.
            raise ValidationError(
                f"{env_name!r} is not a usable environment name",
                hint="use letters, digits, '-' or '_'",
            )
        if existing is None and not issuer:
            raise ValidationError(
                f"{application.name} has no environment {env_name!r} to register in",
                hint="name its issuer: {0}",
                next_steps=(step("register_client", application.id, env_name, issuer="URL"),),
            )
        if existing is not None:
            if issuer and existing.issuer and issuer.rstrip("/") != existing.issuer.rstrip("/"):
                raise ValidationError(
                    f"{application.name} / {env_name} has the issuer {existing.issuer}, not "
                    f"{issuer}",
                    hint="leave --issuer out, or register in a new environment",
                )
            if existing.registration_client_uri:
                raise ValidationError(
                    f"{application.name} / {env_name} is registered already",
                    hint="delete that registration first: {0}",
                    next_steps=(step("delete_registration", application.id, env_name),),
                )
            issuer = existing.issuer or issuer
            if not issuer:
                raise ValidationError(
                    f"{application.name} / {env_name} has no issuer to register with",
                    hint="{0}",
                    next_steps=(step("register_client", application.id, env_name, issuer="URL"),),
                )
        assert issuer is not None
        metadata = await self._context.client.discover(issuer)
        url = _registration_endpoint(metadata, issuer)
        scope_list = tuple(scopes) if scopes else (existing.scopes if existing else ())
        method = auth_method or (existing.auth_method if existing else None)
        body = client_metadata(application.name, application.grant_types, application.callback_url)
        body["token_endpoint_auth_method"] = method or "client_secret_basic"
        if scope_list:
            body["scope"] = " ".join(scope_list)
        registered = await self._context.client.perform(
            plan_register(self._context.client, url, body, initial_access_token)
        )
        # Shown once: the keyring first, before the config and before anything can fail.
        await in_thread(self._keep_secrets, application.id, env_name, registered, metadata)
        change = EnvironmentChange(
            client_id=registered.client_id,
            issuer=issuer,
            token_url=metadata.token_endpoint,
            revocation_url=metadata.revocation_endpoint or msgspec.UNSET,
            introspection_url=metadata.introspection_endpoint or msgspec.UNSET,
            logout_url=metadata.logout_endpoint or msgspec.UNSET,
            authorization_url=metadata.authorization_endpoint or msgspec.UNSET,
            device_authorization_url=metadata.device_authorization_endpoint or msgspec.UNSET,
            auth_method=_auth_method(registered.token_endpoint_auth_method, method),
            scopes=list(scope_list) if scope_list else msgspec.UNSET,
            registration_client_uri=registered.registration_client_uri,
            secret_expires_at=_expiry(registered.client_secret_expires_at),
        )
        if existing is None:
            self._environments.add(application.id, env_name, change)
        else:
            self._environments.edit(application.id, env_name, change)
        return Registration(
            application_id=application.id,
            environment=env_name,
            label=f"{application.name} / {env_name}",
            client_id=registered.client_id,
            created_environment=existing is None,
            stored_secret=registered.client_secret is not None,
            manageable=registered.registration_client_uri is not None
            and registered.registration_access_token is not None,
            secret_expires_at=_expiry(registered.client_secret_expires_at),
        )

    async def show(self, app_ref: str, env_name: str) -> dict[str, Any]:
        """RFC 7592 §2.1: the client's metadata as the server holds it, credentials masked."""
        from credenza.oauth.registration import masked, plan_read

        resolved, uri, token = await in_thread(self._managed, app_ref, env_name)
        data = await self._context.client.perform(plan_read(self._context.client, uri, token))
        return masked(data, await in_thread(self._stored_values, resolved, token))  # type: ignore[no-any-return]

    async def delete(self, app_ref: str, env_name: str) -> str:
        """RFC 7592 §2.3: delete the client at the server, then its secret and tokens here."""
        from credenza.oauth.registration import plan_delete

        resolved, uri, token = await in_thread(self._managed, app_ref, env_name)
        await self._context.client.perform(plan_delete(self._context.client, uri, token))
        app_id, name = resolved.application.id, resolved.name
        await in_thread(self._tokens.forget, app_id, name)
        await in_thread(self._credentials.remove, app_id, name)
        self._environments.edit(app_id, name, EnvironmentChange(registration_client_uri=None))
        return resolved.environment.client_id

    # -- internals ------------------------------------------------------------------------------

    def _keep_secrets(
        self, app_id: str, env_name: str, registered: Registered, metadata: ServerMetadata
    ) -> None:
        secrets = self._context.secrets
        if registered.client_secret is not None:
            # Bound as `secret set` binds it: to the token endpoint's origin only. An endpoint
            # the discovery put on another origin gets nothing until the person confirms it
            # (`credenza secret confirm-endpoint`): a discovery document is no consent.
            token_origin = origin(metadata.token_endpoint)
            with credential_lock(self._context, app_id, env_name):
                secrets.set_client_secret(
                    app_id, env_name, registered.client_secret, origin=token_origin
                )
            self._context.local_state.record_secret(app_id, env_name, self._context.clock())
        token = registered.registration_access_token
        if token is not None and registered.registration_client_uri is not None:
            secrets.set_bound(
                names.registration_token(app_id, env_name),
                token,
                origin=origin(registered.registration_client_uri),
            )

    def _managed(self, app_ref: str, env_name: str) -> tuple[ResolvedEnvironment, str, Secret]:
        """The registration_client_uri and its token, once the URI is on the origin the token
        was issued for (a config edited to point it elsewhere gets nothing)."""
        resolved = self._environments.resolve(app_ref, env_name)
        uri = resolved.environment.registration_client_uri
        app_id = resolved.application.id
        if not uri:
            raise ValidationError(
                f"{resolved.label} has no registration to manage (no registration_client_uri)",
                hint="only a client registered with `{0}` at a server that supports RFC 7592 "
                "has one",
                next_steps=(step("register_client"),),
            )
        stored = self._context.secrets.get_bound(names.registration_token(app_id, resolved.name))
        if stored is None or stored.origin is None:
            raise SecretStoreError(
                f"no registration access token for {resolved.label} in the keyring",
                hint="without it the registration cannot be managed from here; use the "
                "provider's portal",
            )
        token, bound = stored.secret, stored.origin
        where = origin(uri)
        if where != bound:
            from credenza.oauth.untrusted import clean

            raise EndpointChangedError(
                f"the registration_client_uri of {resolved.label} is on "
                f"{clean(where or uri, limit=120)}, not {clean(bound, limit=120)} where the "
                "registration access token was issued; nothing was sent",
                stored_origin=bound,
                new_origin=where or uri,
                hint="set it back to the URI the server gave at registration",
            )
        return resolved, uri, token

    def _stored_values(self, resolved: ResolvedEnvironment, token: Secret) -> Any:
        from credenza.oauth.untrusted import Sent

        values = [token.reveal(), f"Bearer {token.reveal()}"]
        with contextlib.suppress(SecretStoreError):
            values.append(
                self._context.secrets.get_client_secret(
                    resolved.application.id, resolved.name
                ).secret.reveal()
            )
        return Sent(*values)


def client_metadata(name: str, grant_types: list[str], callback_url: str | None) -> dict[str, Any]:
    """RFC 7591 §2 metadata for an application: its name, grant types (RFC 8628's in full) and
    where a sign-in comes back to."""
    from credenza.oauth.grants import grant_type_of

    grants = list(dict.fromkeys(grant_type_of(g) for g in grant_types))
    body: dict[str, Any] = {"client_name": name, "grant_types": grants}
    if "authorization_code" in grants:
        body["response_types"] = ["code"]
        # Without a callback URL `credenza login` listens on a free loopback port, which a
        # server accepts for this URI registered without one (RFC 8252 §7.3).
        body["redirect_uris"] = [callback_url or "http://127.0.0.1/callback"]
    elif callback_url:
        body["redirect_uris"] = [callback_url]
    return body


# The endpoints of the metadata a client secret is sent to (services/binding.py's list).


def _registration_endpoint(metadata: ServerMetadata, issuer: str) -> str:
    """The issuer's registration endpoint, on the issuer's own origin (an initial access token
    goes there), https or loopback."""
    from credenza.oauth.answers import check_endpoint
    from credenza.oauth.untrusted import clean, is_clean

    url = metadata.registration_endpoint
    if not url:
        raise ValidationError(
            f"the issuer {clean(issuer, limit=160)} advertises no registration_endpoint "
            "(RFC 7591 dynamic client registration)",
            hint="register the client in the provider's portal and add it with `{0}`",
            next_steps=(step("add_environment", "APP", "ENV", client_id="ID", issuer="URL"),),
        )
    if not is_clean(url) or " " in url:
        raise ValidationError("the issuer's registration_endpoint has control characters")
    check_endpoint(url, "registration endpoint")
    if origin(url) != origin(issuer):
        raise EndpointChangedError(
            f"the registration endpoint {clean(url, limit=160)} is not on the issuer's origin "
            f"{clean(origin(issuer) or issuer, limit=120)}; nothing was sent",
            stored_origin=origin(issuer) or issuer,
            new_origin=origin(url) or url,
            hint="register the client in the provider's portal instead",
        )
    return url


def _auth_method(answered: str | None, asked: str | None) -> AuthMethod:
    """What the server registered the client for (it may choose), when credenza knows it."""
    for candidate in (answered, asked):
        if candidate in AUTH_METHODS:
            return candidate
    return "client_secret_basic"


def _expiry(seconds: int | None) -> datetime | None:
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC)
