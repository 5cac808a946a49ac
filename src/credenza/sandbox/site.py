"""What every route of the sandbox shares: the site it serves, forms, the OAuth error answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from credenza.sandbox.state import SandboxState

Handler = Callable[[Request], Awaitable[Response]]

# Numbered codes in the style of Telenor's table (seed 004), added to RFC 6749 §5.2 errors.
CODE_INVALID_CLIENT_ID = 1
CODE_BAD_GRANT = 2
CODE_BAD_AUTH_HEADER = 6
CODE_INVALID_REFRESH = 7
CODE_BAD_SCOPE = 8
CODE_GRANT_NOT_ALLOWED = 21
CODE_BAD_CREDENTIALS = 22


@dataclass(frozen=True)
class Site:
    """What each area's routes are built with: the state, the server's base URL once its port is
    known, and the TLS client certificate (DER) of a request, when there is one."""

    state: SandboxState
    issuer: Callable[[], str]
    peer_certificate: Callable[[Request], bytes | None]

    def record(self, request: Request, form: dict[str, str]) -> None:
        """Keep what arrived (the one recorder every route uses), for tests."""
        with self.state.lock:
            self.state.requests.append(
                {
                    "path": request.url.path,
                    "query": request.url.query,
                    "method": request.method,
                    "authorization": request.headers.get("authorization"),
                    "dpop": request.headers.get("dpop"),
                    "form": dict(form),
                }
            )


def oauth_error(status: int, error: str, description: str, code: int) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="credenza-sandbox"'
    return JSONResponse(
        {"error": error, "error_description": description, "error_code": code},
        status_code=status,
        headers=headers,
    )


async def read_form(request: Request) -> dict[str, str]:
    # OAuth endpoints take application/x-www-form-urlencoded only (RFC 6749 §4.4.2).
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))
