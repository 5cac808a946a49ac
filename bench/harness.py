"""Timing primitives for the benchmarks: interleaved samples, min/median/max, ratio rows, a pty,
and the register of every process the bench starts (each ended on any exit)."""

from __future__ import annotations

import atexit
import contextlib
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

# -- every child, ended on any exit ----------------------------------------------------------------


class Children:
    """Every process the bench starts runs in a process group (session) of its own and is
    recorded here, so that any exit ends them all: the end of the run, an exception, Ctrl-C,
    SIGTERM or SIGHUP (turned into SystemExit, so every ``finally`` runs), and atexit after
    that. Long-lived ones (the daemons, the apps on a pty) also get a parent-death signal, so
    that even a SIGKILL of the bench takes them down."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        atexit.register(self.end_all)
        for number in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, self._exit)

    def _exit(self, number: int, frame: FrameType | None) -> None:
        # Once: a second signal during the clean-up must not cut it short.
        signal.signal(number, signal.SIG_IGN)
        print(f"bench: {signal.Signals(number).name}: stopping", file=sys.stderr, flush=True)
        raise SystemExit(128 + number)

    def adopt(self, pid: int) -> None:
        """Record a child that leads its own process group."""
        self.groups.add(pid)

    def spawn(
        self, argv: list[str], *, outlive: bool = False, **popen: Any
    ) -> subprocess.Popen[bytes]:
        """Popen in a new session; ``outlive=False`` also ends it when the bench dies."""
        if not outlive and _SETPRIV:
            argv = [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]
        process = subprocess.Popen(argv, start_new_session=True, **popen)
        self.adopt(process.pid)
        return process

    def end(self, pid: int, grace: float = 3.0) -> None:
        """SIGTERM the child's group, SIGKILL what is left after ``grace`` seconds, reap it."""
        self.groups.discard(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _reaped(pid) and not _group_alive(pid):
                return
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def end_all(self) -> None:
        for pid in sorted(self.groups, reverse=True):  # the newest first: apps before daemons
            self.end(pid, grace=1.0)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child, or already reaped
    return done == pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_SETPRIV = next(
    (path for path in ("/usr/bin/setpriv", "/bin/setpriv") if os.access(path, os.X_OK)), None
)
CHILDREN = Children()


def run(
    argv: list[str],
    env: dict[str, str],
    *,
    timeout: float,
    input: bytes | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run in a process group of its own, output captured, the whole group killed on
    a timeout or any exception (xargs's curls too). Raises TimeoutError naming the command."""
    process = CHILDREN.spawn(
        argv,
        outlive=True,  # short-lived; no setpriv exec inside a measured time
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{' '.join(argv[:4])} took over {timeout:g} s") from None
    finally:
        if process.returncode is None or _group_alive(process.pid):
            CHILDREN.end(process.pid, grace=0.5)
        else:
            CHILDREN.groups.discard(process.pid)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


@dataclass(frozen=True)
class Stats:
    """Samples of one quantity; a row quotes the median and shows the spread."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def show(self, unit: str) -> str:
        low, mid, high = min(self.samples), self.median, max(self.samples)
        return f"{_fmt(mid, unit)} ({_fmt(low, unit)}–{_fmt(high, unit)})"


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "%":
        return f"{value * 100:.2f}%"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.3g} {unit}"


@dataclass
class Row:
    """One line of the table: credenza against a baseline from the same run, and a target."""

    name: str
    ours: Stats | None
    baseline: Stats | None
    baseline_name: str
    unit: str
    target: float | None  # the ratio of medians must be at most this; None: reported only
    absolute: bool = False  # the target bounds the median itself, not a ratio
    notes: list[str] = field(default_factory=list)
    # The 1-minute load average when this row's measurement started and ended (`attempt`).
    load: tuple[float, float] | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.ours.median / self.baseline.median

    @property
    def score(self) -> float | None:
        """What the target bounds: the median itself (absolute) or the ratio of medians."""
        if self.ours is None:
            return None
        return self.ours.median if self.absolute else self.ratio

    @property
    def met(self) -> bool | None:
        if self.target is None or self.score is None:
            return None
        return self.score <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "reported"
        return f"≤ {self.target:g} s" if self.absolute else f"≤ {self.target:g}×"

    @property
    def runs(self) -> int:
        return len(self.ours.samples) if self.ours else 0

    @classmethod
    def unmeasured(cls, model: Row, why: str) -> Row:
        """The row ``model`` describes, with no figures and the reason in its notes."""
        return cls(
            model.name,
            None,
            None,
            model.baseline_name,
            model.unit,
            model.target,
            absolute=model.absolute,
            notes=[f"not measured: {why}"],
        )


def attempt(planned: list[Row], measure: Callable[[], list[Row]]) -> list[Row]:
    """``measure()``'s rows, or, when it fails or times out, each planned row marked "not
    measured" with the reason: one broken row must neither hide nor hang the others. The load
    average at the start and the end is printed and kept on every row."""
    start = load_average()
    print(f"  {planned[0].name}: load average {start:.2f}", file=sys.stderr, flush=True)
    try:
        found = measure()
    except Exception as exc:  # every failure becomes a note
        why = reason(exc)
        print(f"  {planned[0].name}: not measured: {why}", file=sys.stderr, flush=True)
        found = [Row.unmeasured(row, why) for row in planned]
    end = load_average()
    print(f"  {planned[0].name}: done, load average {end:.2f}", file=sys.stderr, flush=True)
    for row in found:
        row.load = (start, end)
    return found


def load_average() -> float:
    """The 1-minute load average (what `uptime` shows first)."""
    return os.getloadavg()[0]


@dataclass
class Trials:
    """One row recorded several times in one run (`--record`: three). The table shows the best
    and the worst of their medians; the target counts as met only when the worst meets it."""

    rows: list[Row]

    @property
    def measured(self) -> list[Row]:
        return [row for row in self.rows if row.score is not None]

    @property
    def best(self) -> Row:
        measured = self.measured
        return min(measured, key=lambda row: row.score or 0.0) if measured else self.rows[0]

    @property
    def worst(self) -> Row:
        measured = self.measured
        return max(measured, key=lambda row: row.score or 0.0) if measured else self.rows[0]

    @property
    def met(self) -> bool | None:
        """Met only when every recording measured it and the worst of them meets the target."""
        if self.rows[0].target is None or not self.measured:
            return None
        if len(self.measured) < len(self.rows):
            return False  # a recording that failed is not one that met it
        return self.worst.met


def reason(exc: BaseException) -> str:
    """An exception as one short table-safe line."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split()).replace("|", "/")[:300]


def interleave(
    sides: dict[str, Callable[[], float]], runs: int, warmup: int = 1
) -> dict[str, Stats]:
    """Run each side in turn (A B A B …) so drift in the machine's speed hits both alike.

    Each callable returns its own sample (seconds, or a share of a core); warm-up runs are not
    kept.
    """
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for turn in range(warmup + runs):
        for name, measure in sides.items():
            value = measure()
            if turn >= warmup:
                samples[name].append(value)
    return {name: Stats(tuple(values)) for name, values in samples.items()}


def wall(
    argv: list[str], env: dict[str, str], *, expect: int | None = 0, timeout: float = 60.0
) -> Callable[[], float]:
    """A sampler: seconds from start to exit of one process, output thrown away."""

    def measure() -> float:
        started = time.perf_counter()
        result = run(argv, env, timeout=timeout)
        elapsed = time.perf_counter() - started
        if expect is not None and result.returncode != expect:
            raise RuntimeError(
                f"{argv[:4]} exited {result.returncode}: {result.stderr.decode()[-400:]}"
            )
        return elapsed

    return measure


# -- a pseudo-terminal -----------------------------------------------------------------------------


@contextlib.contextmanager
def in_pty(
    argv: list[str], env: dict[str, str], size: tuple[int, int] = (40, 120)
) -> Iterator[Terminal]:
    """Run ``argv`` on a fresh pseudo-terminal of ``size`` (rows, columns); killed on exit."""
    import fcntl
    import struct
    import termios

    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader already (pty.fork calls setsid)
        try:
            _die_with_parent()
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    CHILDREN.adopt(pid)
    terminal = Terminal(pid, fd, started)
    try:
        yield terminal
    finally:
        CHILDREN.groups.discard(pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: SIGKILL this (forked, not yet exec'd) child when the bench dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


class Terminal:
    """The parent's end of a pty: read until a pattern appears, drain, read the child's counters."""

    def __init__(self, pid: int, fd: int, started: float) -> None:
        self.pid, self.fd, self.started = pid, fd, started
        self._seen = b""

    def wait_for(self, pattern: bytes, timeout: float = 120.0) -> float:
        """perf_counter() when ``pattern`` (a regex) first appears in output not yet searched."""
        regex = re.compile(pattern)
        deadline = time.perf_counter() + timeout
        self._seen = self._seen[-256:]
        while time.perf_counter() < deadline:
            if regex.search(self._seen):
                self._seen = b""
                return time.perf_counter()
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            if ready:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except OSError:
                    break
                self._seen = (self._seen + chunk)[-400_000:]
        raise TimeoutError(f"{pattern!r} did not appear within {timeout:g} s")

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def drain(self, seconds: float) -> None:
        drain_all([self], seconds)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def drain_all(terminals: list[Terminal], seconds: float) -> None:
    """Read and discard what the terminals print for ``seconds``, so no child blocks on output."""
    end = time.perf_counter() + seconds
    fds = {terminal.fd: terminal for terminal in terminals}
    while (left := end - time.perf_counter()) > 0:
        ready, _, _ = select.select(list(fds), [], [], min(left, 0.05))
        for fd in ready:
            with contextlib.suppress(OSError):
                os.read(fd, 1 << 16)


def cpu_seconds(pid: int) -> float:
    """CPU time of a live process, all its threads, in nanoseconds' resolution.

    /proc/PID/stat counts in clock ticks (10 ms): too coarse for an app using 2% of a core.
    schedstat's first field is each thread's time on a CPU in nanoseconds.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9
