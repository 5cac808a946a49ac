"""What needs attention across every provider: expiring and overdue secrets, open checklists,
pending contracts, unfinished resets, failed refreshes, client_ids shared in production."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from credenza.config.model import Application, Config
from credenza.providers.profiles import resolve_profile
from credenza.secrets import names
from credenza.services.checklist import checklist, spec_for
from credenza.services.context import Context

# What kind of attention, in the order a person should deal with them.
AttentionKind = Literal[
    "reset_unfinished",  # a provider-issued secret sits in the keyring as pending (a crash)
    "secret_expired",  # secret_expires_at is past: token calls fail
    "refresh_failed",  # the last refresh of a token this process holds failed
    "client_id_shared",  # two applications use one client_id in production
    "rotation_overdue",  # the secret is older than the rotation policy
    "secret_expiring",  # secret_expires_at is within [settings] expiry_warning_days
    "checklist_open",  # a production checklist item is not done
    "contract_pending",  # the provider has not decided on an access request yet
    "scope_requested",  # a scope asked of the provider and not granted yet (never sent)
]
KIND_ORDER: tuple[AttentionKind, ...] = (
    "reset_unfinished",
    "secret_expired",
    "refresh_failed",
    "client_id_shared",
    "rotation_overdue",
    "secret_expiring",
    "checklist_open",
    "contract_pending",
    "scope_requested",
)
# "due": the user must act (and `credenza status` exits 1); "waiting": on the provider.
Level = Literal["due", "waiting"]
PRODUCTION = "production"


# Slots: the dashboard holds a report with an item per open checklist entry, 30,000 at
# 10,000 applications; a __dict__ each made that 10 MiB.
@dataclass(frozen=True, slots=True)
class Attention:
    """One thing that needs attention, as data: the CLI and the dashboard word it themselves."""

    kind: AttentionKind
    level: Level
    application: str  # the application's id
    application_name: str
    provider: str | None
    environment: str | None
    # What it is about in the user's words: a checklist item, an API, another application's id.
    subject: str | None = None
    detail: str | None = None
    # When it expires / expired / became or becomes due; None where there is no date.
    when: datetime | None = None
    # Days from now to ``when`` (negative: past), so `--json` needs no date arithmetic.
    days: int | None = None


@dataclass(frozen=True)
class StatusReport:
    """Everything that needs attention, most urgent kind first, as of ``checked_at``."""

    checked_at: datetime
    items: tuple[Attention, ...]
    expiry_warning_days: int
    rotation_days: int | None

    @property
    def due(self) -> tuple[Attention, ...]:
        return tuple(item for item in self.items if item.level == "due")

    @property
    def needs_action(self) -> bool:
        return bool(self.due)


@dataclass(frozen=True)
class RefreshFailure:
    """A token refresh that failed (the dashboard's auto-refresh, a script's `credenza token`),
    kept in the person's local state until one succeeds."""

    application: str
    environment: str
    message: str
    at: datetime


@dataclass
class Status:
    """``report()`` is the one call: `credenza status` and the dashboard header both use it."""

    context: Context
    refresh_failures: Callable[[], Iterable[RefreshFailure]] = field(default=lambda: ())

    def report(self, *, check_keyring: bool = True) -> StatusReport:
        """What needs attention now; ``check_keyring=False`` skips the keyring read for
        unfinished resets (a fast first paint in the dashboard)."""
        unfinished = self._unfinished(check_keyring)
        return attention(
            self.context.config,
            self.context.clock(),
            unfinished=unfinished,
            refresh_failures=list(self.refresh_failures()),
            base=self.context.config_dir,
        )

    def due_count(self, *, check_keyring: bool = True) -> int:
        """``len(report().due)`` without holding the report: the dashboard header's count. At
        10,000 applications the report holds 30,000 items; counting holds one at a time."""
        unfinished = self._unfinished(check_keyring)
        return sum(
            item.level == "due"
            for item in attention_items(
                self.context.config,
                self.context.clock(),
                unfinished=unfinished,
                refresh_failures=list(self.refresh_failures()),
                base=self.context.config_dir,
            )
        )

    def _unfinished(self, check_keyring: bool) -> set[tuple[str, str]]:
        config = self.context.config
        local = self.context.local_state
        # Without the keyring: the resets this person's credenza marked as under way.
        unfinished = local.unfinished_resets()
        if check_keyring:
            # One batched read for every environment (two calls on Secret Service).
            wanted = {
                names.pending_secret(application.id, name): (application.id, name)
                for application in config.applications
                for name in application.environments
            }
            read_at = self.context.clock()
            found = self.context.secrets.get_many(wanted)
            unfinished = {where for entry, where in wanted.items() if found.get(entry) is not None}
            local.reconcile_resets(unfinished, read_at)
            unfinished |= local.unfinished_resets()  # resets that began while it was read
        return unfinished


def attention(
    config: Config,
    now: datetime,
    *,
    unfinished: Iterable[tuple[str, str]] = (),
    refresh_failures: Iterable[RefreshFailure] = (),
    base: str | None = None,
) -> StatusReport:
    """The status of ``config`` at ``now``: a pure function of its inputs (tests, dashboard);
    ``base`` is the config's directory (where relative files it names are)."""
    settings = config.settings
    items = list(
        attention_items(
            config, now, unfinished=unfinished, refresh_failures=refresh_failures, base=base
        )
    )
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    items.sort(key=lambda a: (rank[a.kind], a.application, a.environment or ""))
    return StatusReport(
        checked_at=now,
        items=tuple(items),
        expiry_warning_days=settings.expiry_warning_days,
        rotation_days=settings.rotation_days,
    )


def attention_items(
    config: Config,
    now: datetime,
    *,
    unfinished: Iterable[tuple[str, str]] = (),
    refresh_failures: Iterable[RefreshFailure] = (),
    base: str | None = None,
) -> Iterator[Attention]:
    """What needs attention in ``config`` at ``now``, application by application, unsorted."""
    settings = config.settings
    warn_within = timedelta(days=settings.expiry_warning_days)
    unfinished_set = set(unfinished)
    failures: Mapping[tuple[str, str], RefreshFailure] = {
        (f.application, f.environment): f for f in refresh_failures
    }
    items: list[Attention] = []

    def days_to(when: datetime) -> int:
        return (when - now) // timedelta(days=1)

    for application in config.applications:
        provider = config.providers.get(application.provider or "")
        profile = resolve_profile(application.provider, provider, base)
        rotation_days = profile.rotation_days or settings.rotation_days

        def item(
            kind: AttentionKind,
            env: str | None,
            level: Level = "due",
            *,
            subject: str | None = None,
            detail: str | None = None,
            when: datetime | None = None,
            days: int | None = None,
            application: Application = application,
        ) -> None:
            items.append(
                Attention(
                    kind=kind,
                    level=level,
                    application=application.id,
                    application_name=application.name,
                    provider=application.provider,
                    environment=env,
                    subject=subject,
                    detail=detail,
                    when=when,
                    days=days,
                )
            )

        for name, environment in application.environments.items():
            if (application.id, name) in unfinished_set:
                item("reset_unfinished", name)
            failure = failures.get((application.id, name))
            if failure is not None:
                item("refresh_failed", name, detail=failure.message, when=failure.at)
            expires = environment.secret_expires_at
            if expires is not None:
                if expires <= now:
                    item("secret_expired", name, when=expires, days=days_to(expires))
                elif expires - now <= warn_within:
                    item("secret_expiring", name, when=expires, days=days_to(expires))
            since = environment.secret_rotated_at or environment.secret_set_at
            if rotation_days is not None and since is not None:
                due_at = since + timedelta(days=rotation_days)
                if due_at <= now:
                    item(
                        "rotation_overdue",
                        name,
                        when=due_at,
                        days=days_to(due_at),
                        detail=f"rotation every {rotation_days} days",
                    )
            for scope in environment.requested_scopes:
                item("scope_requested", name, "waiting", subject=scope)
        for contract in application.contracts:
            if contract.status == "pending":
                item(
                    "contract_pending",
                    contract.environment,
                    "waiting",
                    subject=contract.api,
                    detail=contract.id,
                    when=contract.requested_at,
                    days=None if contract.requested_at is None else days_to(contract.requested_at),
                )
        if _goes_to_production(application):
            for check in checklist(application, spec_for(config, application.provider)):
                if not check.ok:
                    item(
                        "checklist_open",
                        PRODUCTION,
                        subject=check.label,
                        detail=check.detail or None,
                    )
        yield from items
        items.clear()
    yield from _shared_client_ids(config)


def _goes_to_production(application: Application) -> bool:
    # The checklist is about production: an application with only a sandbox is not nagged.
    return PRODUCTION in application.environments or any(
        c.environment == PRODUCTION for c in application.contracts
    )


def shared_client_ids(config: Config) -> dict[tuple[str, str], list[str]]:
    """(provider, client_id) -> the application ids that use it in production, where several do.

    A client_id identifies one application at the provider (Chorus: unique per application);
    two records with one id in production are a copy-paste slip or one app recorded twice.
    """
    users: dict[tuple[str, str], list[str]] = defaultdict(list)
    for application in config.applications:
        environment = application.environments.get(PRODUCTION)
        if environment is not None:
            users[(application.provider or "", environment.client_id)].append(application.id)
    return {key: ids for key, ids in users.items() if len(ids) > 1}


def _shared_client_ids(config: Config) -> list[Attention]:
    found: list[Attention] = []
    by_id = {a.id: a for a in config.applications}
    for (_, client_id), ids in shared_client_ids(config).items():
        for app_id in ids:
            application = by_id[app_id]
            found.append(
                Attention(
                    kind="client_id_shared",
                    level="due",
                    application=app_id,
                    application_name=application.name,
                    provider=application.provider,
                    environment=PRODUCTION,
                    subject=", ".join(other for other in ids if other != app_id),
                    detail=client_id,
                )
            )
    return found
