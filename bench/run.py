"""credenza's benchmarks: `uv run python bench/run.py [--quick] [--record] [--only ROWS]`.

Prints one table: each row is credenza against a baseline measured in the same run, interleaved,
with min/median/max of every side and the ratio of medians against its target. `--record`
measures every row three times (in three rounds over all the groups), writes the worst of the
three beside the best into bench/RESULTS.md, and counts a target as met only when the worst
meets it. bench/README.md says how to read it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness import CHILDREN, Row, Trials, load_average, reason
from plan import Plan
from rows import countdown, dashboard, suite, token_path, verify
from world import HERE, world

GROUPS = {
    "token": token_path.rows,
    "verify": verify.rows,
    "countdown": countdown.rows,
    "dashboard": dashboard.rows,
    "suite": suite.rows,
}
# Groups measured only when named with --only, or under --record.
ON_REQUEST = {"suite"}
RECORDINGS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs a side, smallest sizes only")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"measure every row {RECORDINGS} times, the suite row too, and write bench/RESULTS.md",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"times each row is measured (default: {RECORDINGS} with --record, else 1)",
    )
    parser.add_argument(
        "--only",
        choices=list(GROUPS),
        action="append",
        help="repeatable; `suite` (the test suite's wall time) runs only when named or recorded",
    )
    parser.add_argument(
        "--file-keyring",
        action="store_true",
        help="use a plaintext file keyring instead of gnome-keyring (rows say so)",
    )
    options = parser.parse_args()
    rounds = options.rounds or (RECORDINGS if options.record else 1)
    plan = Plan(quick=options.quick)
    # Every recording of a row, by name, in the order the rows were first measured.
    trials: dict[str, list[Row]] = {}
    started = time.monotonic()
    # Ctrl-C, SIGTERM, SIGHUP or an exception: every daemon, app and agent goes with the bench.
    CHILDREN.install()
    # Started as a background job the bench would begin with SIGINT ignored, and so would the
    # suite it times (whose Ctrl-C tests then fail): Ctrl-C is Ctrl-C here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with (
        tempfile.TemporaryDirectory(prefix="credenza-bench-") as directory,
        world(Path(directory), file_keyring=options.file_keyring) as bench,
    ):
        # Rounds over every group, not each row three times in a row: a quiet (or busy) minute
        # then lands on one recording of a row, not on all three.
        for round_ in range(1, rounds + 1):
            for name, measure in GROUPS.items():
                if not wanted(name, options):
                    continue
                print(
                    f"running {name} on {bench.keyring} (recording {round_} of {rounds}), "
                    f"load average {load_average():.2f}…",
                    file=sys.stderr,
                    flush=True,
                )
                try:
                    found = measure(bench, plan)
                except Exception as exc:  # the rows catch their own failures; a last resort
                    traceback.print_exc()
                    found = [
                        Row(f"{name}: every row", None, None, "", "s", None, notes=[reason(exc)])
                    ]
                for row in found:
                    if not bench.real:
                        row.notes.append("file keyring (no Secret Service here)")
                    if plan.quick:
                        row.notes.append("quick run")
                    trials.setdefault(row.name, []).append(row)
                print(table([Trials([row]) for row in found]), file=sys.stderr, flush=True)
    recorded = [Trials(rows) for rows in trials.values()]
    print(table(recorded))
    if options.record:
        write_results(recorded, options, rounds, time.monotonic() - started)
    return 0


def wanted(group: str, options: argparse.Namespace) -> bool:
    if options.only:
        return group in options.only
    return group not in ON_REQUEST or options.record


def table(recorded: list[Trials]) -> str:
    """One line a row: the best recording's figures, the best and the worst score of all the
    recordings, and "met" only when the worst meets the target."""
    lines = [
        "| row | credenza: median (min–max) | baseline (same run): median (min–max) "
        "| best | worst | target | met | runs | load average | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for trials in recorded:
        row, worst = trials.best, trials.worst
        ours = row.ours.show(row.unit) if row.ours else "—"
        base = (
            f"{row.baseline_name} {row.baseline.show(row.unit)}"
            if row.baseline
            else row.baseline_name
        )
        best_text, worst_text = score(row), score(worst)
        if len(trials.rows) > 1 and worst is not row and worst.ours:
            worst_text += f" ({worst.ours.show(worst.unit)})"
        met = {None: "—", True: "yes", False: "**NO**"}[trials.met]
        runs = "/".join(str(each.runs) for each in trials.rows)
        load = ", ".join(
            f"{each.load[0]:.1f}→{each.load[1]:.1f}" if each.load else "?" for each in trials.rows
        )
        notes = "; ".join(dict.fromkeys(note for each in trials.rows for note in each.notes))
        lines.append(
            f"| {row.name} | {ours} | {base} | {best_text} | {worst_text} | {row.target_text()} "
            f"| {met} | {runs} | {load} | {notes} |"
        )
    return "\n".join(lines)


def score(row: Row) -> str:
    """What the target bounds, as the table shows it: a ratio, or an absolute median."""
    if row.score is None:
        return "—"
    if row.absolute:
        return row.ours.show(row.unit).split(" (")[0] if row.ours else "—"
    return f"{row.score:.2f}×"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}"
    )


def write_results(
    recorded: list[Trials], options: argparse.Namespace, rounds: int, seconds: float
) -> None:
    """Keep the hand-written analysis (below the marker) and replace the measured part."""
    path = HERE / "RESULTS.md"
    marker = "<!-- analysis: kept by --record -->"
    analysis = ""
    if path.exists() and marker in (text := path.read_text()):
        analysis = text[text.index(marker) :]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    flags = " ".join(
        flag
        for flag, on in (("--quick", options.quick), ("--file-keyring", options.file_keyring))
        if on
    )
    if rounds != RECORDINGS:
        flags += f" --rounds {rounds}"
    only = " ".join(f"--only {name}" for name in options.only or [])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    missed = [trials for trials in recorded if trials.met is False]
    unmeasured = [trials.rows[0].name for trials in recorded if not trials.measured]
    summary = (
        ("Every measured target met." if unmeasured else "Every target met.")
        + f" (Each in the worst of its {rounds} recordings.)"
        if not missed
        else "Not met (the worst recording): "
        + "; ".join(
            f"{trials.worst.name} ({score(trials.worst)} against {trials.worst.target_text()})"
            for trials in missed
        )
        + "."
    )
    if unmeasured:
        summary += " Not measured (the row says why): " + "; ".join(unmeasured) + "."
    loads = [value for trials in recorded for row in trials.rows if row.load for value in row.load]
    load = f", load average {min(loads):.1f}–{max(loads):.1f} while it ran" if loads else ""
    command = " ".join(part for part in ("--record", flags, only) if part)
    path.write_text(
        "# Latest benchmark results\n\n"
        f"{stamp} on {machine()}, commit {commit or 'unknown'}, {seconds / 60:.0f} minutes{load}, "
        f"every row recorded {rounds} times (best and worst shown; met only when the worst "
        "is).\n"
        f"Command: `uv run python bench/run.py {command}`.\n\n"
        f"{table(recorded)}\n\n{summary}\n\n" + (analysis or f"{marker}\n")
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every child has been ended on the way out
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
