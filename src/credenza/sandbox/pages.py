"""The sandbox's HTML pages for a person: consent, device code entry, errors. No JavaScript."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from credenza.sandbox.clients import Client
    from credenza.sandbox.user_grants import PendingAuthorization

_STYLE = (
    "body{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}"
    "input{font-size:1.2rem;letter-spacing:.15em;text-transform:uppercase}"
)
# Clickjacking and script injection are not a concern for a page without scripts, but a
# sandbox should show what a provider ought to send.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def consent_page(client: Client, pending: PendingAuthorization, user: str) -> HTMLResponse:
    name = client.application or client.client_id
    scopes = "".join(f"<li>{escape(scope)}</li>" for scope in pending.scope) or "<li>(none)</li>"
    body = (
        f"<p>Signed in as <b>{escape(user)}</b>.</p>"
        f"<p><b>{escape(name)}</b> ({escape(client.environment)}) asks to act for you with:</p>"
        f"<ul>{scopes}</ul>"
        f"<p>You will return to <code>{escape(pending.redirect_uri)}</code>.</p>"
        '<form method="post" action="/oauth/authorize">'
        f'<input type="hidden" name="request" value="{escape(pending.id)}">'
        '<button type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _page("Sign in to the credenza sandbox", body)


def device_page(user_code: str, problem: str | None = None) -> HTMLResponse:
    note = f"<p><b>{escape(problem)}</b></p>" if problem else ""
    body = (
        f"{note}<p>Enter the code your device shows.</p>"
        '<form method="post" action="/device">'
        f'<p><input name="user_code" value="{escape(user_code)}" size="10" '
        'autocomplete="off" required></p>'
        '<button type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _page("Connect a device", body, status=400 if problem else 200)


def device_done_page(approved: bool) -> HTMLResponse:
    text = "Approved." if approved else "Denied."
    return _page(text, "<p>You can close this page and return to your device.</p>")


def error_page(title: str, text: str) -> HTMLResponse:
    return _page(title, f"<p>{escape(text)}</p>", status=400)
