"""The sandbox provider's state: clients, issued tokens, the API catalogue, contracts, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import secrets
import string
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

AUTH_METHODS = ("client_secret_basic", "client_secret_post")
FAULT_MODES = ("latency", "error", "unavailable", "html", "malformed_json", "slow_body", "drop")


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
        client = Client(
            client_id=str(metadata.get("client_id") or "c-" + self.random.hex(8)),
            client_secret=str(metadata.get("client_secret") or self.random.urlsafe(40)),
            scope=scope.split() if isinstance(scope, str) else list(scope),
            token_endpoint_auth_method=method,
            grant_types=list(metadata.get("grant_types") or ["client_credentials"]),
            token_ttl=int(ttl) if ttl is not None else None,
            application=metadata.get("application"),
            environment=str(metadata.get("environment", "sandbox")),
            rotation=str(metadata.get("rotation", "cutover")),
        )
        with self.lock:
            if client.client_id in self.clients:
                raise ValueError(f"client_id {client.client_id} is already registered")
            self.clients[client.client_id] = client
            self._persist()
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
        self, client: Client, scope: list[str], audience: str | None, issuer: str
    ) -> tuple[IssuedToken, IssuedToken | None]:
        now = self.clock()
        ttl = client.token_ttl or self.token_ttl
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": client.client_id,
            "client_id": client.client_id,
            "scope": " ".join(scope),
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": self.random.hex(8),
        }
        if audience:
            claims["aud"] = audience
        access = IssuedToken(
            token=self._sign(claims),
            kind="access",
            client_id=client.client_id,
            scope=scope,
            issued_at=now,
            expires_at=now + ttl,
            audience=audience,
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

    def _sign(self, claims: dict[str, Any]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.signing_key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64(signature.digest())}"

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
