"""The sandbox provider's state: clients, issued tokens, the API catalogue, contracts, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import random
import secrets
import string
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from credenza.config.auth_methods import AUTH_METHODS as AUTH_METHODS

GRANT_TYPES = (
    "client_credentials",
    "refresh_token",
    "authorization_code",
    "urn:ietf:params:oauth:grant-type:device_code",
    "password",  # RFC 6749 §4.3, for the demo user (sandbox/password.py)
)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FAULT_MODES = ("latency", "error", "unavailable", "html", "malformed_json", "slow_body", "drop")
# How a misbehaving sandbox spoils the id_tokens it issues (tests of the client's checks).
IdTokenFault = Literal[
    "bad_signature",
    "wrong_aud",
    "wrong_iss",
    "wrong_nonce",
    "expired",
    "foreign_key",
    "many_aud",
    "hmac",
    "alg_none",  # unsigned (alg: none)
    "no_sub",
    "no_exp",
    "no_nonce",  # the nonce the authorization request carried is left out
    "other_sub",  # about another user (a refresh must stay about the one who signed in)
    "oct_key",  # alg confusion: HS256 keyed with a symmetric key the JWK Set publishes
    "no_kid",  # well signed, but its header names no key (a provider with one key at a time)
]
# The symmetric key an "oct_key" JWK Set publishes next to the real one.
OCT_KID = "shared-hmac"
ID_TOKEN_ALG = "ES256"


_URLSAFE = string.ascii_letters + string.digits + "-_"


class Randomness:
    """secrets' randomness, or a seeded generator so that tests and screenshots repeat exactly."""

    def __init__(self, seed: int | None = None) -> None:
        # Seeded only when asked for (tests, screenshots); never for a sandbox someone relies on.
        self._seeded = random.Random(seed) if seed is not None else None  # noqa: S311

    def hex(self, nbytes: int) -> str:
        if self._seeded is None:
            return secrets.token_hex(nbytes)
        return self._seeded.randbytes(nbytes).hex()

    def urlsafe(self, length: int) -> str:
        if self._seeded is None:
            return secrets.token_urlsafe(length)[:length]
        return "".join(self._seeded.choice(_URLSAFE) for _ in range(length))

    def key(self) -> bytes:
        return secrets.token_bytes(32) if self._seeded is None else self._seeded.randbytes(32)


@dataclass
class Client:
    """A registered client (RFC 7591 metadata names), in one environment of one application."""

    client_id: str
    client_secret: str
    scope: list[str] = field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: list[str] = field(default_factory=lambda: ["client_credentials"])
    token_ttl: int | None = None
    application: str | None = None
    environment: str = "sandbox"
    rotation: str = "cutover"
    previous_secret: str | None = None
    secret_rotated_at: float | None = None
    # RFC 7591 / RFC 8705 metadata for the user grants and the key- and certificate-based methods.
    redirect_uris: list[str] = field(default_factory=list)
    jwks: dict[str, Any] | None = None
    tls_client_auth_subject_dn: str | None = None
    tls_client_auth_san_dns: str | None = None
    # RFC 9449: every token of this client is DPoP-bound (§5.2 dpop_bound_access_tokens), and
    # every proof must carry the server's current nonce (§8, §9: use_dpop_nonce).
    dpop_bound_access_tokens: bool = False
    use_dpop_nonce: bool = False

    def accepts_redirect(self, uri: str) -> bool:
        """An exact match, or (RFC 8252 §7.3) a registered loopback redirect on any port."""
        if uri in self.redirect_uris:
            return True
        given = urlsplit(uri)
        if given.scheme != "http" or not _loopback_name(given.hostname):
            return False
        try:
            given.port  # noqa: B018 - a port that is not one raises here
        except ValueError:
            return False
        return any(
            (parts := urlsplit(registered)).scheme == "http"
            and _loopback_name(parts.hostname)
            and (parts.hostname, parts.path, parts.query, parts.fragment)
            == (given.hostname, given.path, given.query, given.fragment)
            for registered in self.redirect_uris
        )


def _loopback_name(host: str | None) -> bool:
    """127.0.0.0/8, ::1, or localhost: where a native app listens on a port of its choosing."""
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class IssuedToken:
    token: str
    kind: str  # "access" or "refresh"
    client_id: str
    scope: list[str]
    issued_at: float
    expires_at: float
    audience: str | None = None
    revoked: bool = False
    subject: str | None = None  # the signed-in user, for tokens from a user grant
    auth_time: float | None = None  # when that user signed in (OIDC auth_time), for refreshes
    jkt: str | None = None  # RFC 9449: the thumbprint of the key the token is bound to


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


@dataclass
class ApiInstance:
    """An API instance or API group instance that applications request access to."""

    id: str
    name: str
    instance: str
    target: str = "api"  # or "api_group"
    apis: list[str] = field(default_factory=list)
    environment: str = "sandbox"
    terms: str | None = None
    # tier name -> {"auto_approve": bool, "scopes": [...], "rank": int}; a higher rank is less
    # restrictive (more requests per minute).
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Contract:
    id: str
    client_id: str
    api_id: str
    sla_tier: str | None
    scope: list[str]
    status: str
    requested_at: float
    decided_at: float | None = None
    terms_accepted_at: float | None = None


@dataclass
class Fault:
    """An injected failure at the OAuth endpoints, for one client or for all (client_id None)."""

    mode: str
    client_id: str | None = None
    status: int = 500
    retry_after: int | None = None
    latency_ms: int = 0
    times: int | None = None  # applies this many times, then disappears; None: until cleared
    drip_interval: float = 0.5


class SandboxState:
    """Everything the sandbox knows. Thread-safe; optionally persisted to a JSON state file."""

    def __init__(
        self,
        *,
        token_ttl: int = 3600,
        admin_token: str | None = None,
        state_file: Path | None = None,
        clock: Any = time.time,
        seed: int | None = None,
        auto_approve: bool = False,
        user: str = "ada@example.org",
        device_interval: int = 5,
        user_email: str | None = None,
        user_name: str | None = None,
        user_password: str | None = None,
        initial_access_token: str | None = None,
    ) -> None:
        self.random = Randomness(seed)
        self.token_ttl = token_ttl
        self.admin_token = admin_token or self.random.urlsafe(32)
        self.signing_key = self.random.key()
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.apis: dict[str, ApiInstance] = {}
        self.contracts: dict[str, Contract] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []  # what arrived at the OAuth endpoints, for tests
        # The user grants: tests approve without a page; the demo shows the consent page.
        self.auto_approve = auto_approve
        self.user = user
        self.device_interval = device_interval
        # The signed-in user as OpenID Connect describes them (id_token claims).
        self.user_email = user_email or (user if "@" in user else None)
        self.user_name = user_name or user.partition("@")[0].replace(".", " ").title()
        # The user's password for the password grant (None: sandbox/password.py's demo one).
        self.user_password = user_password
        # RFC 7591 / 7592 (sandbox/registration.py): the token a registration must carry (None:
        # open registration), and each registered client's registration access token.
        self.initial_access_token = initial_access_token
        self.registration_tokens: dict[str, str] = {}
        # OpenID Connect id_tokens are signed with a key made at start (ES256: quick to make),
        # published at jwks_uri; never persisted, so a restarted sandbox has a new one.
        self.id_token_key = ec.generate_private_key(ec.SECP256R1())
        self.id_token_kid = _thumbprint(self.id_token_key)
        self.id_token_fault: IdTokenFault | None = None
        self._oct_secret = b"published-symmetric-key-0123456789abcdef"
        # The JWK Set endpoint answers 503 while set (a provider's key server briefly down).
        self.jwks_down = False
        self.issued_id_tokens: list[str] = []  # every id_token sent, for tests' leak checks
        self.pending: dict[str, PendingAuthorization] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.devices: dict[str, DeviceGrant] = {}
        self.seen_jtis: dict[str, float] = {}  # private_key_jwt assertion ids, until they expire
        self.listeners: list[Callable[[Client], None]] = []  # told of each new client (TLS trust)
        # RFC 9449 nonces, one for the token endpoint and one for the API (separate servers in
        # real deployments); and a test knob: the API refuses every token (invalid_token).
        # (Not drawn from the seeded randomness: the demo's ids and secrets stay what they were.)
        self.dpop_nonces = {"token": secrets.token_urlsafe(16), "api": secrets.token_urlsafe(16)}
        self.api_rejects_tokens = False
        self.clock = clock
        self.state_file = state_file
        self.lock = threading.RLock()
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # -- clients ------------------------------------------------------------------------------

    def add_client(self, metadata: dict[str, Any]) -> Client:
        """Register a client from RFC 7591 metadata; a missing id or secret is generated."""
        scope = metadata.get("scope", "")
        method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in AUTH_METHODS:
            raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        ttl = metadata.get("token_ttl", metadata.get("token_lifetime"))
        grant_types = list(metadata.get("grant_types") or ["client_credentials"])
        unknown = [grant for grant in grant_types if grant not in GRANT_TYPES]
        if unknown:
            raise ValueError(f"grant_types may hold only {', '.join(GRANT_TYPES)}")
        redirect_uris = [str(uri) for uri in metadata.get("redirect_uris") or []]
        if "authorization_code" in grant_types and not redirect_uris:
            raise ValueError("a client using authorization_code needs redirect_uris")
        jwks = metadata.get("jwks")
        if method == "private_key_jwt" and not (isinstance(jwks, dict) and jwks.get("keys")):
            raise ValueError("a private_key_jwt client needs jwks with at least one public key")
        if method == "self_signed_tls_client_auth" and not _x5c_thumbprints(jwks):
            raise ValueError(
                "a self_signed_tls_client_auth client needs jwks with x5c certificates"
            )
        if method == "tls_client_auth" and not (
            metadata.get("tls_client_auth_subject_dn") or metadata.get("tls_client_auth_san_dns")
        ):
            raise ValueError(
                "a tls_client_auth client needs tls_client_auth_subject_dn or tls_client_auth_san_dns"
            )
        client = Client(
            client_id=str(metadata.get("client_id") or "c-" + self.random.hex(8)),
            client_secret=str(metadata.get("client_secret") or self.random.urlsafe(40)),
            scope=scope.split() if isinstance(scope, str) else list(scope),
            token_endpoint_auth_method=method,
            grant_types=grant_types,
            token_ttl=int(ttl) if ttl is not None else None,
            application=metadata.get("application"),
            environment=str(metadata.get("environment", "sandbox")),
            rotation=str(metadata.get("rotation", "cutover")),
            redirect_uris=redirect_uris,
            jwks=jwks if isinstance(jwks, dict) else None,
            tls_client_auth_subject_dn=metadata.get("tls_client_auth_subject_dn"),
            tls_client_auth_san_dns=metadata.get("tls_client_auth_san_dns"),
            dpop_bound_access_tokens=bool(metadata.get("dpop_bound_access_tokens", False)),
            use_dpop_nonce=bool(metadata.get("use_dpop_nonce", False)),
        )
        with self.lock:
            if client.client_id in self.clients:
                raise ValueError(f"client_id {client.client_id} is already registered")
            self.clients[client.client_id] = client
            self._persist()
        for listener in self.listeners:
            listener(client)
        return client

    def reset_secret(self, client_id: str) -> Client:
        """Cut-over: the old secret dies now. Overlap: it stays valid until retired."""
        with self.lock:
            client = self.clients[client_id]
            client.previous_secret = client.client_secret if client.rotation == "overlap" else None
            client.client_secret = self.random.urlsafe(40)
            client.secret_rotated_at = self.clock()
            self._persist()
            return client

    def retire_previous_secret(self, client_id: str) -> Client:
        with self.lock:
            client = self.clients[client_id]
            client.previous_secret = None
            self._persist()
            return client

    def check_secret(self, client: Client, secret: str) -> bool:
        candidates = [client.client_secret]
        if client.previous_secret:
            candidates.append(client.previous_secret)
        return any(hmac.compare_digest(secret.encode(), c.encode()) for c in candidates)

    # -- tokens -------------------------------------------------------------------------------

    def granted_scopes(self, client: Client) -> set[str]:
        """The client's own scopes plus those of its approved contracts."""
        scopes = set(client.scope)
        for contract in self.contracts.values():
            if contract.client_id == client.client_id and contract.status == "approved":
                scopes.update(contract.scope)
        return scopes

    def issue(
        self,
        client: Client,
        scope: list[str],
        audience: str | None,
        issuer: str,
        subject: str | None = None,
        auth_time: float | None = None,
        jkt: str | None = None,
    ) -> tuple[IssuedToken, IssuedToken | None]:
        """An access token, and a refresh token when the client may use refresh_token.

        ``subject`` is the signed-in user for the user grants; a client_credentials token's
        subject is the client itself.
        """
        now = self.clock()
        ttl = client.token_ttl or self.token_ttl
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject or client.client_id,
            "client_id": client.client_id,
            "scope": " ".join(scope),
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": self.random.hex(8),
        }
        if audience:
            claims["aud"] = audience
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        access = IssuedToken(
            token=self._sign(claims),
            kind="access",
            client_id=client.client_id,
            scope=scope,
            issued_at=now,
            expires_at=now + ttl,
            audience=audience,
            subject=subject,
            jkt=jkt,
        )
        refresh = None
        if "refresh_token" in client.grant_types:
            refresh = IssuedToken(
                token="rt-" + self.random.urlsafe(43),
                kind="refresh",
                client_id=client.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + 30 * 24 * 3600,
                subject=subject,
                auth_time=auth_time,
            )
        with self.lock:
            self.tokens[access.token] = access
            if refresh:
                self.tokens[refresh.token] = refresh
        return access, refresh

    def lookup(self, token: str) -> IssuedToken | None:
        with self.lock:
            return self.tokens.get(token)

    def is_active(self, issued: IssuedToken) -> bool:
        return not issued.revoked and issued.expires_at > self.clock()

    def revoke(self, token: str) -> bool:
        with self.lock:
            issued = self.tokens.get(token)
            if issued is None:
                return False
            issued.revoked = True
            return True

    def id_token(
        self,
        client: Client,
        issuer: str,
        subject: str,
        auth_time: float | None,
        nonce: str | None,
    ) -> str:
        """An OpenID Connect id_token (Core §2) for the signed-in user, signed ES256; spoiled as
        ``id_token_fault`` says, for tests of a client's checks."""
        now = self.clock()
        ttl = client.token_ttl or self.token_ttl
        claims: dict[str, Any] = {
            "iss": issuer,
            # A stable, opaque subject per user, as real providers do.
            "sub": "u-" + hashlib.sha256(subject.encode()).hexdigest()[:16],
            "aud": client.client_id,
            "exp": int(now + ttl),
            "iat": int(now),
            "auth_time": int(auth_time if auth_time is not None else now),
            "name": self.user_name,
            "preferred_username": subject.partition("@")[0],
        }
        if self.user_email:
            claims["email"] = self.user_email
            claims["email_verified"] = True
        if nonce is not None:
            claims["nonce"] = nonce
        fault = self.id_token_fault
        key: Any = self.id_token_key
        kid = self.id_token_kid
        if fault == "wrong_aud":
            claims["aud"] = "another-client"
        elif fault == "many_aud":
            claims["aud"] = [client.client_id, "another-client"]  # and no azp
        elif fault == "wrong_iss":
            claims["iss"] = issuer + "/elsewhere"
        elif fault == "wrong_nonce":
            claims["nonce"] = "not-the-nonce-that-was-sent"
        elif fault == "expired":
            claims["iat"], claims["exp"] = int(now - 7200), int(now - 3600)
        elif fault == "foreign_key":
            key, kid = ec.generate_private_key(ec.SECP256R1()), "not-published"
        elif fault in ("no_sub", "no_exp", "no_nonce"):
            claims.pop(fault.removeprefix("no_"), None)
        elif fault == "other_sub":
            claims["sub"] = "u-someone-else"
        if fault == "hmac":
            # OIDC allows HS256 keyed with the client secret; a client that accepts it can be
            # fooled by anyone who knows (or guesses) the secret.
            token = jwt.encode(claims, client.client_secret, algorithm="HS256")
        elif fault == "oct_key":
            # The published symmetric key is public: anyone can sign with it.
            token = jwt.encode(
                claims, self._oct_secret, algorithm="HS256", headers={"kid": OCT_KID}
            )
        elif fault == "alg_none":
            token = jwt.encode(claims, "", algorithm="none")
        elif fault == "no_kid":
            token = jwt.encode(claims, key, algorithm=ID_TOKEN_ALG)
        else:
            token = jwt.encode(claims, key, algorithm=ID_TOKEN_ALG, headers={"kid": kid})
        if fault == "bad_signature":
            head, payload, signature = token.split(".")
            flipped = "A" if signature[5] != "A" else "B"
            token = f"{head}.{payload}.{signature[:5]}{flipped}{signature[6:]}"
        with self.lock:
            self.issued_id_tokens.append(token)
        return token

    def rotate_id_token_key(self) -> None:
        """A new signing key, published instead of the old one (a provider's key rotation)."""
        key = ec.generate_private_key(ec.SECP256R1())
        with self.lock:
            self.id_token_key, self.id_token_kid = key, _thumbprint(key)

    def jwks(self) -> dict[str, Any]:
        """The public key id_tokens are signed with, as a JWK Set (RFC 7517 §5)."""
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.id_token_key.public_key(), as_dict=True)
        keys = [{**public, "kid": self.id_token_kid, "use": "sig", "alg": ID_TOKEN_ALG}]
        if self.id_token_fault == "oct_key":
            secret = base64.urlsafe_b64encode(self._oct_secret).rstrip(b"=").decode("ascii")
            keys.append({"kty": "oct", "k": secret, "kid": OCT_KID, "use": "sig", "alg": "HS256"})
        return {"keys": keys}

    def _sign(self, claims: dict[str, Any]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.signing_key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64(signature.digest())}"

    # -- user grants (authorization code, device) ---------------------------------------------

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

    def use_jti(self, jti: str, expires_at: float) -> bool:
        """Record a client assertion's id; False when it was seen before (a replay)."""
        now = self.clock()
        with self.lock:
            self.seen_jtis = {key: exp for key, exp in self.seen_jtis.items() if exp > now}
            if jti in self.seen_jtis:
                return False
            self.seen_jtis[jti] = expires_at
            return True

    # -- APIs and contracts -------------------------------------------------------------------

    def add_api(self, data: dict[str, Any]) -> ApiInstance:
        api = ApiInstance(
            id=str(data["id"]),
            name=str(data["name"]),
            instance=str(data.get("instance", data["id"])),
            target=str(data.get("target", "api")),
            apis=list(data.get("apis", [])),
            environment=str(data.get("environment", "sandbox")),
            terms=data.get("terms"),
            tiers=dict(data.get("tiers", {})),
        )
        with self.lock:
            self.apis[api.id] = api
            self._persist()
        return api

    def request_access(
        self, client_id: str, api_id: str, sla_tier: str | None, terms_accepted: bool
    ) -> Contract:
        with self.lock:
            if client_id not in self.clients:
                raise KeyError(f"unknown client_id {client_id}")
            api = self.apis.get(api_id)
            if api is None:
                raise KeyError(f"unknown API instance {api_id}")
            if api.terms and not terms_accepted:
                raise ValueError(f"the terms of {api.name} must be accepted to request access")
            tier: dict[str, Any] = {}
            if api.tiers:
                if sla_tier not in api.tiers:
                    raise ValueError(f"SLA tier must be one of {', '.join(api.tiers)}")
                tier = api.tiers[sla_tier]
            now = self.clock()
            approved = bool(tier.get("auto_approve", not api.tiers))
            contract = Contract(
                id="ct-" + self.random.hex(6),
                client_id=client_id,
                api_id=api_id,
                sla_tier=sla_tier,
                scope=list(tier.get("scopes", [])),
                status="approved" if approved else "pending",
                requested_at=now,
                decided_at=now if approved else None,
                terms_accepted_at=now if terms_accepted else None,
            )
            self.contracts[contract.id] = contract
            self._persist()
            return contract

    def decide(self, contract_id: str, status: str) -> Contract:
        allowed = {
            "approved": {"pending"},
            "rejected": {"pending"},
            "revoked": {"approved", "pending"},
        }
        with self.lock:
            contract = self.contracts[contract_id]
            if contract.status not in allowed[status]:
                raise ValueError(f"a {contract.status} contract cannot become {status}")
            contract.status = status
            contract.decided_at = self.clock()
            self._persist()
            return contract

    # -- faults -------------------------------------------------------------------------------

    def add_fault(self, data: dict[str, Any]) -> Fault:
        if data.get("mode") not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        fault = Fault(
            mode=str(data["mode"]),
            client_id=data.get("client_id"),
            status=int(data.get("status", 503 if data["mode"] == "unavailable" else 500)),
            retry_after=data.get("retry_after"),
            latency_ms=int(data.get("latency_ms", 0)),
            times=data.get("times"),
            drip_interval=float(data.get("drip_interval", 0.5)),
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, client_id: str | None) -> Fault | None:
        """The first fault that applies to this client, counting one use of it."""
        with self.lock:
            for fault in self.faults:
                if fault.client_id is None or fault.client_id == client_id:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def clear_faults(self, client_id: str | None = None) -> None:
        with self.lock:
            self.faults = [
                f for f in self.faults if client_id is not None and f.client_id != client_id
            ]

    # -- persistence --------------------------------------------------------------------------

    def _persist(self) -> None:
        if self.state_file is None:
            return
        data = {
            "admin_token": self.admin_token,
            "signing_key": base64.b64encode(self.signing_key).decode(),
            "clients": [asdict(c) for c in self.clients.values()],
            "apis": [asdict(a) for a in self.apis.values()],
            "contracts": [asdict(c) for c in self.contracts.values()],
        }
        directory = self.state_file.parent
        fd, temp = tempfile.mkstemp(prefix=".sandbox-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, self.state_file)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text("utf-8"))
        self.admin_token = data.get("admin_token", self.admin_token)
        if "signing_key" in data:
            self.signing_key = base64.b64decode(data["signing_key"])
        self.clients = {c["client_id"]: Client(**c) for c in data.get("clients", [])}
        self.apis = {a["id"]: ApiInstance(**a) for a in data.get("apis", [])}
        self.contracts = {c["id"]: Contract(**c) for c in data.get("contracts", [])}


def _x5c_thumbprints(jwks: Any) -> list[str]:
    """SHA-256 of each certificate a JWKS carries in x5c (RFC 8705 §2.2 self-signed clients)."""
    if not isinstance(jwks, dict):
        return []
    prints = []
    for key in jwks.get("keys") or []:
        chain = key.get("x5c") if isinstance(key, dict) else None
        if isinstance(chain, list) and chain and isinstance(chain[0], str):
            prints.append(hashlib.sha256(base64.b64decode(chain[0])).hexdigest())
    return prints


def _thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638: the key's id is its JWK thumbprint (no draw from the seeded randomness, so the
    demo's ids and secrets stay what they were)."""
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    members = {name: public[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def certificate_thumbprints(client: Client) -> list[str]:
    return _x5c_thumbprints(client.jwks)
