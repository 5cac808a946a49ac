"""The team store: the config's client secrets and keys in Vault / OpenBao KV v2, one record per
application and environment, every write check-and-set; claims for resets. What `credenza team`
reads across the store (status, history, push of every secret) is in team_overview.

One record, ``<mount>/data/<path>/<application id>/<environment>``, holds the current secret and
what a rotation needs beside it, so that one check-and-set write changes them together:

- ``secret``, ``origin``          the current secret and the token endpoint origins it is bound to
- ``secret_version``              the KV version that stored this secret (a claim or a pending
                                  secret makes a new KV version but not a new secret): part of the
                                  credential's fingerprint, so a teammate's reset reaches everyone
- ``previous``                    overlap rotation: the old secret, kept until it is retired
- ``pending_secret``              a secret the provider issued, stored before it is verified
- ``claim``                       ``{by, since}``: a reset under way; a second one stops at it
- ``by``, ``at``, ``action``      who wrote this version (the store token's display name), when,
                                  and why: what ``secret history`` shows (never a value)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from credenza.config.model import Team
from credenza.errors import (
    ResetInProgressError,
    SecretMissingError,
    TeamStoreConflictError,
    TeamStoreDeniedError,
    TeamStoreError,
    TeamStoreUnreachableError,
)
from credenza.next_steps import step
from credenza.secrets import Secret, StoredSecret
from credenza.services.context import Context
from credenza.services.vault import CasMismatch, KvRecord, StoreToken, VaultClient, find_token

if TYPE_CHECKING:
    from credenza.oauth.sync_client import SyncOAuthClient

Action = Literal[
    "set", "push", "bind", "reset-claimed", "reset-issued", "reset", "reset-released",
    "reset-discarded", "retire-previous", "recover",
]  # fmt: skip
# How long one process trusts the secret version it read (the dashboard lives for hours; a
# one-shot command reads it once).
VERSION_TTL = 5.0
MISSING_HINT = "ask someone with write access, or `{0}`"
MISSING_STEPS = (step("team_push"),)


class TeamStore:
    """The records of one ``[team]`` section, read and written with the person's own token."""

    def __init__(self, context: Context, team: Team, token: StoreToken | None = None) -> None:
        self._context = context
        self.team = team
        self._token = token
        self._client: VaultClient | None = None
        self._driver: SyncOAuthClient | None = None
        self._who: str | None = None
        # (app, env) -> (secret_version, read at time.monotonic())
        self._versions: dict[tuple[str, str], tuple[int | None, float]] = {}

    # -- where, and with what -------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self.team.address.rstrip("/")

    def token(self) -> StoreToken | None:
        if self._token is None:
            self._token = find_token()
        return self._token

    @property
    def client(self) -> VaultClient:
        if self._client is None:
            token = self.token()
            if token is None:
                raise TeamStoreError(
                    f"no token for the team store at {self.address}",
                    hint="set VAULT_TOKEN (or BAO_TOKEN), or log in with `vault login` / "
                    "`bao login` (it writes ~/.vault-token); credenza never stores it",
                )
            from credenza.oauth.sync_client import SyncOAuthClient

            # Its own driver: the same settings as every call, but no --verbose observer (the
            # store token is a header of every call).
            self._driver = SyncOAuthClient(self._context.http())
            self._client = VaultClient(self._driver, self.address, self.team.mount, token)
        return self._client

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
        self._driver = self._client = None

    def path(self, app_id: str, environment: str) -> str:
        return f"{self.team.path}/{app_id}/{environment}"

    def shown(self, app_id: str, environment: str) -> str:
        return f"{self.team.mount}/data/{self.path(app_id, environment)}"

    def who(self) -> str:
        """The store token's display name (Vault's own name for whoever holds it)."""
        if self._who is None:
            data = self.client.lookup_self()
            from credenza.oauth.untrusted import clean

            name = data.get("display_name") or data.get("entity_id") or "unknown"
            self._who = clean(str(name), limit=80) or "unknown"
        return self._who

    # -- reading ------------------------------------------------------------------------------

    def read(self, app_id: str, environment: str) -> KvRecord | None:
        record = self.client.read(self.path(app_id, environment))
        self._saw(app_id, environment, record)
        return record

    def secret(self, app_id: str, environment: str) -> StoredSecret:
        record = self.read(app_id, environment)
        value = record.data.get("secret") if record is not None else None
        if not isinstance(value, str) or not value:
            raise SecretMissingError(
                f"the secret of {app_id} / {environment} is not in the team store "
                f"({self.shown(app_id, environment)})",
                hint=MISSING_HINT,
                next_steps=MISSING_STEPS,
            )
        origin = record.data.get("origin") if record is not None else None
        return StoredSecret(Secret(value), origin if isinstance(origin, str) else None)

    def has_secret(self, app_id: str, environment: str) -> bool:
        """Whether the store has the secret: as this process last read it (the dashboard's
        worker read every record: a reset dialog then asks nothing on the event loop), else
        as this person last saw it, else read now."""
        if (app_id, environment) in self._versions:
            return self._versions[(app_id, environment)][0] is not None
        if self._context.local_state.team_seen(app_id, environment) is not None:
            return True
        record = self.read(app_id, environment)
        return record is not None and bool(record.data.get("secret"))

    def secret_version(self, app_id: str, environment: str) -> int | None:
        """The version of the current secret, for the fingerprint; while the store cannot be
        reached, the one this person last saw (so a cached token is still found)."""
        known = self._versions.get((app_id, environment))
        if known is not None and time.monotonic() - known[1] < VERSION_TTL:
            return known[0]
        try:
            self.read(app_id, environment)
        except TeamStoreUnreachableError:
            last = self._context.local_state.team_seen(app_id, environment)
            if last is None:
                raise
            return last[0]
        return self._versions[(app_id, environment)][0]

    def known(self, app_id: str, environment: str) -> tuple[int | None, datetime | None]:
        """The secret's version and time as last seen, by this process or this person; no
        network call (the dashboard draws its rows with this)."""
        known = self._versions.get((app_id, environment))
        seen = self._context.local_state.team_seen(app_id, environment)
        if known is not None:
            at = seen[1] if seen is not None and seen[0] == known[0] else None
            return known[0], at
        return seen if seen is not None else (None, None)

    def pending(self, app_id: str, environment: str) -> Secret | None:
        record = self.read(app_id, environment)
        value = record.data.get("pending_secret") if record is not None else None
        return Secret(value) if isinstance(value, str) and value else None

    def secret_at(self, app_id: str, environment: str) -> datetime | None:
        """When the current secret was written to the store."""
        record = self.read(app_id, environment)
        at = record.data.get("secret_at") if record is not None else None
        try:
            return datetime.fromisoformat(at) if isinstance(at, str) else None
        except ValueError:
            return None

    # -- writing (every write check-and-set against the version just read) ----------------------

    def update(
        self,
        app_id: str,
        environment: str,
        change: Callable[[dict[str, Any]], None],
        action: Action,
        *,
        new_secret: bool = False,
        against: KvRecord | None = None,
        claimed: bool = False,
    ) -> KvRecord:
        """Apply ``change`` to the record as read (or as ``against``) and write it only if
        nobody wrote since. A claim by someone else stops every write but the claimant's."""
        record = against if against is not None else self.read(app_id, environment)
        data = dict(record.data) if record is not None else {}
        if not claimed and isinstance(data.get("claim"), dict):
            raise self._in_progress(app_id, environment, data["claim"])
        cas = record.version if record is not None else 0
        change(data)
        now = self._context.clock().isoformat()
        data.update(by=self.who(), at=now, action=action)
        if new_secret:
            # With cas=N the write that succeeds creates version N+1: the secret's own version.
            data["secret_version"] = cas + 1
            data["secret_at"] = now
        try:
            version = self.client.write(self.path(app_id, environment), data, cas)
        except CasMismatch:
            raise self._lost(app_id, environment, cas) from None
        written = KvRecord(data, version, now)
        self._saw(app_id, environment, written)
        return written

    def set_secret(
        self, app_id: str, environment: str, secret: Secret, origin: str | None, *, new: bool
    ) -> None:
        def change(data: dict[str, Any]) -> None:
            if new:
                data.pop("previous", None)  # a secret set by hand replaces both
            data["secret"] = secret.reveal()
            data["origin"] = origin

        self.update(app_id, environment, change, "set" if new else "bind", new_secret=new)

    def push(self, app_id: str, environment: str, stored: StoredSecret) -> bool:
        """Write only where the store has no record yet (cas=0); False when one is there."""
        record = self.read(app_id, environment)
        if record is not None and record.data.get("secret"):
            return False

        def change(data: dict[str, Any]) -> None:
            data["secret"] = stored.secret.reveal()
            data["origin"] = stored.origin

        self.update(app_id, environment, change, "push", new_secret=True, against=record)
        return True

    # -- a reset: claim, keep what the provider issued, finish or release ------------------------

    def claim(self, app_id: str, environment: str, against: KvRecord | None = None) -> KvRecord:
        """Mark the record as being reset, by whom and since when, before the provider is asked:
        a second reset reads the claim (or loses the check-and-set) and stops. ``against``:
        the record as read earlier (default: read now)."""
        record = against if against is not None else self.read(app_id, environment)
        if record is not None and isinstance(record.data.get("claim"), dict):
            raise self._in_progress(app_id, environment, record.data["claim"])
        since = self._context.clock().isoformat()
        try:
            return self.update(
                app_id,
                environment,
                lambda data: data.__setitem__("claim", {"by": self.who(), "since": since}),
                "reset-claimed",
                against=record,
            )
        except TeamStoreConflictError:
            now = self.read(app_id, environment)
            if now is not None and isinstance(now.data.get("claim"), dict):
                raise self._in_progress(app_id, environment, now.data["claim"]) from None
            raise

    def keep_issued(self, app_id: str, environment: str, issued: Secret) -> KvRecord:
        """The provider's new secret, in the store before anything else is tried with it."""
        return self.update(
            app_id,
            environment,
            lambda data: data.__setitem__("pending_secret", issued.reveal()),
            "reset-issued",
            claimed=True,
        )

    def finish(
        self,
        app_id: str,
        environment: str,
        secret: Secret,
        origin: str | None,
        *,
        keep_previous: bool,
        action: Action = "reset",
    ) -> None:
        """The new secret becomes the current one; with overlap rotation the old one stays in
        the record as ``previous`` until retired. The claim and the pending copy go."""

        def change(data: dict[str, Any]) -> None:
            old = data.get("secret")
            if keep_previous and isinstance(old, str) and old != secret.reveal():
                data["previous"] = old
            else:
                data.pop("previous", None)
            data["secret"] = secret.reveal()
            data["origin"] = origin
            data.pop("pending_secret", None)
            data.pop("claim", None)

        self.update(app_id, environment, change, action, new_secret=True, claimed=True)

    def release(self, app_id: str, environment: str, *, only_mine: bool = False) -> bool:
        """A reset that stops before the provider issued anything gives its claim back;
        ``only_mine``: someone else's claim is reported, not released. True: one was."""
        record = self.read(app_id, environment)
        claim = record.data.get("claim") if record is not None else None
        if record is None or not isinstance(claim, dict):
            return False
        if record.data.get("pending_secret"):
            return False  # an issued secret waits for `secret recover`; the claim stays with it
        if only_mine and claim.get("by") != self.who():
            raise self._in_progress(app_id, environment, claim)

        def change(data: dict[str, Any]) -> None:
            data.pop("claim", None)

        self.update(app_id, environment, change, "reset-released", against=record, claimed=True)
        return True

    def check_writable(self, app_id: str, environment: str) -> None:
        """Refuse before anything else happens when the token may not update the record."""
        path = self.shown(app_id, environment)
        allowed = set(self.client.capabilities([path]).get(path, []))
        if "root" in allowed or "update" in allowed:
            return
        raise TeamStoreDeniedError(
            f"your store token may not update {path} in the team store at {self.address} "
            f"(it may: {', '.join(sorted(allowed)) or 'nothing'})",
            hint="ask someone who administers the store for the update capability there; "
            "nothing was changed",
        )

    def discard_pending(self, app_id: str, environment: str) -> None:
        """A pending secret thrown away (mistyped): it goes with its claim; the secret stays."""
        record = self.read(app_id, environment)
        if record is None or not ({"pending_secret", "claim"} & set(record.data)):
            return

        def change(data: dict[str, Any]) -> None:
            data.pop("pending_secret", None)
            data.pop("claim", None)

        self.update(app_id, environment, change, "reset-discarded", against=record, claimed=True)

    def retire_previous(self, app_id: str, environment: str) -> None:
        def change(data: dict[str, Any]) -> None:
            data.pop("previous", None)

        self.update(app_id, environment, change, "retire-previous")

    # -- internals ------------------------------------------------------------------------------

    def _saw(self, app_id: str, environment: str, record: KvRecord | None) -> None:
        version = record.data.get("secret_version") if record is not None else None
        if record is not None and not isinstance(version, int) and record.data.get("secret"):
            version = record.version  # written by hand, or by another tool
        known = version if isinstance(version, int) else None
        self._versions[(app_id, environment)] = (known, time.monotonic())
        if known is not None and record is not None:
            at = record.data.get("secret_at")
            try:
                when = datetime.fromisoformat(at) if isinstance(at, str) else None
            except ValueError:
                when = None
            self._context.local_state.saw_team_version(app_id, environment, known, when)

    def _in_progress(
        self, app_id: str, environment: str, claim: dict[str, Any]
    ) -> ResetInProgressError:
        from credenza.oauth.untrusted import clean

        by = clean(str(claim.get("by", "?")), limit=80)
        since = clean(str(claim.get("since", "?")), limit=40)
        return ResetInProgressError(
            f"another reset of {app_id} / {environment} is in progress (by {by} since {since}); "
            "nothing was changed",
            hint="wait for it to finish; if it was abandoned, its author runs `{0}`",
            next_steps=(step("recover_secret", app_id, environment),),
        )

    def _lost(self, app_id: str, environment: str, cas: int) -> TeamStoreConflictError:
        return TeamStoreConflictError(
            f"the record of {app_id} / {environment} in the team store changed since it was read "
            f"(version {cas}); nothing was written",
            hint="someone else wrote it meanwhile: run the command again",
        )
