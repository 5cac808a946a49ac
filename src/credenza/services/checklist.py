"""The production checklist the provider pages describe, and what counts as a placeholder URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from credenza.config.model import Application, ChecklistCheck, ChecklistSpec, Config, Contract
from credenza.errors import ValidationError
from credenza.services.context import Context

CALLBACK = "a real callback URL"
PLACEHOLDER_HOSTS = ("localhost", "example.com", "example.org", "example.net")


# Where a provider says nothing of its own (profiles.toml [NAME.checklist]).
GENERIC = ChecklistSpec(checks=["callback", "registered", "terms", "contracts"])


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    label: str
    ok: bool
    detail: str
    # A step a person confirms (`credenza app check`), not one credenza checks itself.
    manual: bool = False


def is_placeholder_url(url: str) -> bool:
    """A callback URL that cannot be production: localhost, loopback, example domains, .test."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return True
    from credenza.oauth.origins import is_loopback

    return (
        is_loopback(host)
        or any(host == p or host.endswith("." + p) for p in PLACEHOLDER_HOSTS)
        or host.endswith((".test", ".invalid", ".example", ".local"))
    )


def _is_loopback_redirect(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "http"
        and parts.port is not None
        and is_placeholder_url(url)
        and ((parts.hostname or "") in ("127.0.0.1", "localhost", "::1"))
    )


class Checklist:
    def __init__(self, context: Context) -> None:
        self._context = context

    def items(self, app_ref: str) -> list[ChecklistItem]:
        """What the application's provider requires before production, in its own words."""
        application = self._context.application(app_ref)
        return checklist(application, spec_for(self._context.config, application.provider))

    def confirm(self, app_ref: str, item: str, *, done: bool = True) -> str:
        """Mark a manual step (by its words, or its number in ``items``) done or not done;
        returns the step's words. A step credenza checks itself cannot be marked."""
        items = self.items(app_ref)
        chosen = None
        if item.isdigit() and 1 <= int(item) <= len(items):
            chosen = items[int(item) - 1]
        else:
            chosen = next((i for i in items if i.label.casefold() == item.casefold()), None)
        steps = [i.label for i in items if i.manual]
        if chosen is None:
            raise ValidationError(
                f"no checklist item {item!r}",
                hint=f"steps you confirm: {'; '.join(steps)}"
                if steps
                else "this provider's "
                "checklist has no step to confirm: credenza checks every item itself",
            )
        if not chosen.manual:
            raise ValidationError(
                f"credenza checks {chosen.label!r} itself ({chosen.detail or 'see app show'})",
                hint="change what it checks (owners, callback URL, contracts) instead",
            )
        now = self._context.clock()

        def mark(config: Config) -> None:
            from credenza.services.context import find_application

            application = find_application(config, app_ref)
            checked = dict(application.checked)
            if done:
                checked[chosen.label] = now
            else:
                checked.pop(chosen.label, None)
            application.checked = checked

        self._context.mutate(mark)
        return chosen.label

    def callback(self, app_ref: str) -> ChecklistItem:
        """Whether the application's callback URL is a real one (see ``callback_item``)."""
        return callback_item(self._context.application(app_ref))


def _production_contracts(application: Application) -> list[Contract]:
    """Production contracts that still count: not rejected, and a revoked one only while no
    approved contract covers its APIs (a superseded revocation is history, not a gap)."""
    production = [c for c in application.contracts if c.environment == "production"]
    approved = {api for c in production if c.status == "approved" for api in c.covered_apis}
    return [
        c
        for c in production
        if c.status != "rejected"
        and not (c.status == "revoked" and set(c.covered_apis) <= approved)
    ]


def callback_item(application: Application) -> ChecklistItem:
    """The one callback URL: set where a grant redirects, and a real one (not a placeholder)."""
    redirect_grants = {"authorization_code", "implicit"} & set(application.grant_types)
    if application.callback_url:
        placeholder = is_placeholder_url(application.callback_url)
        # RFC 8252 §7.3: where credenza itself signs the user in, a loopback redirect is the
        # real one, not a placeholder.
        native = placeholder and "authorization_code" in redirect_grants
        native = native and _is_loopback_redirect(application.callback_url)
        detail = application.callback_url
        if native:
            detail += " (loopback: `credenza login` signs in here)"
        elif placeholder:
            detail = "placeholder: " + detail
        return ChecklistItem(CALLBACK, not placeholder or native, detail)
    return ChecklistItem(
        CALLBACK,
        not redirect_grants,
        "not set" if redirect_grants else "not needed for client_credentials only",
    )


def checklist(application: Application, spec: ChecklistSpec = GENERIC) -> list[ChecklistItem]:
    """The application's production checklist as its provider describes it: the checks
    credenza makes, then the steps a person confirms."""
    items = [_CHECKS[check](application) for check in spec.checks]
    for step in spec.manual:
        when = application.checked.get(step)
        items.append(
            ChecklistItem(
                step,
                when is not None,
                f"confirmed {when:%Y-%m-%d}" if when is not None else "not confirmed yet",
                manual=True,
            )
        )
    return items


def spec_for(config: Config, provider_key: str | None) -> ChecklistSpec:
    """The checklist of an application's provider: the provider record's own, else its shipped
    profile's, else the generic one."""
    record = config.providers.get(provider_key or "")
    if record is not None and record.checklist is not None:
        return record.checklist
    return shipped_spec((record.profile if record and record.profile else provider_key) or "")


@cache
def shipped_spec(profile_key: str) -> ChecklistSpec:
    import msgspec

    from credenza.providers.profiles import shipped_profile

    data = shipped_profile(profile_key).get("checklist")
    return GENERIC if data is None else msgspec.convert(data, ChecklistSpec)


def _owners(application: Application) -> ChecklistItem:
    return ChecklistItem(
        "two application owners",
        len(application.owners) >= 2,
        f"{len(application.owners)} named" if application.owners else "none named",
    )


def _registered(application: Application) -> ChecklistItem:
    live = _production_contracts(application)
    covered = {api for c in live if c.status != "revoked" for api in c.covered_apis}
    missing = [api for api in application.apis if api not in covered]
    return ChecklistItem(
        "registered with each API used",
        bool(live) and not missing,
        "missing: " + ", ".join(missing)
        if missing
        else (f"{len(live)} production contract(s)" if live else "no production contract"),
    )


def _terms(application: Application) -> ChecklistItem:
    live = _production_contracts(application)
    unaccepted = [c for c in live if c.terms_accepted_at is None]
    return ChecklistItem(
        "terms accepted",
        bool(live) and not unaccepted,
        "not accepted for: " + ", ".join(c.api for c in unaccepted) if unaccepted else "",
    )


def _contracts(application: Application) -> ChecklistItem:
    live = _production_contracts(application)
    waiting = [c for c in live if c.status != "approved"]
    return ChecklistItem(
        "contracts approved",
        bool(live) and not waiting,
        ", ".join(f"{c.api}: {c.status}" for c in waiting),
    )


def _credentials(application: Application) -> ChecklistItem:
    production = application.environments.get("production")
    return ChecklistItem(
        "production credentials received",
        production is not None,
        f"client_id {production.client_id}"
        if production is not None
        else "no production environment yet",
    )


def _scopes(application: Application) -> ChecklistItem:
    waiting = sorted(
        {
            s
            for environment in application.environments.values()
            for s in environment.requested_scopes
        }
    )
    return ChecklistItem(
        "the scopes asked for are granted",
        not waiting,
        "waiting for: " + " ".join(waiting) if waiting else "",
    )


_CHECKS: dict[ChecklistCheck, Callable[[Application], ChecklistItem]] = {
    "owners": _owners,
    "callback": callback_item,
    "registered": _registered,
    "terms": _terms,
    "contracts": _contracts,
    "credentials": _credentials,
    "scopes": _scopes,
}
