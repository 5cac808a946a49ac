"""The calls about a token already issued: revoke it (RFC 7009) or log out (GET + Bearer), and
introspect it (RFC 7662); the local copies of a revoked token are dropped either way."""

from __future__ import annotations

from typing import Any

from credenza.errors import RevocationUnconfirmedError, TokenEndpointError, ValidationError
from credenza.services.context import Context, in_thread
from credenza.services.credentials import Credentials
from credenza.services.environments import ResolvedEnvironment
from credenza.services.tokens.records import SessionToken
from credenza.services.tokens.store import TokenStore


class Revocation:
    """Revoke, log out, introspect."""

    def __init__(self, context: Context, credentials: Credentials, store: TokenStore) -> None:
        self._context = context
        self._credentials = credentials
        self._store = store

    async def revoke(self, resolved: ResolvedEnvironment, session: SessionToken) -> str:
        try:
            if resolved.revocation_url:
                credentials = await self._credentials.client_credentials(
                    resolved,
                    session.requested_scopes,
                    endpoint="revocation",
                    url=resolved.revocation_url,
                )
                refresh_token = session.token.refresh_token if session.user else None
                if refresh_token is not None:
                    # RFC 7009 §2.1: revoking the refresh token ends the whole sign-in.
                    await self._context.client.revoke(
                        credentials, resolved.revocation_url, refresh_token, "refresh_token"
                    )
                await self._context.client.revoke(
                    credentials, resolved.revocation_url, session.token.access_token
                )
                how = "revoked"
            elif resolved.logout_url:
                await self._credentials.check_destination(resolved, "logout", resolved.logout_url)
                await self._context.client.logout(
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
            await in_thread(self._store.drop, session)
            raise
        except TokenEndpointError as exc:
            if exc.error == "unsupported_token_type":
                await in_thread(self._store.drop, session)
            raise
        await in_thread(self._store.drop, session)
        return how

    async def introspect(self, resolved: ResolvedEnvironment, held: SessionToken) -> dict[str, Any]:
        if not resolved.introspection_url:
            raise ValidationError(
                f"{resolved.label} has no introspection endpoint",
                hint="set --introspection-url on the environment, or discover it from the issuer",
            )
        credentials = await self._credentials.client_credentials(
            resolved,
            held.requested_scopes,
            endpoint="introspection",
            url=resolved.introspection_url,
        )
        return await self._context.client.introspect(
            credentials, resolved.introspection_url, held.token.access_token
        )
