"""Signing a person in (authorization code + PKCE, or the device flow) and signing them out.

The tokens it gets are handed to the token store (services/tokens/), which keeps them fresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from credenza.errors import CredenzaError, ValidationError
from credenza.next_steps import NextStep, step
from credenza.oauth.grants import declares
from credenza.services.context import Context, in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.identity import check_id_token, nonce_for
from credenza.services.tokens import Tokens
from credenza.services.tokens.records import SessionToken

if TYPE_CHECKING:
    from credenza.oauth.grants.device import DeviceAuthorization
    from credenza.oauth.grants.password import ResourceOwner
    from credenza.oauth.plan import ClientCredentials

SignInMethod = Literal["browser", "device"]


@dataclass(frozen=True)
class PendingDevice:
    """A device sign-in waiting for the person: show ``device`` (code, URL), then finish it."""

    resolved: ResolvedEnvironment
    credentials: ClientCredentials
    device: DeviceAuthorization


class SignIn:
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

    def method(self, app_ref: str, env_name: str | None, device: bool) -> SignInMethod:
        """Which way this application lets a person in; refuses a grant it does not declare."""
        resolved = self._environments.resolve(app_ref, env_name)
        declared = resolved.application.grant_types
        app = resolved.application.id
        if device:
            if not declares(declared, "device_code"):
                raise ValidationError(
                    f"{resolved.application.name} does not declare the device flow",
                    hint="add it: {0} (and the others it uses)",
                    next_steps=(
                        step(
                            "edit_application",
                            app,
                            None,
                            grant_type="urn:ietf:params:oauth:grant-type:device_code",
                        ),
                    ),
                )
            return "device"
        if "authorization_code" in declared:
            return "browser"
        if declares(declared, "device_code"):
            return "device"
        if declares(declared, "password"):
            raise ValidationError(
                f"{resolved.application.name} declares only the password grant for a person",
                hint="sign in with it: {0}",
                next_steps=(step("sign_in", app, resolved.name, password=None),),
            )
        raise ValidationError(
            f"{resolved.application.name} declares no grant a person signs in with "
            f"({', '.join(declared) or 'none'})",
            hint="add it: {0}",
            next_steps=(_add_grants(app, "authorization_code", "refresh_token"),),
        )

    async def with_browser(
        self,
        app_ref: str,
        env_name: str | None,
        scopes: tuple[str, ...] | None,
        *,
        show: Callable[[str], None],
        redirect_uri: str | None = None,
        timeout: float = 300.0,
    ) -> SessionToken:
        """Authorization code + PKCE through a loopback redirect; ``show`` gets the URL."""
        from credenza.oauth.grants.authorization_code import choose_redirect_uri, sign_in

        resolved, credentials = await self._prepare(app_ref, env_name, scopes)
        if not resolved.authorization_url:
            raise _no_endpoint(resolved, "authorization", "authorization_url")
        # The person types their password there: no browser opens for an origin the user has
        # not confirmed (an edit, a teammate's commit or a discovery may have moved it).
        await self._credentials.check_destination(
            resolved, "authorization", resolved.authorization_url
        )
        redirect = choose_redirect_uri(resolved.application.callback_url, redirect_uri)
        issuer, iss_required = await self._mix_up_defence(resolved)
        nonce = nonce_for(credentials.scopes)
        token = await sign_in(
            self._context.client,
            credentials,
            resolved.authorization_url,
            redirect_uri=redirect,
            show=show,
            expected_issuer=issuer,
            iss_required=iss_required,
            timeout=timeout,
            nonce=nonce,
        )
        # An id_token that fails a check fails the sign-in here, before anything is stored.
        token = await check_id_token(
            self._context, resolved, credentials.client_id, token, nonce=nonce
        )
        return await in_thread(self._tokens.keep_user_token, resolved, credentials.scopes, token)

    def check_password_grant(self, app_ref: str, env_name: str | None) -> ResolvedEnvironment:
        """The environment, once its application declares the password grant (asked before a
        password is read, so that nobody types one for nothing)."""
        resolved = self._environments.resolve(app_ref, env_name)
        if not declares(resolved.application.grant_types, "password"):
            app = resolved.application.id
            raise ValidationError(
                f"{resolved.application.name} does not declare the password grant",
                hint="if its provider offers it: {0} (and the others it uses)",
                next_steps=(_add_grants(app, "password", "refresh_token"),),
            )
        return resolved

    async def with_password(
        self,
        app_ref: str,
        env_name: str | None,
        scopes: tuple[str, ...] | None,
        owner: ResourceOwner,
    ) -> SessionToken:
        """RFC 6749 §4.3: the username and password exchanged once; only the tokens are kept."""
        from credenza.oauth.grants import password

        self.check_password_grant(app_ref, env_name)
        resolved, credentials = await self._prepare(app_ref, env_name, scopes)
        token = await password.sign_in(self._context.client, credentials, owner)
        token = await check_id_token(self._context, resolved, credentials.client_id, token)
        return await in_thread(self._tokens.keep_user_token, resolved, credentials.scopes, token)

    async def _mix_up_defence(self, resolved: ResolvedEnvironment) -> tuple[str | None, bool]:
        """RFC 9207: the issuer a callback's ``iss`` must name, and whether it must be there.

        Asked of the issuer's metadata at each sign-in (not read from the config, which a
        hand edit or an older discovery would have left without it).
        """
        issuer = resolved.environment.issuer
        if not issuer:
            return None, False
        try:
            metadata = await self._context.client.discover(issuer)
        except CredenzaError:
            # No metadata (an issuer named for its id_tokens only), or none reachable now: an
            # iss that comes must still name this issuer; none is demanded.
            return issuer, False
        # §2.4: compared with the issuer identifier of the metadata, as a string.
        return metadata.issuer, metadata.authorization_response_iss

    async def start_device(
        self, app_ref: str, env_name: str | None, scopes: tuple[str, ...] | None
    ) -> PendingDevice:
        """RFC 8628 §3.1: get the user code and the URL to show."""
        from credenza.oauth.grants import device

        resolved = await self._credentials.ready(app_ref, env_name)
        url = resolved.device_authorization_url
        if not url:
            raise _no_endpoint(resolved, "device authorization", "device_authorization_url")
        # The client authenticates here too: only on an origin its secret is bound to (rule 24).
        credentials = await self._credentials.client_credentials(
            resolved,
            self._tokens.requested_scopes(resolved, scopes),
            endpoint="device_authorization",
            url=url,
        )
        started = await device.start(self._context.client, credentials, url, self._context.clock())
        return PendingDevice(resolved, credentials, started)

    async def finish_device(
        self,
        pending: PendingDevice,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> SessionToken:
        """Poll until the person approves, denies, or the code expires."""
        from credenza.oauth.grants import device

        token = await device.poll(
            self._context.client,
            pending.credentials,
            pending.device,
            clock=self._context.clock,
            sleep=sleep,
        )
        token = await check_id_token(
            self._context, pending.resolved, pending.credentials.client_id, token
        )
        return await in_thread(
            self._tokens.keep_user_token, pending.resolved, pending.credentials.scopes, token
        )

    async def sign_out(self, app_ref: str, env_name: str | None) -> str:
        """Revoke the refresh and access tokens where the server can; forget them here anyway."""
        resolved = self._environments.resolve(app_ref, env_name)
        # One writer: a refresh in another process finishes before (its answer is what gets
        # revoked) or starts after (and finds nobody signed in).
        async with credential_lock(self._context, resolved.application.id, resolved.name):
            session = await in_thread(self._tokens.user_session, resolved)
            if session is None:
                return "not signed in"
            try:
                return await self._tokens.revoke(session)
            finally:
                # No endpoint, a server down: the sign-in ends here all the same.
                await in_thread(self._tokens.drop, session)

    async def _prepare(
        self, app_ref: str, env_name: str | None, scopes: tuple[str, ...] | None
    ) -> tuple[ResolvedEnvironment, ClientCredentials]:
        resolved = await self._credentials.ready(app_ref, env_name)
        requested = self._tokens.requested_scopes(resolved, scopes)
        credentials = await self._credentials.client_credentials(resolved, requested)
        return resolved, credentials


def _no_endpoint(resolved: ResolvedEnvironment, what: str, setting: str) -> ValidationError:
    app, env = resolved.application.id, resolved.name
    return ValidationError(
        f"{resolved.label} has no {what} endpoint",
        hint="set it: {0}, or give the environment an issuer and run `{1}`",
        next_steps=(
            NextStep("edit_environment", app, env, options=((setting, "URL"),)),
            step("discover"),
        ),
    )


def _add_grants(app: str, *grants: str) -> NextStep:
    """Declaring grants on an application: one option per grant."""
    return NextStep("edit_application", app, options=tuple(("grant_type", g) for g in grants))
