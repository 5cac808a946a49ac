"""The sandbox's user grants: authorization code with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9207)
and the device flow (RFC 8628), their state, the signed-in demo user, and the routes a client
and a person's browser reach (the pages themselves are in pages.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from credenza.sandbox import pages
from credenza.sandbox.client_auth import client_endpoint
from credenza.sandbox.clients import DEVICE_CODE_GRANT, Client
from credenza.sandbox.core import Core
from credenza.sandbox.site import CODE_BAD_SCOPE, Site, oauth_error, read_form


@dataclass
class PendingAuthorization:
    """An authorization request waiting on the consent page (RFC 6749 §4.1.1)."""

    id: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    state: str | None
    code_challenge: str
    created_at: float
    nonce: str | None = None  # OpenID Connect: echoed in the id_token


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    code_challenge: str
    subject: str
    expires_at: float
    nonce: str | None = None
    auth_time: float = 0.0


@dataclass
class DeviceGrant:
    """One RFC 8628 device authorization, from the device's request to the user's decision."""

    device_code: str
    user_code: str
    client_id: str
    scope: list[str]
    expires_at: float
    interval: int
    status: str = "pending"  # pending / approved / denied
    last_poll: float | None = None
    decided_at: float | None = None


class UserGrants(Core):
    """The one demo user, and the authorization requests, codes and device grants in flight."""

    def __init__(
        self,
        *,
        auto_approve: bool,
        user: str,
        device_interval: int,
        user_email: str | None,
        user_name: str | None,
        user_password: str | None,
    ) -> None:
        # The user grants: tests approve without a page; the demo shows the consent page.
        self.auto_approve = auto_approve
        self.user = user
        self.device_interval = device_interval
        # The signed-in user as OpenID Connect describes them (id_token claims).
        self.user_email = user_email or (user if "@" in user else None)
        self.user_name = user_name or user.partition("@")[0].replace(".", " ").title()
        # The user's password for the password grant (None: sandbox/password.py's demo one).
        self.user_password = user_password
        self.pending: dict[str, PendingAuthorization] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.devices: dict[str, DeviceGrant] = {}

    def begin_authorization(
        self,
        client: Client,
        redirect_uri: str,
        scope: list[str],
        state: str | None,
        code_challenge: str,
        nonce: str | None = None,
    ) -> PendingAuthorization:
        pending = PendingAuthorization(
            id=self.random.urlsafe(24),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=code_challenge,
            created_at=self.clock(),
            nonce=nonce,
        )
        with self.lock:
            self.pending[pending.id] = pending
        return pending

    def take_pending(self, pending_id: str) -> PendingAuthorization | None:
        """The request the consent page was shown for; once, and within ten minutes."""
        with self.lock:
            pending = self.pending.pop(pending_id, None)
        if pending is None or self.clock() - pending.created_at > 600:
            return None
        return pending

    def issue_code(self, pending: PendingAuthorization) -> AuthorizationCode:
        code = AuthorizationCode(
            code="ac-" + self.random.urlsafe(32),
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            scope=pending.scope,
            code_challenge=pending.code_challenge,
            subject=self.user,
            expires_at=self.clock() + 60,  # RFC 6749 §4.1.2: short-lived, 10 minutes at most
            nonce=pending.nonce,
            auth_time=self.clock(),
        )
        with self.lock:
            self.codes[code.code] = code
        return code

    def redeem_code(
        self, value: str, client_id: str, redirect_uri: str | None, verifier: str
    ) -> AuthorizationCode | None:
        """The code if every binding holds (client, redirect_uri, PKCE S256); used up either way."""
        with self.lock:
            code = self.codes.pop(value, None)
        if code is None or code.client_id != client_id or code.expires_at <= self.clock():
            return None
        if redirect_uri != code.redirect_uri:
            return None
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        if not (43 <= len(verifier) <= 128) or not hmac.compare_digest(
            challenge, code.code_challenge
        ):
            return None
        return code

    def begin_device(self, client: Client, scope: list[str]) -> DeviceGrant:
        # RFC 8628 §6.1: a short code from an alphabet without vowels or look-alikes.
        alphabet = "BCDFGHJKLMNPQRSTVWXZ"
        letters = self.random.urlsafe(64)
        picked = [alphabet[ord(ch) % len(alphabet)] for ch in letters[:8]]
        grant = DeviceGrant(
            device_code="dc-" + self.random.urlsafe(32),
            user_code="".join(picked[:4]) + "-" + "".join(picked[4:]),
            client_id=client.client_id,
            scope=scope,
            expires_at=self.clock() + 600,
            interval=self.device_interval,
        )
        with self.lock:
            self.devices[grant.device_code] = grant
        return grant

    def device_by_user_code(self, user_code: str) -> DeviceGrant | None:
        wanted = user_code.strip().upper().replace(" ", "")
        if len(wanted) == 8:
            wanted = wanted[:4] + "-" + wanted[4:]
        with self.lock:
            for grant in self.devices.values():
                if grant.user_code == wanted and grant.status == "pending":
                    return grant
        return None

    def decide_device(self, grant: DeviceGrant, approve: bool) -> None:
        with self.lock:
            grant.status = "approved" if approve else "denied"
            grant.decided_at = self.clock()

    def poll_device(self, device_code: str, client_id: str) -> DeviceGrant | str:
        """The approved grant (used up), or the RFC 8628 §3.5 error code for this poll."""
        now = self.clock()
        with self.lock:
            grant = self.devices.get(device_code)
            if grant is None or grant.client_id != client_id:
                return "invalid_grant"
            if grant.expires_at <= now:
                del self.devices[device_code]
                return "expired_token"
            if grant.status == "denied":
                del self.devices[device_code]
                return "access_denied"
            too_soon = grant.last_poll is not None and now - grant.last_poll < grant.interval
            grant.last_poll = now
            if too_soon:
                grant.interval += 5  # §3.5: and the client must add 5 seconds as well
                return "slow_down"
            if grant.status == "pending":
                return "authorization_pending"
            del self.devices[device_code]
            return grant


def routes(site: Site) -> list[Route]:
    """Device authorization, the authorization endpoint and its consent, the device page."""
    state, issuer = site.state, site.issuer

    async def device_authorization(
        request: Request, form: dict[str, str], client: Client
    ) -> Response:
        """RFC 8628 §3.1-3.2."""
        if DEVICE_CODE_GRANT not in client.grant_types:
            return oauth_error(
                400, "unauthorized_client", "this client may not use the device flow", 21
            )
        requested = form.get("scope", "").split()
        allowed = state.granted_scopes(client)
        denied = [scope for scope in requested if scope not in allowed]
        if denied:
            return oauth_error(
                400, "invalid_scope", f"scope not granted: {' '.join(denied)}", CODE_BAD_SCOPE
            )
        grant = state.begin_device(client, requested or sorted(allowed))
        verification = f"{issuer()}/device"
        return JSONResponse(
            {
                "device_code": grant.device_code,
                "user_code": grant.user_code,
                "verification_uri": verification,
                "verification_uri_complete": f"{verification}?{urlencode({'user_code': grant.user_code})}",
                "expires_in": int(grant.expires_at - state.clock()),
                "interval": grant.interval,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def authorize(request: Request) -> Response:
        """RFC 6749 §4.1.1 with PKCE (RFC 7636, S256 only) and RFC 9207 ``iss`` on the way back."""
        site.record(request, {})
        params = request.query_params
        client = state.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        # §4.1.2.1: with an unknown client or a redirect_uri that does not match, tell the user
        # and never redirect (an open redirector otherwise).
        if client is None:
            return pages.error_page("Unknown application", "No application has this client_id.")
        if not client.accepts_redirect(redirect_uri):
            return pages.error_page(
                "Redirect URI not registered",
                "The redirect_uri does not match one registered for this application (on "
                "loopback, any port is accepted).",
            )
        state_param = params.get("state")

        def back(**values: str) -> Response:
            return redirect_back(redirect_uri, state_param, values)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "authorization_code" not in client.grant_types:
            return back(error="unauthorized_client")
        challenge, method = params.get("code_challenge", ""), params.get("code_challenge_method")
        if not challenge or method != "S256":
            return back(error="invalid_request", error_description="PKCE with S256 is required")
        requested = params.get("scope", "").split()
        denied = [scope for scope in requested if scope not in state.granted_scopes(client)]
        if denied:
            return back(error="invalid_scope")
        pending = state.begin_authorization(
            client,
            redirect_uri,
            requested or sorted(state.granted_scopes(client)),
            state_param,
            challenge,
            params.get("nonce"),
        )
        if state.auto_approve:
            return back(code=state.issue_code(pending).code)
        return pages.consent_page(client, pending, state.user)

    async def consent(request: Request) -> Response:
        form = await read_form(request)
        pending = state.take_pending(form.get("request", ""))
        if pending is None:
            return pages.error_page("This sign-in has expired", "Start again from the application.")
        if form.get("decision") != "approve":
            return redirect_back(pending.redirect_uri, pending.state, {"error": "access_denied"})
        code = state.issue_code(pending)
        return redirect_back(pending.redirect_uri, pending.state, {"code": code.code})

    def redirect_back(uri: str, state_param: str | None, values: dict[str, str]) -> Response:
        query = dict(values)
        if state_param is not None:
            query["state"] = state_param
        query["iss"] = issuer()  # RFC 9207: lets the client detect a mix-up attack
        joiner = "&" if urlsplit(uri).query else "?"
        return RedirectResponse(f"{uri}{joiner}{urlencode(query)}", status_code=302)

    async def device_page(request: Request) -> Response:
        if request.method == "GET":
            return pages.device_page(request.query_params.get("user_code", ""))
        form = await read_form(request)
        grant = state.device_by_user_code(form.get("user_code", ""))
        if grant is None:
            return pages.device_page(form.get("user_code", ""), "That code is unknown or expired.")
        approve = form.get("decision") == "approve"
        state.decide_device(grant, approve)
        return pages.device_done_page(approve)

    return [
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/authorize", consent, methods=["POST"]),
        Route(
            "/oauth/device_authorization",
            client_endpoint(site, device_authorization),
            methods=["POST"],
        ),
        Route("/device", device_page, methods=["GET", "POST"]),
    ]
