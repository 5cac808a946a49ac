"""The OAuth2 client: token requests, refresh, revocation, introspection, discovery."""

import sys

# httpx imports its command-line client (and with it rich, ~50 ms) whenever rich is installed, as
# it is beside Textual. credenza never uses that client, and httpx falls back cleanly without it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
