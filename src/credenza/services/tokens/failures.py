"""Refreshes that failed: kept for `status` until one succeeds, or (offline) in this process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from credenza.services.context import Context

if TYPE_CHECKING:
    from datetime import datetime

    from credenza.errors import CredenzaError
    from credenza.services.status import RefreshFailure


class RefreshFailures:
    """What failed to refresh, by (application, environment)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        # Refreshes that could not reach the provider, in this process only (see ``failed``).
        self._unreachable: dict[tuple[str, str], tuple[str, datetime]] = {}

    def all(self) -> list[RefreshFailure]:
        """Refreshes that failed, in any process of this person, until one succeeds; and those
        that could not reach the provider, in this process only."""
        # Imported when asked (`status`): a token's command never needs it (~8 ms with checklist).
        from credenza.services.status import RefreshFailure

        failures = {**self._context.local_state.refresh_failures(), **self._unreachable}
        return [
            RefreshFailure(app, env, message, at) for (app, env), (message, at) in failures.items()
        ]

    def failed(self, app_id: str, environment: str, error: CredenzaError) -> None:
        from credenza.oauth.answers import error_kind
        from credenza.oauth.untrusted import clean

        message, now = clean(error.message, limit=300), self._context.clock()
        if error_kind(error) == "unreachable":
            # Offline (a laptop asleep, a VPN down) is not kept for `status` in cron to report
            # as due: the dashboard that saw it says so while it runs.
            self._unreachable[(app_id, environment)] = (message, now)
            return
        self._context.local_state.refresh_failed(app_id, environment, message, now)

    def worked(self, app_id: str, environment: str) -> None:
        self._unreachable.pop((app_id, environment), None)
        self._context.local_state.refresh_worked(app_id, environment)
