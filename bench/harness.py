"""Timing primitives for the benchmarks: interleaved samples, min/median/max, ratio rows, a pty."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


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

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.ours.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ours is None:
            return None
        if self.absolute:
            return self.ours.median <= self.target
        return None if self.ratio is None else self.ratio <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "reported"
        return f"≤ {self.target:g} s" if self.absolute else f"≤ {self.target:g}×"

    @property
    def runs(self) -> int:
        return len(self.ours.samples) if self.ours else 0


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


def wall(argv: list[str], env: dict[str, str], *, expect: int | None = 0) -> Callable[[], float]:
    """A sampler: seconds from start to exit of one process, output thrown away."""

    def measure() -> float:
        started = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, check=False)
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
    if pid == 0:  # the child
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execve(argv[0], argv, env)
    terminal = Terminal(pid, fd, started)
    try:
        yield terminal
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)


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
