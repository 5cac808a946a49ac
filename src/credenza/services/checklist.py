"""The production checklist the provider pages describe, and what counts as a placeholder URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from credenza.config.model import Application, Contract
from credenza.services.context import Context

CALLBACK = "a real callback URL"
PLACEHOLDER_HOSTS = ("localhost", "example.com", "example.org", "example.net")


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    label: str
    ok: bool
    detail: str


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
        """What the seeds require before production: owners, callback, contracts, terms."""
        return checklist(self._context.application(app_ref))

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


def checklist(application: Application) -> list[ChecklistItem]:
    items = [
        ChecklistItem(
            "two application owners",
            len(application.owners) >= 2,
            f"{len(application.owners)} named" if application.owners else "none named",
        )
    ]
    items.append(callback_item(application))
    live = _production_contracts(application)
    covered = {api for c in live if c.status != "revoked" for api in c.covered_apis}
    missing = [api for api in application.apis if api not in covered]
    items.append(
        ChecklistItem(
            "registered with each API used",
            bool(live) and not missing,
            "missing: " + ", ".join(missing)
            if missing
            else (f"{len(live)} production contract(s)" if live else "no production contract"),
        )
    )
    unaccepted = [c for c in live if c.terms_accepted_at is None]
    items.append(
        ChecklistItem(
            "terms accepted",
            bool(live) and not unaccepted,
            "not accepted for: " + ", ".join(c.api for c in unaccepted) if unaccepted else "",
        )
    )
    waiting = [c for c in live if c.status != "approved"]
    items.append(
        ChecklistItem(
            "contracts approved",
            bool(live) and not waiting,
            ", ".join(f"{c.api}: {c.status}" for c in waiting),
        )
    )
    return items
