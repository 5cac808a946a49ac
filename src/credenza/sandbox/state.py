"""Everything the sandbox knows: one SandboxState composed of each area's state (clients,
registrations, contracts, tokens, id_tokens, user grants, seen assertions, faults, the
protected API), and the JSON state file that keeps clients and contracts across restarts."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from credenza.sandbox.api import ProtectedApi
from credenza.sandbox.client_auth import SeenAssertions
from credenza.sandbox.clients import Client, Clients
from credenza.sandbox.contracts import ApiInstance, Contract, Contracts
from credenza.sandbox.core import Randomness
from credenza.sandbox.faults import Faults
from credenza.sandbox.id_tokens import IdTokens
from credenza.sandbox.registration import Registrations
from credenza.sandbox.tokens import Tokens
from credenza.sandbox.user_grants import UserGrants


class SandboxState(
    Clients,
    Registrations,
    Contracts,
    Tokens,
    IdTokens,
    UserGrants,
    SeenAssertions,
    Faults,
    ProtectedApi,
):
    """Everything the sandbox knows. Thread-safe; optionally persisted to a JSON state file.

    Each area's class holds its own state and the methods that change it; they share the lock,
    the clock and the randomness (core.Core) and reach each other only through this whole.
    """

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
        self.clock = clock
        self.lock = threading.RLock()
        self.state_file = state_file
        # The order of the draws from a seeded randomness is the demo's: the admin token first,
        # then the tokens' signing key.
        self.admin_token = admin_token or self.random.urlsafe(32)
        Tokens.__init__(self, token_ttl)
        Clients.__init__(self)
        Registrations.__init__(self, initial_access_token)
        Contracts.__init__(self)
        UserGrants.__init__(
            self,
            auto_approve=auto_approve,
            user=user,
            device_interval=device_interval,
            user_email=user_email,
            user_name=user_name,
            user_password=user_password,
        )
        IdTokens.__init__(self)
        SeenAssertions.__init__(self)
        Faults.__init__(self)
        ProtectedApi.__init__(self)
        self.requests: list[dict[str, Any]] = []  # what arrived at the endpoints, for tests
        if state_file is not None and state_file.exists():
            self._load(state_file)

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
