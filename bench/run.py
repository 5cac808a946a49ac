"""credenza's benchmarks: `uv run python bench/run.py [--quick] [--record] [--only ROWS]`.

Prints one table: each row is credenza against a baseline measured in the same run, interleaved,
with min/median/max of every side and the ratio of medians against its target. bench/README.md
says how to read it; `--record` also writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness import CHILDREN, Row, reason
from plan import Plan
from rows import countdown, dashboard, token_path, verify
from world import HERE, world

GROUPS = {
    "token": token_path.rows,
    "verify": verify.rows,
    "dashboard": dashboard.rows,
    "countdown": countdown.rows,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs a side, smallest sizes only")
    parser.add_argument("--record", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--only", choices=list(GROUPS), action="append", help="repeatable")
    parser.add_argument(
        "--file-keyring",
        action="store_true",
        help="use a plaintext file keyring instead of gnome-keyring (rows say so)",
    )
    options = parser.parse_args()
    plan = Plan(quick=options.quick)
    rows: list[Row] = []
    started = time.monotonic()
    # Ctrl-C, SIGTERM, SIGHUP or an exception: every daemon, app and agent goes with the bench.
    CHILDREN.install()
    with (
        tempfile.TemporaryDirectory(prefix="credenza-bench-") as directory,
        world(Path(directory), file_keyring=options.file_keyring) as bench,
    ):
        for name, measure in GROUPS.items():
            if options.only and name not in options.only:
                continue
            print(f"running {name} on {bench.keyring}…", file=sys.stderr, flush=True)
            try:
                found = measure(bench, plan)
            except Exception as exc:  # the rows catch their own failures; this is a last resort
                traceback.print_exc()
                found = [Row(f"{name}: every row", None, None, "", "s", None, notes=[reason(exc)])]
            for row in found:
                if not bench.real:
                    row.notes.append("file keyring (no Secret Service here)")
                if plan.quick:
                    row.notes.append("quick run")
            rows.extend(found)
            print(table(found), file=sys.stderr, flush=True)
    output = table(rows)
    print(output)
    if options.record:
        write_results(rows, options, time.monotonic() - started)
    return 0


def table(rows: list[Row]) -> str:
    lines = [
        "| row | credenza: median (min–max) | baseline (same run): median (min–max) | ratio | target | met | runs | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ours = row.ours.show(row.unit) if row.ours else "—"
        base = (
            f"{row.baseline_name} {row.baseline.show(row.unit)}"
            if row.baseline
            else row.baseline_name
        )
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        met = {None: "—", True: "yes", False: "**NO**"}[row.met]
        notes = "; ".join(row.notes)
        lines.append(
            f"| {row.name} | {ours} | {base} | {ratio} | {row.target_text()} | {met} | {row.runs} | {notes} |"
        )
    return "\n".join(lines)


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


def write_results(rows: list[Row], options: argparse.Namespace, seconds: float) -> None:
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
    only = " ".join(f"--only {name}" for name in options.only or [])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    missed = [row for row in rows if row.met is False]
    unmeasured = [row.name for row in rows if row.ours is None]
    summary = (
        ("Every measured target met." if unmeasured else "Every target met.")
        if not missed
        else "Not met: "
        + "; ".join(
            f"{row.name} ({row.ratio or row.ours.median:.2f} against {row.target_text()})"
            for row in missed
            if row.ours
        )
        + "."
    )
    if unmeasured:
        summary += " Not measured (the row says why): " + "; ".join(unmeasured) + "."
    path.write_text(
        "# Latest benchmark results\n\n"
        f"{stamp} on {machine()}, commit {commit or 'unknown'}, {seconds / 60:.0f} minutes.\n"
        f"Command: `uv run python bench/run.py --record {flags} {only}`.\n\n"
        f"{table(rows)}\n\n{summary}\n\n" + (analysis or f"{marker}\n")
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every child has been ended on the way out
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
