"""The sandbox's password grant (RFC 6749 §4.3): its one demo user, for clients that declare it."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from credenza.sandbox.state import SandboxState

# The demo user's password when none is given: the sandbox is a local toy, and `credenza demo`
# shows it; tests pass their own.
DEMO_PASSWORD = "sandbox-demo-password"


def resource_owner(state: SandboxState, form: dict[str, str]) -> str | None:
    """The user a username and password sign in, or None (compared in constant time)."""
    username, password = form.get("username", ""), form.get("password", "")
    expected = state.user_password or DEMO_PASSWORD
    user_ok = hmac.compare_digest(username.encode(), state.user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected.encode())
    return state.user if user_ok and password_ok else None
