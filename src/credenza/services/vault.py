"""HashiCorp Vault / OpenBao: the KV v2 and token calls credenza makes, over its own HTTP client.

Not hvac: it runs on ``requests``, which would bypass what every credentialed call of credenza
gets from ``oauth.plan`` — the overall deadline, the body cap, retries of transient failures
only, TLS with the config's ``ca_bundle``, no redirects, plain http only to loopback, and
redaction of what was sent from anything the server says. Vault's API here is five small JSON
calls, so they are plans run by the blocking driver like a token call.

Why here and not in secrets/backends/: a backend there is a keyring of named strings (get, set,
delete) below oauth in the layers, while the team store is (1) reached over HTTP through oauth's
hardened driver, its endpoint check and its untrusted-text boundary, which secrets may not import,
and (2) versioned records written check-and-set, with claims and history, which the Backend
interface does not model. A person's own keyring still holds their tokens beside it (services/team.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from credenza.errors import (
    TeamStoreDeniedError,
    TeamStoreError,
    TeamStoreUnreachableError,
    TokenEndpointError,
    TransportError,
)
from credenza.next_steps import step
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.answers import Answer
    from credenza.oauth.sync_client import SyncOAuthClient

TokenSource = Literal["VAULT_TOKEN", "BAO_TOKEN", "~/.vault-token"]


@dataclass(frozen=True)
class StoreToken:
    """The person's own store token and where it came from; never stored, never printed."""

    value: Secret
    source: TokenSource


def find_token(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> StoreToken | None:
    """VAULT_TOKEN, else BAO_TOKEN, else the file `vault login` / `bao login` write."""
    environ = os.environ if environ is None else environ
    variables: tuple[TokenSource, ...] = ("VAULT_TOKEN", "BAO_TOKEN")
    for variable in variables:
        value = environ.get(variable, "").strip()
        if value:
            return StoreToken(Secret(value), variable)
    path = (home or Path(os.path.expanduser("~"))) / ".vault-token"
    try:
        with path.open("rb") as file:
            value = file.read(16 * 1024).decode("utf-8", "replace").strip()
    except OSError:
        return None
    return StoreToken(Secret(value), "~/.vault-token") if value else None


@dataclass(frozen=True)
class KvRecord:
    """One version of a KV v2 secret: its data (values!) and its metadata."""

    data: dict[str, Any]
    version: int
    created_time: str


@dataclass(frozen=True)
class KvVersion:
    version: int
    created_time: str
    deleted: bool


class CasMismatch(Exception):
    """A check-and-set write found another version than the one it was made against."""


class VaultClient:
    """KV v2 under one mount, and the token's own lookups, for one address and one token."""

    def __init__(
        self, driver: SyncOAuthClient, address: str, mount: str, token: StoreToken
    ) -> None:
        self._driver = driver
        self.address = address.rstrip("/")
        self.mount = mount
        self._token = token

    # -- KV v2 ------------------------------------------------------------------------------------

    def shown(self, path: str) -> str:
        """The API path a policy names, for messages: ``secret/data/credenza/acme/app/env``."""
        return f"{self.mount}/data/{path}"

    def read(self, path: str, version: int | None = None) -> KvRecord | None:
        """The latest (or the given) version; None when there is none or it is deleted."""
        query = f"?version={version}" if version is not None else ""
        answer = self._call("GET", f"{self.mount}/data/{path}{query}", what=("read", path))
        if answer is None:
            return None
        body = answer.get("data")
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise self._odd(path)
        meta = body["metadata"]
        data = body.get("data")
        if data is None:  # a deleted (or destroyed) version
            return None
        if not isinstance(data, dict) or not isinstance(meta.get("version"), int):
            raise self._odd(path)
        return KvRecord(data, meta["version"], str(meta.get("created_time", "")))

    def write(self, path: str, data: dict[str, Any], cas: int) -> int:
        """Write a new version only if the current one is ``cas`` (0: only if none exists);
        returns the new version. Raises ``CasMismatch`` when someone else wrote first."""
        body = {"options": {"cas": cas}, "data": data}
        secrets = [value for value in _strings(data) if len(value) >= 8]
        answer = self._call(
            "POST", f"{self.mount}/data/{path}", body=body, secrets=secrets, what=("write", path)
        )
        meta = (answer or {}).get("data")
        if not isinstance(meta, dict) or not isinstance(meta.get("version"), int):
            raise self._odd(path)
        version: int = meta["version"]
        return version

    def versions(self, path: str) -> list[KvVersion]:
        """Every version the metadata lists, oldest first (no values)."""
        answer = self._call("GET", f"{self.mount}/metadata/{path}", what=("read", path))
        if answer is None:
            return []
        body = answer.get("data")
        versions = body.get("versions") if isinstance(body, dict) else None
        if not isinstance(versions, dict):
            raise self._odd(path)
        found = []
        for number, about in versions.items():
            if not number.isdigit() or not isinstance(about, dict):
                continue
            gone = bool(about.get("deletion_time")) or bool(about.get("destroyed"))
            found.append(KvVersion(int(number), str(about.get("created_time", "")), gone))
        return sorted(found, key=lambda v: v.version)

    # -- the token --------------------------------------------------------------------------------

    def lookup_self(self) -> dict[str, Any]:
        """The token's own description (display_name, policies, expiry); raises when invalid."""
        answer = self._call(
            "GET", "auth/token/lookup-self", what=("read", "auth/token/lookup-self")
        )
        data = (answer or {}).get("data")
        if not isinstance(data, dict):
            raise self._odd("auth/token/lookup-self")
        return data

    def capabilities(self, paths: list[str]) -> dict[str, list[str]]:
        """What the token may do on each API path (``secret/data/...``)."""
        answer = self._call(
            "POST", "sys/capabilities-self", body={"paths": paths}, what=("read", "capabilities")
        )
        data = (answer or {}).get("data", answer) or {}
        found: dict[str, list[str]] = {}
        for path in paths:
            value = data.get(path) if isinstance(data, dict) else None
            found[path] = [str(c) for c in value] if isinstance(value, list) else []
        return found

    # -- one call -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        api_path: str,
        *,
        body: dict[str, Any] | None = None,
        secrets: list[str] | None = None,
        what: tuple[str, str],
    ) -> dict[str, Any] | None:
        """One call; None for 404. Every failure is one line naming the address or the path."""
        from credenza.oauth.answers import check_endpoint
        from credenza.oauth.untrusted import Sent

        url = f"{self.address}/v1/{quote(api_path, safe='/?=&')}"
        check_endpoint(url, "team store address")
        token = self._token.value.reveal()
        headers = {"X-Vault-Token": token, "Accept": "application/json"}
        raw = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        sent = Sent(token, *(secrets or ()))
        plan = self._driver.plan_exchange(
            "team store", method, url, headers=headers, sent=sent, content=raw
        )
        try:
            answer = self._driver.run(plan)
        except TokenEndpointError as error:  # 503 / 429 after the retries: sealed or standby
            detail = f"it answered HTTP {error.status}: sealed or unavailable"
            raise self._unreachable(detail) from None
        except TransportError as error:
            raise self._unreachable(error.message) from None
        return self._read_answer(answer, sent, what)

    def _read_answer(
        self, answer: Answer, sent: Any, what: tuple[str, str]
    ) -> dict[str, Any] | None:
        from credenza.oauth.untrusted import clean, parse_json

        action, path = what
        status = answer.status
        try:
            data = parse_json(answer.body) if answer.body.strip() else {}
        except ValueError:
            data = None
        if status == 404 and (not isinstance(data, dict) or not data.get("errors")):
            return None
        errors = data.get("errors") if isinstance(data, dict) else None
        said = clean("; ".join(str(e) for e in errors), sent, limit=200) if errors else ""
        if status == 403:
            capability = "create/update" if action == "write" else "read"
            raise TeamStoreDeniedError(
                f"the team store at {self.address} refused to {action} "
                f"{self.shown(path) if '/' in path and not path.startswith('auth/') else path}: "
                f"your store token lacks the {capability} capability there, or it expired",
                hint="ask someone who administers the store for a policy with that capability "
                "(`{0}` shows what yours allows); nothing was changed",
                next_steps=(step("team_status"),),
            )
        if status == 400 and "check-and-set" in said:
            raise CasMismatch
        if status == 404:
            return None
        if not 200 <= status < 300 or not isinstance(data, dict):
            raise TeamStoreError(
                f"the team store at {self.address} answered HTTP {status} to a {action} of "
                f"{path}" + (f": {said}" if said else ""),
                hint="check the address, mount and path under [team] ({0})",
                next_steps=(step("team_status"),),
            )
        return data

    def _unreachable(self, detail: str) -> TeamStoreUnreachableError:
        return TeamStoreUnreachableError(
            f"the team store at {self.address} cannot be used: {detail}",
            hint="check that Vault / OpenBao is up and unsealed, and the address under [team]; "
            "tokens cached before are still served",
        )

    def _odd(self, path: str) -> TeamStoreError:
        return TeamStoreError(
            f"the team store at {self.address} answered a call on {path} with something that "
            "is not Vault's KV v2 API",
            hint="check the address and the mount under [team] (a KV version 2 engine)",
        )


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value (what to redact from an echo of it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
