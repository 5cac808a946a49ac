"""Client secrets and keys: store, reveal, bind to their endpoints, hand to a token call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from credenza.config.changes import EnvironmentChange
from credenza.config.files import resolve_path
from credenza.errors import (
    SecretStoreError,
    TeamStoreUnreachableError,
    ValidationError,
)
from credenza.next_steps import step
from credenza.oauth.tokens import Token
from credenza.secrets import CheckedSecret, Secret, StoredSecret, check_secret, names
from credenza.services.binding import (
    CredentialedEndpoint,
    bound_origins,
    check_bound,
    credentialed_endpoints,
    origin,
    parse_origin,
)
from credenza.services.context import Context, in_thread
from credenza.services.credential_lock import credential_lock
from credenza.services.environments import Environments, ResolvedEnvironment
from credenza.services.providers import Providers

if TYPE_CHECKING:
    from credenza.oauth.binding.dpop import DpopKey
    from credenza.oauth.plan import ClientCredentials
    from credenza.services.team import TeamStore

Where = Literal["team store", "keyring"]

# The origins a credential may go to (a name of its own: ``set`` is a method below).
Origins = set[str]


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
        self._team: TeamStore | None = None
        # Client secrets read in one batch ahead of many calls (``read_ahead``), each used once.
        self._ahead: dict[tuple[str, str], StoredSecret] = {}

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

    def reveal(self, app_ref: str, env_name: str) -> Secret:
        resolved = self._environments.resolve(app_ref, env_name)
        stored = self.stored_secret(resolved.application.id, resolved.name)
        return stored.secret

    # -- where secrets live: the team store when [team] is set, else this person's keyring ------
    # The one switch: every read and write of a client secret, key or pending secret below (and
    # in resets and tokens) goes through these.

    def team_store(self) -> TeamStore | None:
        team = self._context.config.team
        if team is None:
            return None
        if self._team is None or self._team.team != team:
            from credenza.services.team import TeamStore

            if self._team is not None:
                self._team.close()
            self._team = TeamStore(self._context, team)
        return self._team

    def close(self) -> None:
        """Close the team store's connections (they reopen on the next call)."""
        if self._team is not None:
            self._team.close()

    def where(self) -> Where:
        return "team store" if self._context.config.team is not None else "keyring"

    def place(self, app_id: str, environment: str) -> str | None:
        """Where the secret is, as the dashboard says it without a network call: "keyring",
        "team store v3" (the version last seen), or None when it is not there (or not seen)."""
        team = self.team_store()
        if team is None:
            return "keyring" if self.stored_at(app_id, environment) is not None else None
        version = team.known(app_id, environment)[0]
        return None if version is None else f"team store v{version}"

    def look_in_team_store(self, environments: list[tuple[str, str]]) -> None:
        """Read each environment's record once, so that ``place`` says what the store has now
        (blocking: for a worker). Stops at the first failure to reach the store."""
        team = self.team_store()
        if team is None:
            return
        for app_id, environment in environments:
            try:
                team.read(app_id, environment)
            except TeamStoreUnreachableError:
                raise
            except SecretStoreError:
                continue  # a path this person may not read: said when they use it

    def stored_secret(self, app_id: str, environment: str, *, ahead: bool = False) -> StoredSecret:
        """The client secret (or key) and the origins it is bound to. ``ahead``: the copy
        ``read_ahead`` read, if it holds one (only a call's first read takes it: anything that
        writes the secret back, or checks it is still the stored one, reads the keyring)."""
        team = self.team_store()
        if team is not None:
            return team.secret(app_id, environment)
        if ahead and (stored := self._ahead.pop((app_id, environment), None)) is not None:
            return stored
        return self._context.secrets.get_client_secret(app_id, environment)

    def read_ahead(self, environments: Iterable[tuple[str, str]]) -> None:
        """Read the keyring's client secrets of ``environments`` in one batch (a few keyring
        calls, not one each: on gnome-keyring every read is a D-Bus round trip and a search of
        the whole collection, one at a time), each then handed out once, to ``for_call``;
        what an earlier call read ahead and nothing used is dropped (``read_ahead([])``: all of
        it). Only the first read of each comes from the batch: the read after a token call that
        makes sure the secret is still the stored one is a live one, as ever. Blocking."""
        wanted = list(environments)
        if not wanted or self.team_store() is not None:
            self._ahead = {}
            return
        self._ahead = self._context.secrets.get_client_secrets(wanted)

    def secret_version(self, app_id: str, environment: str, *, offline: bool = False) -> int | None:
        """The team store's version of the secret (part of the fingerprint); None: keyring.
        ``offline``: as last seen, without a network call (for the dashboard's event loop)."""
        team = self.team_store()
        if team is None:
            return None
        if offline:
            return team.known(app_id, environment)[0]
        return team.secret_version(app_id, environment)

    def pending_secret(self, app_id: str, environment: str) -> Secret | None:
        """A secret a provider issued (or a one-time link showed) during an unfinished reset."""
        team = self.team_store()
        if team is not None:
            return team.pending(app_id, environment)
        value = self._context.secrets.get_raw(names.pending_secret(app_id, environment))
        return None if value is None else Secret(value)

    def keep_pending(self, app_id: str, environment: str, secret: Secret) -> None:
        team = self.team_store()
        if team is not None:
            team.keep_issued(app_id, environment, secret)
        else:
            self._context.secrets.set_raw(
                names.pending_secret(app_id, environment), secret.reveal()
            )

    def drop_pending(self, app_id: str, environment: str) -> None:
        """Throw the pending secret away (in the team store, with the reset's claim)."""
        team = self.team_store()
        if team is not None:
            team.discard_pending(app_id, environment)
        else:
            self._context.secrets.delete_raw(names.pending_secret(app_id, environment))

    def _write_secret(
        self, app_id: str, environment: str, secret: Secret, origin: str | None, *, new: bool
    ) -> None:
        # What was read ahead of this write is no longer the stored secret.
        self._ahead.pop((app_id, environment), None)
        team = self.team_store()
        if team is not None:
            team.set_secret(app_id, environment, secret, origin, new=new)
        else:
            self._context.secrets.set_client_secret(app_id, environment, secret, origin=origin)

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

    def remove(self, app_id: str, environment: str) -> None:
        secrets = self._context.secrets
        self._ahead.pop((app_id, environment), None)
        # A reset finishing elsewhere would store its secret (and pending copy) back after this.
        with credential_lock(self._context, app_id, environment):
            if self.team_store() is None:
                # A team store's record is the team's: a teammate whose config still has the
                # environment keeps using it; it is deleted in the store by whoever administers it.
                secrets.delete_client_secret(app_id, environment)
                secrets.delete_raw(names.pending_secret(app_id, environment))
            secrets.delete_raw(names.confirmed_origins(app_id, environment))
            secrets.delete_raw(names.dpop_key(app_id, environment))
            # A client credenza registered: the token that manages it goes with its secret.
            secrets.delete_raw(names.registration_token(app_id, environment))
        self._context.local_state.forget_secret(app_id, environment)
        self._context.local_state.reset_finished(app_id, environment)
        # An environment added again later under this name starts with nothing failed.
        self._context.local_state.refresh_worked(app_id, environment)

    def stored_at(
        self, app_ref: str, env_name: str, *, check_keyring: bool = False
    ) -> datetime | None:
        """When this person stored the secret (None: not in their keyring). Kept on this machine,
        not in the shared config, so that a teammate's view is their own. ``check_keyring``
        looks in the keyring when nothing is recorded (a secret stored before this was kept)."""
        resolved = self._environments.resolve(app_ref, env_name)
        app_id, name = resolved.application.id, resolved.name
        local = self._context.local_state
        team = self.team_store()
        if team is not None:
            # The team's secret: when it was written to the store, by whoever wrote it; from the
            # store only when asked (check_keyring), else as last seen (the dashboard's rows).
            if check_keyring:
                return team.secret_at(app_id, name)
            version, at = team.known(app_id, name)
            if version is None:
                return None
            environment = resolved.environment
            return (
                at
                or environment.secret_rotated_at
                or environment.secret_set_at
                or local.secret_set_at(app_id, name)
                or self._context.clock()
            )
        when = local.secret_set_at(app_id, name)
        secrets = self._context.secrets
        if when is None and check_keyring and secrets.get_raw(names.client_secret(app_id, name)):
            when = resolved.environment.secret_set_at or self._context.clock()
            local.record_secret(app_id, name, when)
        return when

    def has_secret(self, resolved: ResolvedEnvironment) -> bool:
        app_id, name = resolved.application.id, resolved.name
        team = self.team_store()
        if team is not None:
            return team.has_secret(app_id, name)
        return self.stored_at(app_id, name, check_keyring=True) is not None

    def age(self, app_ref: str, env_name: str, *, check_keyring: bool = False) -> timedelta | None:
        """How old this person's secret is: since it was rotated, or since they stored it."""
        stored = self.stored_at(app_ref, env_name, check_keyring=check_keyring)
        if stored is None:
            return None
        rotated = self._environments.resolve(app_ref, env_name).environment.secret_rotated_at
        since = max(stored, rotated) if rotated is not None else stored
        return self._context.clock() - since

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

    # -- internals ------------------------------------------------------------------------------

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
