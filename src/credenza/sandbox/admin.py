"""The sandbox's admin API door: the admin token every `/admin/...` route checks, its error
answers, and JSON bodies. The routes themselves live with their area (clients, contracts,
faults)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from credenza.sandbox.site import Handler

if TYPE_CHECKING:
    from credenza.sandbox.state import SandboxState


def admin(state: SandboxState, handler: Handler) -> Handler:
    """``handler`` behind the admin token; a KeyError answers 404, a ValueError 400."""

    async def guarded(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if header != f"Bearer {state.admin_token}":
            return JSONResponse(
                {"error": "unauthorized", "error_description": "admin token required"}, 401
            )
        try:
            return await handler(request)
        except KeyError as exc:
            return JSONResponse({"error": "not_found", "error_description": str(exc.args[0])}, 404)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)

    return guarded


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data
