"""credenza's benchmarks: `uv run python bench/run.py [--quick] [--record]`.

Prints one table of medians, each against a baseline measured in the same run; bench/README.md
says how to read it. Everything runs on 127.0.0.1 against a sandbox started here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pty
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from credenza.sandbox import SandboxServer, SandboxState

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


@dataclass
class Row:
    name: str
    value: str
    baseline: str
    ratio: float
    target: str
    met: bool | None


def median_seconds(run: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class Bench:
    def __init__(self, directory: Path, quick: bool) -> None:
        self.dir = directory
        self.quick = quick
        self.env = {
            **os.environ,
            "PYTHONPATH": str(HERE),
            "PYTHON_KEYRING_BACKEND": "keyring_file.PlaintextFileKeyring",
            "BENCH_KEYRING_FILE": str(directory / "keyring.json"),
            "CREDENZA_AGENT_SOCKET": str(directory / "agent" / "agent.sock"),
            "TERM": "xterm-256color",
        }
        self.env.pop("CREDENZA_CONFIG", None)
        # As on a user's machine: Python caches bytecode (some CI images turn that off).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def credenza(
        self, *argv: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "credenza", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            input=stdin,
        )

    def config(self, name: str, applications: list[dict[str, object]]) -> Path:
        path = self.dir / f"{name}.toml"
        path.write_text(
            tomli_w.dumps(
                {
                    "version": 1,
                    "settings": {"allow_plaintext_keyring": True},
                    "applications": applications,
                }
            )
        )
        return path

    def store_secrets(self, entries: dict[str, str]) -> None:
        path = self.dir / "keyring.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data.update({f"credenza\x1f{name}": value for name, value in entries.items()})
        path.write_text(json.dumps(data))


def application(
    number: int, token_url: str, envs: tuple[str, ...] = ("production",)
) -> dict[str, object]:
    return {
        "id": f"app-{number:04d}",
        "name": f"App {number:04d}",
        "provider": "sandbox",
        "owners": ["a@example.com", "b@example.com"],
        "environments": {
            env: {"client_id": f"app-{number:04d}-{env}", "token_url": token_url} for env in envs
        },
    }


def register(state: SandboxState, count: int, envs: tuple[str, ...]) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for number in range(count):
        for env in envs:
            client_id = f"app-{number:04d}-{env}"
            client = state.clients.get(client_id) or state.add_client(
                {"client_id": client_id, "token_ttl": 3600}
            )
            secrets[f"app-{number:04d}/{env}/client_secret"] = json.dumps(
                {"v": 1, "secret": client.client_secret, "origin": None}
            )
    return secrets


# -- 1 and 2: the token path ---------------------------------------------------------------------


def token_path(bench: Bench, sandbox: SandboxServer) -> list[Row]:
    secrets = register(sandbox.state, 1, ("production",))
    bench.store_secrets(secrets)
    config = bench.config("token", [application(0, f"{sandbox.issuer}/oauth/token")])
    agent = subprocess.Popen(
        [PYTHON, "-m", "credenza", "agent", "--idle-timeout", "300"],
        env=bench.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        agent.stdout.readline()  # type: ignore[union-attr]
        bench.credenza("--config", str(config), "token", "app-0000")  # fetch, cache, hand to agent
        runs = 15 if bench.quick else 40
        baseline = median_seconds(
            lambda: subprocess.run([PYTHON, "-I", "-c", "pass"], check=True), runs
        )
        cached = median_seconds(
            lambda: subprocess.run(
                [
                    str(Path(PYTHON).parent / "credenza"),
                    "token",
                    "app-0000",
                    "--config",
                    str(config),
                ],
                env=bench.env,
                check=True,
                capture_output=True,
            ),
            runs,
        )
        rows = [
            Row(
                "1. cached `credenza token` (agent)",
                f"{cached * 1000:.1f} ms",
                f"python -I -c pass {baseline * 1000:.1f} ms",
                cached / baseline,
                "<= 3x",
                cached / baseline <= 3,
            ),
        ]
        client_secret = json.loads(secrets["app-0000/production/client_secret"])["secret"]
        curl = shutil.which("curl")
        fresh = median_seconds(
            lambda: bench.credenza("--config", str(config), "token", "app-0000", "--no-cache"),
            runs // 2,
        )
        if curl:
            curled = median_seconds(
                lambda: subprocess.run(
                    [
                        curl,
                        "-s",
                        "-u",
                        f"app-0000-production:{client_secret}",
                        "-d",
                        "grant_type=client_credentials",
                        f"{sandbox.issuer}/oauth/token",
                    ],
                    check=True,
                    capture_output=True,
                ),
                runs // 2,
            )
            rows.append(
                Row(
                    "2. fresh `credenza token --no-cache`",
                    f"{fresh * 1000:.1f} ms",
                    f"curl {curled * 1000:.1f} ms",
                    fresh / curled,
                    "report",
                    None,
                )
            )
        return rows
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)


# -- 3: verify --all -------------------------------------------------------------------------------


def verify_all(bench: Bench, sandbox: SandboxServer) -> list[Row]:
    count = 100 if bench.quick else 400
    envs = ("sandbox", "production")
    state = sandbox.state
    secrets = register(state, count // 2, envs)
    bench.store_secrets(secrets)
    config = bench.config(
        "verify", [application(n, f"{sandbox.issuer}/oauth/token", envs) for n in range(count // 2)]
    )
    state.add_fault({"mode": "latency", "latency_ms": 50})
    try:
        started = time.perf_counter()
        result = bench.credenza("--config", str(config), "verify", "--all", "--json", check=False)
        ours = time.perf_counter() - started
        statuses = {item["status"] for item in json.loads(result.stdout)}
        assert statuses == {"ok"}, result.stderr[-500:]
        curl = shutil.which("curl")
        if curl is None:
            return [
                Row(
                    f"3. verify --all, {count} credentials",
                    f"{ours:.2f} s",
                    "curl missing",
                    0.0,
                    ">= 15x faster",
                    None,
                )
            ]
        started = time.perf_counter()
        for key, payload in secrets.items():
            app_id, env, _ = key.split("/")
            subprocess.run(
                [
                    curl,
                    "-s",
                    "-o",
                    "/dev/null",
                    "-u",
                    f"{app_id}-{env}:{json.loads(payload)['secret']}",
                    "-d",
                    "grant_type=client_credentials",
                    f"{sandbox.issuer}/oauth/token",
                ],
                check=True,
            )
        loop = time.perf_counter() - started
    finally:
        state.clear_faults()
    speedup = loop / ours
    return [
        Row(
            f"3. verify --all, {count} credentials, 50 ms latency",
            f"{ours:.2f} s",
            f"sequential curl {loop:.2f} s",
            1 / speedup,
            ">= 15x faster",
            speedup >= 15,
        )
    ]


# -- 4 and 5: the dashboard in a pseudo-terminal ---------------------------------------------------


@contextlib.contextmanager
def in_pty(
    argv: list[str], env: dict[str, str], size: tuple[int, int] = (40, 120)
) -> Iterator[tuple[int, int]]:
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execve(argv[0], argv, env)
    try:
        yield pid, fd
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)


def read_until(fd: int, marker: bytes, timeout: float = 60.0) -> float:
    """Seconds until ``marker`` appears in the output; drains as it goes."""
    started = time.perf_counter()
    seen = b""
    while time.perf_counter() - started < timeout:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            seen = (seen + chunk)[-200_000:]
            if marker in seen:
                return time.perf_counter() - started
    raise TimeoutError(f"{marker!r} did not appear")


def drain(fd: int, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dashboard(bench: Bench, sandbox: SandboxServer) -> list[Row]:
    count = 1000
    config = bench.config(
        "dash",
        [
            application(n, f"{sandbox.issuer}/oauth/token", ("sandbox", "production"))
            for n in range(count)
        ],
    )
    ours_argv = [PYTHON, "-m", "credenza", "--config", str(config)]
    base_argv = [PYTHON, str(HERE / "minimal_app.py")]
    runs = 3 if bench.quick else 5
    ours_times, base_times, ours_rss, base_rss = [], [], [], []
    for _ in range(runs):
        with in_pty(base_argv, bench.env) as (pid, fd):
            base_times.append(read_until(fd, b"row 0001"))
            drain(fd, 1.0)
            base_rss.append(peak_rss_mib(pid))
        with in_pty(ours_argv, bench.env) as (pid, fd):
            ours_times.append(read_until(fd, b"App 0001"))
            drain(fd, 1.0)
            ours_rss.append(peak_rss_mib(pid))
    first, base_first = statistics.median(ours_times), statistics.median(base_times)
    rss, base = statistics.median(ours_rss), statistics.median(base_rss)
    return [
        Row(
            f"4. dashboard first frame, {count} apps x 2 envs",
            f"{first:.2f} s",
            f"minimal 1,000-row app {base_first:.2f} s",
            first / base_first,
            "<= 1.3x",
            first / base_first <= 1.3,
        ),
        Row(
            f"5b. peak RSS, {count} apps",
            f"{rss:.0f} MiB",
            f"minimal app {base:.0f} MiB",
            rss / base,
            "<= 1.5x",
            rss / base <= 1.5,
        ),
    ]


def countdown_cpu(bench: Bench, sandbox: SandboxServer) -> list[Row]:
    count = 500
    now = datetime.now(UTC)
    config = bench.config(
        "tokens", [application(n, f"{sandbox.issuer}/oauth/token") for n in range(count)]
    )
    entries: dict[str, str] = {}
    for number in range(count):
        app_id = f"app-{number:04d}"
        name = f"{app_id}/production/token:"
        entries[f"{app_id}/production/token-index"] = name
        entries[name] = json.dumps(
            {
                "v": 1,
                "access_token": f"tok-{number}",
                "token_type": "Bearer",
                "issued_at": now.isoformat(),
                "expires_at": datetime.fromtimestamp(
                    now.timestamp() + 600 + number, UTC
                ).isoformat(),
                "scopes": [],
            }
        )
    bench.store_secrets(entries)
    seconds = 5.0 if bench.quick else 10.0
    with in_pty([PYTHON, "-m", "credenza", "--config", str(config)], bench.env) as (pid, fd):
        read_until(fd, b"App 0001")
        os.write(fd, b"4")
        read_until(fd, b"left")
        drain(fd, 2.0)
        before = cpu_seconds(pid)
        drain(fd, seconds)
        used = (cpu_seconds(pid) - before) / seconds
    return [
        Row(
            f"5a. Tokens screen CPU, {count} live countdowns, {seconds:g} s",
            f"{used * 100:.1f}% of a core",
            "one core",
            used,
            "<= 3%",
            used <= 0.03,
        )
    ]


# -- main ------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | credenza | baseline (same run) | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        met = "—" if row.met is None else ("yes" if row.met else "NO")
        lines.append(
            f"| {row.name} | {row.value} | {row.baseline} | {row.ratio:.2f} | {row.target} | {met} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and credentials")
    parser.add_argument("--record", action="store_true", help="write the table to bench/RESULTS.md")
    parser.add_argument("--only", choices=["token", "verify", "dashboard", "cpu"], action="append")
    options = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="credenza-bench-") as directory:
        bench = Bench(Path(directory), options.quick)
        with SandboxServer(SandboxState(token_ttl=3600)) as sandbox:
            for name, step in (
                ("token", token_path),
                ("verify", verify_all),
                ("dashboard", dashboard),
                ("cpu", countdown_cpu),
            ):
                if options.only and name not in options.only:
                    continue
                print(f"running {name}…", file=sys.stderr, flush=True)
                rows.extend(step(bench, sandbox))
    output = table(rows)
    print(output)
    if options.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        (HERE / "RESULTS.md").write_text(
            f"# Latest benchmark results\n\n{stamp} on {machine()}.\n"
            f"Command: `uv run python bench/run.py --record`{' --quick' if options.quick else ''}.\n\n{output}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
