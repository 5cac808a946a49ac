"""Client secrets and keys: set them, and hand them to a token call (the Credentials service)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from credenza.config.changes import EnvironmentChange
from credenza.config.files import resolve_path
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.oauth.tokens import Token
from credenza.secrets import CheckedSecret, Secret, check_secret, names
from credenza.services.binding import CredentialedEndpoint, bound_origins, check_bound, parse_origin
from credenza.services.context import in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.credential_origins import BoundCredentials
from credenza.services.environments import ResolvedEnvironment

if TYPE_CHECKING:
    from credenza.oauth.binding.dpop import DpopKey
    from credenza.oauth.plan import ClientCredentials


class Credentials(BoundCredentials):
    """Client secrets and keys: where they live (``StoredCredentials``), where they may go
    (``BoundCredentials``), and what a token call sends."""

    def set(
        self,
        app_ref: str,
        env_name: str,
        value: str | Secret,
        *,
        allow_origins: Iterable[str] = (),
    ) -> CheckedSecret:
        """Check and store a client secret in the keyring, bound to the current token endpoint's
        origin and to ``allow_origins`` (the user's explicit consent): an endpoint on any other
        origin gets nothing until confirmed (``confirm_endpoint``)."""
        resolved = self._environments.resolve(app_ref, env_name)
        allowed = [parse_origin(o) for o in allow_origins]  # refused before anything is stored
        raw = value.reveal() if isinstance(value, Secret) else value
        checked = check_secret(raw, expected_length=resolved.profile.secret_length)
        # One writer: a refresh or a reset of this credential in flight elsewhere finishes
        # first, and the tokens it stored are forgotten with the old secret.
        with credential_lock(self._context, resolved.application.id, resolved.name):
            self.store(resolved, checked.secret, allow=allowed)
            self._forget_tokens(resolved.application.id, resolved.name)
        return checked

    # -- what a token call needs ----------------------------------------------------------------

    async def ready(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment:
        """The environment, its endpoints discovered if it has only an issuer."""
        resolved = self._environments.resolve(app_ref, env_name)
        if needs_discovery(resolved):
            await self._environments.discover(resolved.application.id, resolved.name)
            resolved = self._environments.resolve(app_ref, resolved.name)
            await in_thread(self.bind_if_unbound, resolved.application.id, resolved.name)
        return _with_token_url(resolved)

    def ready_now(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment | None:
        """``ready`` without awaiting: None when the endpoints must first be discovered."""
        resolved = self._environments.resolve(app_ref, env_name)
        return None if needs_discovery(resolved) else _with_token_url(resolved)

    async def client_credentials(
        self,
        resolved: ResolvedEnvironment,
        scopes: tuple[str, ...],
        secret: Secret | None = None,
        *,
        endpoint: CredentialedEndpoint = "token",
        url: str | None = None,
    ) -> ClientCredentials:
        """``for_call`` in a worker thread (it reads the keyring)."""
        return await in_thread(self.for_call, resolved, scopes, secret, endpoint=endpoint, url=url)

    def for_call(
        self,
        resolved: ResolvedEnvironment,
        scopes: tuple[str, ...],
        secret: Secret | None = None,
        *,
        endpoint: CredentialedEndpoint = "token",
        url: str | None = None,
    ) -> ClientCredentials:
        """What a call to ``endpoint`` sends, with the stored secret only if both the token
        endpoint and ``url`` are on an origin the secret is bound to. Blocking: it reads the
        keyring (async callers use ``client_credentials``)."""
        from credenza.oauth.answers import check_endpoint
        from credenza.oauth.auth import method_for
        from credenza.oauth.plan import ClientCredentials

        assert resolved.token_url is not None
        check_endpoint(resolved.token_url, "token endpoint")
        if secret is None:
            # Bound to what the user confirmed: a secret's origins are kept with it; a public
            # client (nothing in the keyring, nothing secret to send) still takes the person's
            # authorization code and device code only where they were confirmed (promise 24).
            # One stored before the environment had a token URL (issuer only), or by an older
            # credenza, is bound now, on first use, so that any later move is asked about.
            if method_for(resolved.auth_method).secret_kind == "none":
                origins = self.confirmed_origins(resolved, bind=True)
                secret = Secret("")
            else:
                # One keyring read for the secret and its origins, not one each.
                stored = self.stored_secret(resolved.application.id, resolved.name, ahead=True)
                if stored.origin:
                    origins = bound_origins(stored.origin)
                else:  # bound now, on first use; then read again
                    origins = self.confirmed_origins(resolved, bind=True)
                    stored = self.stored_secret(resolved.application.id, resolved.name)
                secret = stored.secret
            check_bound(resolved, origins, "token", resolved.token_url)
            if url is not None and endpoint != "token":
                check_bound(resolved, origins, endpoint, url)
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
            certificate=resolve_path(environment.certificate, self._context.config_dir)
            if environment.certificate
            else None,
            dpop=self.dpop_key(resolved) if environment.dpop else None,
        )

    def dpop_key(self, resolved: ResolvedEnvironment) -> DpopKey:
        """The environment's DPoP key (RFC 9449), made and kept in the keyring at first use.
        Blocking: it reads (and may write) the keyring."""
        from credenza.oauth.binding.dpop import DpopKey, new_key

        name = names.dpop_key(resolved.application.id, resolved.name)
        pem = self._context.secrets.get_raw(name)
        if pem is None:
            # Made under the lock and read again there: two processes never bind tokens to two
            # keys of which only one stays stored.
            with credential_lock(self._context, resolved.application.id, resolved.name):
                pem = self._context.secrets.get_raw(name)
                if pem is None:
                    pem = new_key().reveal()
                    self._context.secrets.set_raw(name, pem)
        return DpopKey(Secret(pem))

    def set_private_key(
        self, app_ref: str, env_name: str, pem: Secret, key_id: str | None = None
    ) -> dict[str, Any]:
        """Check and store a private key (private_key_jwt, or an mTLS certificate's key) where the
        client secret would be, bound to the token endpoint; returns its public JWK."""
        from credenza.oauth.auth.private_key_jwt import public_jwk

        resolved = self._environments.resolve(app_ref, env_name)
        jwk = public_jwk(pem, key_id)  # refuses what is not a usable private key
        with credential_lock(self._context, resolved.application.id, resolved.name):
            self.store(resolved, Secret(pem.reveal().strip() + "\n"))
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
        from credenza.oauth.grants import client_credentials

        token: Token = await self._context.client.grant(client_credentials.plan, credentials)
        return token


def needs_discovery(resolved: ResolvedEnvironment) -> bool:
    """Only an issuer is known: the endpoints come from its metadata before the first call."""
    return resolved.token_url is None and bool(resolved.environment.issuer)


def _with_token_url(resolved: ResolvedEnvironment) -> ResolvedEnvironment:
    if resolved.token_url is None:
        raise ValidationError(
            f"{resolved.label} has no token endpoint",
            hint="set one: {0}",
            next_steps=(
                step("edit_environment", resolved.application.id, resolved.name, token_url="URL"),
            ),
        )
    return resolved
