"""Where a client credential may go: the origins it is bound to, their confirmation, the check."""

from __future__ import annotations

from collections.abc import Iterable

from credenza.errors import SecretStoreError
from credenza.secrets import Secret, names
from credenza.services.binding import (
    CredentialedEndpoint,
    bound_origins,
    check_bound,
    credentialed_endpoints,
    origin,
    parse_origin,
)
from credenza.services.context import in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.credential_store import StoredCredentials
from credenza.services.environments import ResolvedEnvironment

# The origins a credential may go to (a name of its own: ``set`` is a method of Credentials).
Origins = set[str]


class BoundCredentials(StoredCredentials):
    """The binding half of ``Credentials``: a secret goes only where the user confirmed."""

    def confirm_endpoint(
        self, app_ref: str, env_name: str, origins: Iterable[str] | None = None
    ) -> list[str]:
        """The user's confirmation: the credential may go to ``origins`` (every origin of the
        environment's endpoints now when None) besides those it was confirmed for already.

        Kept with the credential in this person's keyring (the secret's entry, or for a client
        without a secret an entry of its own): a commit to the shared config can move an
        endpoint but never confirm one."""
        resolved = self._environments.resolve(app_ref, env_name)
        # Read and stored again under the lock: a secret set meanwhile is never undone.
        with credential_lock(self._context, resolved.application.id, resolved.name):
            if origins is None:
                wanted = {
                    o for url in credentialed_endpoints(resolved).values() if (o := origin(url))
                }
            else:
                wanted = {parse_origin(o) for o in origins}
            app_id, name = resolved.application.id, resolved.name
            secrets = self._context.secrets
            if self._public(resolved):
                entry = secrets.get_bound(names.confirmed_origins(app_id, name))
                current = bound_origins(entry.origin if entry else None) or self._first(resolved)
                merged = " ".join(sorted(current | wanted)) or None
                secrets.set_bound(names.confirmed_origins(app_id, name), Secret(""), origin=merged)
            else:
                stored = self.stored_secret(app_id, name)
                current = bound_origins(stored.origin) or self._first(resolved)
                merged = " ".join(sorted(current | wanted)) or None
                self._write_secret(app_id, name, stored.secret, merged, new=False)
            return self.bound_origins(app_id, name)

    def bound_origins(self, app_ref: str, env_name: str) -> list[str]:
        """The origins the stored credential may be sent to."""
        resolved = self._environments.resolve(app_ref, env_name)
        return sorted(self.confirmed_origins(resolved, bind=False))

    def unbound_endpoints(self, app_ref: str, env_name: str) -> dict[str, str]:
        """Endpoints on an origin the credential is not confirmed for: they get nothing (a
        secret, a token, a person's password) until the user confirms them."""
        resolved = self._environments.resolve(app_ref, env_name)
        try:
            origins = self.confirmed_origins(resolved, bind=False)
        except SecretStoreError:
            return {}
        return {
            name: url
            for name, url in credentialed_endpoints(resolved).items()
            if origin(url) not in origins
        }

    def confirmed_origins(self, resolved: ResolvedEnvironment, *, bind: bool) -> Origins:
        """The origins this environment's credential was confirmed for. Nothing recorded yet (a
        secret stored before it had a token URL, a public client's first sign-in): the token
        endpoint's origin, recorded now when ``bind``, so that any later move is asked about.
        Blocking (the keyring); raises SecretMissingError for a client without its secret."""
        app_id, name = resolved.application.id, resolved.name
        secrets = self._context.secrets
        if self._public(resolved):
            entry = secrets.get_bound(names.confirmed_origins(app_id, name))
            if entry is not None and entry.origin:
                return bound_origins(entry.origin)
            first = self._first(resolved)
            if bind and first:
                with credential_lock(self._context, app_id, name):
                    # Read again under the lock: a confirmation made meanwhile is never undone.
                    entry = secrets.get_bound(names.confirmed_origins(app_id, name))
                    if entry is not None and entry.origin:
                        return bound_origins(entry.origin)
                    secrets.set_bound(
                        names.confirmed_origins(app_id, name), Secret(""), origin=" ".join(first)
                    )
            return first
        stored = self.stored_secret(app_id, name)
        if stored.origin:
            return bound_origins(stored.origin)
        first = self._first(resolved)
        # In a team store a read must not need write access: bound for this call only.
        if bind and first and self.team_store() is None:
            self.bind_if_unbound(app_id, name)  # under the lock, the secret read again
            return self.confirmed_origins(resolved, bind=False)
        return first

    def _public(self, resolved: ResolvedEnvironment) -> bool:
        from credenza.oauth.auth import method_for

        return method_for(resolved.auth_method).secret_kind == "none"

    @staticmethod
    def _first(resolved: ResolvedEnvironment) -> Origins:
        found = origin(resolved.token_url)
        return {found} if found else set()

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
        secrets, app_id = self._context.secrets, resolved.application.id
        try:
            if self.team_store() is not None:
                return  # a team store's record is bound by whoever wrote it: a read binds nothing
            if secrets.get_client_secret(app_id, resolved.name).origin is not None:
                return  # the usual case: bound already, and no lock taken
            with credential_lock(self._context, app_id, resolved.name):
                # Read again under the lock: a secret set meanwhile is never undone.
                stored = secrets.get_client_secret(app_id, resolved.name)
                if stored.origin is None:
                    self._bind_to_token_endpoint(resolved, stored.secret)
        except SecretStoreError:
            return

    async def check_destination(
        self, resolved: ResolvedEnvironment, endpoint: CredentialedEndpoint, url: str
    ) -> None:
        """For a call that sends no secret (logout sends a token; the authorization endpoint
        gets the person's password): the same binding rule, before anything is sent or opened."""
        try:
            origins = await in_thread(self.confirmed_origins, resolved, bind=True)
        except SecretStoreError:
            origins = set()
        check_bound(resolved, origins or self._first(resolved), endpoint, url)

    def store(
        self,
        resolved: ResolvedEnvironment,
        secret: Secret,
        *,
        new: bool = True,
        allow: Iterable[str] = (),
    ) -> None:
        """Store ``secret`` bound to the token endpoint's origin (the user is setting it for
        this token endpoint), the origins in ``allow`` (their explicit consent) and those they
        confirmed for the secret it replaces that the environment still uses. Any other origin
        (an endpoint a discovery or a commit put elsewhere) needs confirmation: a line in a
        piped command's output is not consent. ``new``: a secret this person just stored,
        recorded in their local state."""
        app_id, name = resolved.application.id, resolved.name
        self._write_secret(app_id, name, secret, self._origins_kept(resolved, allow), new=new)
        if new:
            self._context.local_state.record_secret(
                resolved.application.id, resolved.name, self._context.clock()
            )

    def _origins_kept(self, resolved: ResolvedEnvironment, allow: Iterable[str] = ()) -> str | None:
        """The origins a new secret is bound to: the token endpoint's, ``allow`` (consent given
        now) and those confirmed for the secret it replaces that the environment still uses."""
        origins = self._first(resolved) | set(allow)
        try:
            previous = self.stored_secret(resolved.application.id, resolved.name).origin
        except SecretStoreError:
            previous = None
        in_use = {o for url in credentialed_endpoints(resolved).values() if (o := origin(url))}
        origins |= bound_origins(previous) & in_use
        return " ".join(sorted(origins)) or None

    def store_rotated(
        self, resolved: ResolvedEnvironment, secret: Secret, *, keep_previous: bool
    ) -> None:
        """A reset's new secret becomes the current one. In the team store one check-and-set
        write also drops the claim and the pending copy and, with overlap rotation, keeps the
        old secret beside it until retired; in the keyring the pending entry goes after."""
        team = self.team_store()
        if team is None:
            self.store(resolved, secret)
            self.drop_pending(resolved.application.id, resolved.name)
            return
        app_id, name = resolved.application.id, resolved.name
        team.finish(app_id, name, secret, self._origins_kept(resolved), keep_previous=keep_previous)
        self._context.local_state.record_secret(app_id, name, self._context.clock())

    def _bind_to_token_endpoint(self, resolved: ResolvedEnvironment, secret: Secret) -> None:
        self._write_secret(
            resolved.application.id, resolved.name, secret, origin(resolved.token_url), new=False
        )
