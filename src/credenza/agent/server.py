"""The agent process: holds access tokens in memory behind a user-only Unix socket, like ssh-agent.

It stores access tokens (never client secrets or refresh tokens), each until it expires, and, when
the encrypted file keyring is in use, that keyring's derived key (never the passphrase), so that
only the command that starts it pays for the key derivation. It exits after ``idle_timeout``
seconds without a request. Nothing it holds is written anywhere.

The wire format is in protocol.py; client.py asks and starts it. Over ~400 lines: the token
store and the keep-fresh schedule share one event loop and the state it guards.

Given a keeper (`credenza agent start` gives it one), it also keeps the tokens this person chose
fresh (`credenza agent keep`, `token --keep-fresh`, `A` in the dashboard): it reads their keep
file at start and when told (``keep``/``unkeep``), and renews each token a lead time ahead of its
expiry in a worker thread, so that a script's `credenza token` never waits on the network. A
failed renewal is kept for ``kept`` to report and retried with a growing backoff.
"""

from __future__ import annotations

import os
import sys
import time

from credenza import locations
from credenza.agent import client, protocol

TYPE_CHECKING = False  # for type checkers only: asyncio is imported when the agent runs
if TYPE_CHECKING:
    import asyncio
    from pathlib import Path
    from typing import Any, Protocol

    class Keeper(Protocol):
        """What keeps tokens fresh for the agent (credenza.cli.keeper): blocking calls, each
        run in a worker thread."""

        def entries(self) -> dict[str, dict[str, Any]]:
            """The kept entries by id, each described (application, environment, scopes)."""

        def renew(self, entry_id: str) -> dict[str, Any]:
            """A new token: {"puts": [put ops], "expires", "expires_at", "issued", "skew"};
            raises with a message fit to show when it cannot."""


# A kept token is renewed this long before it expires: 20 % of its lifetime, at least a minute
# (and at least the expiry skew, below which the agent no longer hands it out), at most half
# its lifetime (a very short-lived token is renewed twice per lifetime, never in a loop).
KEEP_LEAD_SHARE = 0.2
KEEP_LEAD_MIN = 60.0
# A failed renewal is retried after 1 s, 2 s, 4 s ... at most 5 minutes apart.
KEEP_BACKOFF_FIRST = 1.0
KEEP_BACKOFF_MAX = 300.0


class Agent:
    """The in-memory token store and its socket server."""

    def __init__(
        self,
        path: Path,
        *,
        idle_timeout: float = 8 * 3600,
        clock: Any = time.time,
        keeper: Keeper | None = None,
    ) -> None:
        self.path = path
        self.keeper = keeper
        # Each kept entry's state: what describes it, its token's expiry as held here, the last
        # renewal's error and how many failed in a row, when to try again.
        self.kept: dict[str, dict[str, Any]] = {}
        self._reread = True  # the keep file is read at start, then when told
        self._wake: asyncio.Event | None = None
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.tokens: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        # When each tag was last dropped: a put of a token read before that is refused.
        self.dropped: dict[str, float] = {}
        self.last_request = clock()
        self._stop: asyncio.Event | None = None  # made in run(): asyncio is imported only there
        # The connections being answered: a stop waits for them (the stop's own answer too),
        # so that none is left pending when the loop ends.
        self._serving: set[asyncio.Task[None]] = set()

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        now = self.clock()
        self._expire(now)
        if op == "ping":
            return {
                "ok": True,
                "tokens": len(self.tokens),
                "keys": len(self.keys),
                "pid": os.getpid(),
                "idle_timeout": self.idle_timeout,
                "kept": len(self.kept),
            }
        if op in ("keep", "unkeep"):
            # The keep file changed: read it again (the keeper does, off the event loop).
            self._reread = True
            if self._wake is not None:
                self._wake.set()
            return {"ok": True, "keeping": self.keeper is not None}
        if op == "kept":
            return {
                "keeping": self.keeper is not None,
                "kept": [
                    {
                        "id": entry_id,
                        **state["about"],
                        "expires_at": state["expires_at"],
                        "error": state["error"],
                        "failures": state["failures"],
                        "retry_at": state["retry_at"] if state["error"] else None,
                        "renewals": state["renewals"],
                    }
                    for entry_id, state in self.kept.items()
                ],
            }
        if op == "get":
            entry = self.tokens.get(str(message.get("key")))
            skew = float(message.get("skew", entry.get("skew", 60) if entry else 60))
            if entry is None or (entry["expires"] is not None and entry["expires"] - skew <= now):
                return {"miss": True}
            return {
                "token": entry["token"],
                "token_type": entry["token_type"],
                "expires_at": entry["expires_at"],
                "scope": entry["scope"],
            }
        if op == "put":
            key = str(message["key"])
            tags = [str(tag) for tag in message.get("tags") or []]
            read_at = message.get("read_at")
            if isinstance(read_at, int | float) and any(
                self.dropped.get(tag, float("-inf")) >= read_at for tag in tags
            ):
                # Read before a change dropped its credential (a `secret set` that raced the
                # call that read it): the token belongs to the credential as it was.
                return {"ok": False, "stale": True}
            self.tokens[key] = {
                # What a drop names: the config + application, and + environment.
                "tags": tags,
                "token": str(message["token"]),
                "token_type": str(message.get("token_type") or "Bearer"),
                "expires_at": message.get("expires_at"),
                "expires": message.get("expires"),
                "skew": float(message.get("skew", 60)),
                "scope": str(message.get("scope", "")),
            }
            return {"ok": True}
        if op == "key-put":
            # The file keyring's derived key (never a passphrase), so that later commands skip
            # the scrypt derivation; held in memory only, until the agent stops.
            self.keys[str(message["id"])] = str(message["key"])
            # A renewal that failed for want of it (the keyring could not be opened) is tried
            # again now rather than after its backoff.
            for state in self.kept.values():
                if state["error"] is not None:
                    state["retry_at"] = 0.0
            if self._wake is not None:
                self._wake.set()
            return {"ok": True}
        if op == "key-get":
            held = self.keys.get(str(message.get("id")))
            return {"key": held} if held is not None else {"miss": True}
        if op == "drop":
            tag = str(message.get("tag", ""))
            for key in [k for k, v in self.tokens.items() if tag and tag in v["tags"]]:
                del self.tokens[key]
            if tag:
                self.dropped[tag] = now
            for state in self.kept.values():
                if tag and tag in state["tags"]:
                    # Its token went (a secret changed, a revoke): a fresh one now, not at expiry.
                    state["stale"] = True
            if self._wake is not None:
                self._wake.set()
            return {"ok": True}
        if op == "stop":
            if self._stop is not None:
                self._stop.set()
            return {"ok": True}
        return {"error": f"unknown op {op!r}"}

    def _expire(self, now: float) -> None:
        for key in [
            k for k, v in self.tokens.items() if v["expires"] is not None and v["expires"] <= now
        ]:
            del self.tokens[key]

    def lookup_line(self, key: str) -> bytes:
        answer = self.handle({"op": "get", "key": key})
        if "token" not in answer:
            return protocol.MISS
        return protocol.lookup_answer(
            answer["token"], answer["token_type"], answer["expires_at"] or "", answer["scope"]
        )

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncio
        import json

        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
        try:
            raw = writer.get_extra_info("socket")
            if raw is None or not protocol.peer_is_us(raw):
                return
            line = await asyncio.wait_for(reader.readline(), timeout=2)
            if len(line) > protocol.MAX_REQUEST:
                return
            self.last_request = self.clock()
            if line.startswith(protocol.LOOKUP):
                key = line[len(protocol.LOOKUP) :].decode().rstrip("\n")
                writer.write(self.lookup_line(key))
                await writer.drain()
                return
            try:
                message = json.loads(line)
                answer = (
                    self.handle(message)
                    if isinstance(message, dict)
                    else {"error": "not an object"}
                )
            except (ValueError, KeyError, TypeError):
                answer = {"error": "bad request"}
            writer.write(protocol.encode(answer))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run(self) -> None:
        import asyncio
        import contextlib

        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.parent.chmod(0o700)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self._serve_one, path=str(self.path))
        finally:
            os.umask(old)
        keeping = asyncio.create_task(self._keep_fresh()) if self.keeper is not None else None
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)
                if self.clock() - self.last_request > self.idle_timeout:
                    break
        finally:
            if keeping is not None:
                keeping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
            server.close()
            await server.wait_closed()
            current = asyncio.current_task()
            if serving := [task for task in self._serving if task is not current]:
                await asyncio.wait(serving, timeout=2)
            self.tokens.clear()
            self.keys.clear()
            self.kept.clear()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    # -- keeping tokens fresh ------------------------------------------------------------------

    async def _keep_fresh(self) -> None:
        """Renew each kept token ahead of its expiry, one renewal per entry at a time."""
        import asyncio
        import contextlib

        assert self.keeper is not None
        assert self._wake is not None
        renewing: set[asyncio.Task[None]] = set()
        while True:
            if self._reread:
                self._reread = False
                await self._read_kept()
            now = self.clock()
            if self.kept:
                # Keeping is this agent's work: it stays while something is kept.
                self.last_request = now
            wake_at = now + 1.0
            for entry_id, state in self.kept.items():
                if state["busy"]:
                    continue
                due = self._due(state)
                if due <= now:
                    state["busy"] = True
                    task = asyncio.create_task(self._renew(entry_id, state))
                    renewing.add(task)
                    task.add_done_callback(renewing.discard)
                else:
                    wake_at = min(wake_at, due)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, wake_at - now))

    async def _read_kept(self) -> None:
        import asyncio

        assert self.keeper is not None
        try:
            found = await asyncio.to_thread(self.keeper.entries)
        except Exception:  # an unreadable keep file changes nothing held
            return
        for entry_id in [k for k in self.kept if k not in found]:
            del self.kept[entry_id]
        for entry_id, about in found.items():
            if entry_id in self.kept:
                self.kept[entry_id]["about"] = about
                continue
            self.kept[entry_id] = {
                "about": about,
                "expires": None,
                "expires_at": None,
                "issued": None,
                "skew": 0.0,
                "error": None,
                "failures": 0,
                "retry_at": 0.0,
                "renewals": 0,
                "busy": False,
                "stale": False,
                "tags": set(),
            }

    def _due(self, state: dict[str, Any]) -> float:
        """When ``state``'s token is to be renewed (the clock's seconds)."""
        if state["stale"]:
            return float(state["retry_at"])
        expires: float | None = state["expires"]
        issued = float(state["issued"] or 0.0)
        if expires is None:
            # Never renewed yet (now), or a token that does not expire (never again).
            return float(state["retry_at"]) if state["renewals"] == 0 else float("inf")
        lifetime = max(0.0, expires - issued)
        lead = min(
            max(KEEP_LEAD_MIN, KEEP_LEAD_SHARE * lifetime, float(state["skew"])), lifetime / 2
        )
        return max(expires - lead, float(state["retry_at"]))

    async def _renew(self, entry_id: str, state: dict[str, Any]) -> None:
        import asyncio

        assert self.keeper is not None
        assert self._wake is not None
        try:
            result = await asyncio.to_thread(self.keeper.renew, entry_id)
        except Exception as exc:  # recorded and retried, never fatal
            state["failures"] += 1
            state["error"] = str(exc)[:300] or type(exc).__name__
            backoff = KEEP_BACKOFF_FIRST * 2 ** min(state["failures"] - 1, 16)
            state["retry_at"] = self.clock() + min(KEEP_BACKOFF_MAX, backoff)
        else:
            refused = False
            if self.kept.get(entry_id) is state:  # not unkept meanwhile
                for put in result.get("puts", []):
                    # Refused when a change dropped the credential while it was renewed: the
                    # token belongs to the credential as it was, so another renewal follows.
                    refused |= self.handle(put).get("stale", False)
                    state["tags"].update(put.get("tags") or [])
            state.update(
                stale=refused,
                expires=result.get("expires"),
                expires_at=result.get("expires_at"),
                issued=result.get("issued"),
                skew=float(result.get("skew") or 0.0),
                error=None,
                failures=0,
                retry_at=0.0,
                renewals=state["renewals"] + 1,
            )
        finally:
            state["busy"] = False
            self._wake.set()


def run_agent(
    *, idle_timeout: float, path: Path | None = None, keeper: Keeper | None = None
) -> int:
    import contextlib
    from pathlib import Path

    target = path or Path(locations.agent_socket())
    if client.request({"op": "ping"}, path=target, wait_for_start=False) is not None:
        print(f"credenza: an agent already runs at {target}", file=sys.stderr)
        return 0
    lock = _single_instance(target)
    if lock is None:  # another agent is starting on this socket right now
        print(f"credenza: an agent already runs at {target}", file=sys.stderr)
        return 0
    print(f"socket: {target}", flush=True)
    print(f"idle timeout: {idle_timeout:g} s", flush=True)
    import asyncio

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(Agent(target, idle_timeout=idle_timeout, keeper=keeper).run())
    finally:
        os.close(lock)
    return 0


def _single_instance(target: Path) -> int | None:
    """A lock held for the agent's life next to its socket: two commands that both found no
    agent and both started one end with one (the second would take over the socket path)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.parent.chmod(0o700)
    fd = os.open(str(target) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows has no AF_UNIX agent to guard
        return fd
    except OSError:
        os.close(fd)
        return None
    return fd
