"""What `credenza team` reads and does across the team store: its status, a record's history,
a push of every keyring secret, and the validated `[team]` section."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from credenza.config.model import Team
from credenza.errors import SecretMissingError, TeamStoreError, TeamStoreUnreachableError
from credenza.secrets import SecretStore
from credenza.services.team import MISSING_HINT, MISSING_STEPS, TeamStore


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a record: when, who, what — never a value."""

    version: int
    time: str
    who: str
    action: str
    deleted: bool = False


@dataclass(frozen=True)
class TeamStatus:
    backend: str
    address: str
    mount: str
    path: str
    token_source: str | None
    token_valid: bool
    who: str | None
    capabilities: list[str]
    can_read: bool
    can_write: bool
    # "app/env": the KV version of its secret there, None when the store has none
    environments: dict[str, int | None] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class PushResult:
    pushed: list[str]
    already: list[str]  # the same secret is there
    conflicts: list[str]  # another secret is there: left alone
    not_in_keyring: list[str]


def history(store: TeamStore, app_id: str, environment: str, limit: int = 50) -> list[HistoryEntry]:
    """Every version with its time, who wrote it and why; the values are never returned."""
    from credenza.oauth.untrusted import clean

    path = store.path(app_id, environment)
    versions = store.client.versions(path)
    if not versions:
        raise SecretMissingError(
            f"the team store has no record for {app_id} / {environment} "
            f"({store.shown(app_id, environment)})",
            hint=MISSING_HINT,
            next_steps=MISSING_STEPS,
        )
    entries = []
    for about in versions[-limit:]:
        record = None if about.deleted else store.client.read(path, about.version)
        data = record.data if record is not None else {}
        entries.append(
            HistoryEntry(
                about.version,
                about.created_time,
                clean(str(data.get("by", "")), limit=80) or "?",
                clean(str(data.get("action", "")), limit=40) or "?",
                about.deleted,
            )
        )
    return entries


def team_status(store: TeamStore, environments: Iterable[tuple[str, str]]) -> TeamStatus:
    """The token (valid, whose, where from), its capabilities on the path, and which
    environments have a secret there; raises only when the store cannot be reached."""
    token = store.token()
    status = TeamStatus(
        backend=store.team.backend,
        address=store.address,
        mount=store.team.mount,
        path=store.team.path,
        token_source=token.source if token is not None else None,
        token_valid=False,
        who=None,
        capabilities=[],
        can_read=False,
        can_write=False,
    )
    if token is None:
        return replace(
            status, problem="no store token: set VAULT_TOKEN or BAO_TOKEN, or `bao login`"
        )
    try:
        who = store.who()
    except TeamStoreUnreachableError:
        raise
    except TeamStoreError as error:
        return replace(status, problem=error.message)
    probe = f"{store.team.mount}/data/{store.team.path}/*"
    capabilities = sorted(store.client.capabilities([probe]).get(probe, []))
    allowed = set(capabilities)
    can_read = bool(allowed & {"read", "root"})
    can_write = "root" in allowed or {"create", "update"} <= allowed
    found: dict[str, int | None] = {}
    if can_read:
        for app_id, environment in environments:
            record = store.read(app_id, environment)
            has = record is not None and bool(record.data.get("secret"))
            found[f"{app_id}/{environment}"] = record.version if has and record else None
    return replace(
        status,
        token_valid=True,
        who=who,
        capabilities=capabilities,
        can_read=can_read,
        can_write=can_write,
        environments=found,
    )


def push_all(
    store: TeamStore, environments: Iterable[tuple[str, str]], keyring: SecretStore
) -> PushResult:
    """This person's keyring secrets copied where the store has none; never overwrites."""
    import hmac

    result = PushResult([], [], [], [])
    for app_id, environment in environments:
        where = f"{app_id}/{environment}"
        try:
            stored = keyring.get_client_secret(app_id, environment)
        except SecretMissingError:
            result.not_in_keyring.append(where)
            continue
        record = store.read(app_id, environment)
        there = record.data.get("secret") if record is not None else None
        if isinstance(there, str) and there:
            same = hmac.compare_digest(there.encode(), stored.secret.reveal().encode())
            (result.already if same else result.conflicts).append(where)
            continue
        if store.push(app_id, environment, stored):
            result.pushed.append(where)
        else:
            result.conflicts.append(where)
    return result


def team_record(backend: str, address: str, path: str, mount: str) -> Team:
    """The ``[team]`` section, validated by the model's own rules (one validation)."""
    import msgspec

    from credenza.config.changes import field_message
    from credenza.errors import ValidationError
    from credenza.oauth.answers import check_endpoint

    fields = {"backend": backend, "address": address.rstrip("/"), "path": path.strip("/")}
    fields["mount"] = mount.strip("/")
    try:
        team = msgspec.convert(fields, Team)
    except msgspec.ValidationError as exc:
        raise ValidationError(
            f"[team] {field_message(str(exc))}", hint="nothing was changed"
        ) from None
    check_endpoint(f"{team.address}/v1/", "team store address")  # https, or http to loopback
    return team
