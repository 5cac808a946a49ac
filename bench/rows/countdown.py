"""Rows 4: the Tokens screen with many cached tokens: time to the first countdown and to every
token, and CPU while counting down."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from harness import (
    Row,
    Stats,
    Terminal,
    attempt,
    cpu_seconds,
    drain_all,
    in_pty,
    reason,
    run,
)
from plan import Plan
from world import HERE, PYTHON, World, application, register, secret_entries

FIRST_ROW = rb"App 00001"
# A countdown cell ("10m04s left"): only ever drawn for a token, never in a header.
COUNTDOWN = rb"\d+m\d\ds left"
SETTLE = 2.0
# Seconds to the first application row, and then to the first countdown: each is well under
# 10 s at 5,000 tokens; a minute means something is stuck.
TIMEOUT = 60.0
# Reading 5,000 cached tokens (15,000 entries) from gnome-keyring took about a minute.
LOADING = 300.0
# While waiting for the last token, End (`G`, the countdown list's binding) is pressed this often
# so that the last row is in view as soon as it exists.
POLL = 0.2
# A run over this many times the target: the rest of the row's runs are not taken (the row says
# so), since nine runs of minutes each would take most of an hour and tell nothing more.
HOPELESS = 4
QUIET = 0.05  # of a core, the keyring daemon and the Tokens screen each, over a second


def rows(world: World, plan: Plan) -> list[Row]:
    found = []
    for count in plan.sizes(500, 5000):
        first = Row(
            f"4a. Tokens screen, {count:,} cached tokens: key press to first countdown",
            None,
            None,
            "(absolute)",
            "s",
            1.0,
            absolute=True,
        )
        every = Row(
            f"4. Tokens screen, {count:,} cached tokens: key press to every token shown",
            None,
            None,
            "(absolute)",
            "s",
            5.0,
            absolute=True,
        )
        cpu = [
            Row(
                f"4b. Tokens screen CPU while counting down, {count:,} tokens",
                None,
                None,
                "bare DataTable app, visible cells at 1 Hz",
                "%",
                0.5,
            ),
            Row(
                f"4c. the countdown widget alone (tui/widgets/countdown.py), {count:,} tokens",
                None,
                None,
                "the same bare DataTable app",
                "%",
                0.5,
            ),
        ]
        shown = ([first] if count == 500 else []) + [every]
        try:
            config = _seed(world, count)
        except Exception as exc:  # the rows say why
            found += [
                Row.unmeasured(row, f"seeding the keyring: {reason(exc)}") for row in shown + cpu
            ]
            continue
        found += attempt(shown, lambda c=config, n=count, r=shown: _shown(world, plan, c, n, r))
        found += attempt(cpu, lambda c=config, n=count, r=cpu: _cpu(world, plan, c, n, r))
    return found


def _seed(world: World, count: int) -> str:
    """``count`` applications, each with its client secret and a token cached as `credenza
    secret set` and `credenza token` leave them: the tokens cached by credenza's own token store
    (bench/seed_tokens.py, in the world's environment), its keyring entries then loaded at once."""
    token_url = f"{world.sandbox.issuer}/oauth/token"
    config = world.config(
        f"tokens-{count}", [application(n, token_url, ("production",)) for n in range(count)]
    )
    entries = secret_entries(register(world, count, ("production",)), token_url)
    seeded = run([PYTHON, str(HERE / "seed_tokens.py"), str(config)], world.env, timeout=LOADING)
    if seeded.returncode != 0:
        raise RuntimeError(f"seed_tokens.py: {seeded.stderr.decode()[-300:]}")
    tokens: dict[str, str] = json.loads(seeded.stdout)
    if len(tokens) < count:
        raise RuntimeError(f"seed_tokens.py cached {len(tokens)} entries for {count} tokens")
    world.keyring_holds({**entries, **tokens})
    return str(config)


def _shown(world: World, plan: Plan, config: str, count: int, planned: list[Row]) -> list[Row]:
    """From pressing 4 (as soon as the first application row is drawn) to the first countdown
    drawn, and to the last application's token drawn (the tokens come in config order, the last
    application's last; End is pressed every POLL seconds so that its row is in view)."""
    argv = [PYTHON, "-m", "credenza", "--config", config]
    last = f"App {count - 1:05d}".encode()
    every_target = planned[-1].target or LOADING
    firsts: list[float] = []
    everys: list[float] = []
    from_start: list[float] = []
    notes: list[str] = []
    runs = plan.runs(9)
    for turn in range(runs + 1):
        with in_pty(argv, world.env) as terminal:
            terminal.wait_for(FIRST_ROW, timeout=TIMEOUT)
            terminal.send(b"4")
            pressed = time.perf_counter()
            # Only once the Tokens screen shows a countdown: an End pressed before it would
            # scroll the applications table to the last application instead.
            first = terminal.wait_for(COUNTDOWN, timeout=TIMEOUT)
            every = _last_row(terminal, last, pressed + LOADING)
        if turn:
            firsts.append(first - pressed)
            everys.append(every - pressed)
            from_start.append(first - terminal.started)
        if every - pressed > HOPELESS * every_target and len(everys) >= 3:
            notes.append(
                f"stopped after {len(everys)} of {runs} runs: each over {HOPELESS}× the target"
            )
            break
    launch = Stats(tuple(from_start))
    rows = [replace(planned[-1], ours=Stats(tuple(everys)), notes=notes)]
    if len(planned) == 2:
        first_row = replace(
            planned[0],
            ours=Stats(tuple(firsts)),
            notes=[f"first countdown from launch: {launch.show('s')}", *notes],
        )
        rows.insert(0, first_row)
    return rows


def _last_row(terminal: Terminal, name: bytes, deadline: float) -> float:
    """perf_counter() when ``name`` is drawn, pressing End every POLL seconds until then."""
    while (left := deadline - time.perf_counter()) > 0:
        terminal.send(b"G")
        try:
            return terminal.wait_for(name, timeout=min(POLL, left))
        except TimeoutError:
            continue
    raise TimeoutError(f"{name.decode()} was not shown within {LOADING:g} s")


def _cpu(world: World, plan: Plan, config: str, count: int, planned: list[Row]) -> list[Row]:
    """CPU while counting down: the Tokens screen, the countdown widget alone and the bare
    DataTable app, side by side over the same windows."""
    ours = [PYTHON, "-m", "credenza", "--config", config]
    bare = [PYTHON, str(HERE / "bare_countdown.py"), str(count)]
    alone = [PYTHON, str(HERE / "widget_countdown.py"), str(count)]
    windows, seconds = (3, 3.0) if plan.quick else (5, 4.0)
    with (
        in_pty(ours, world.env) as credenza,
        in_pty(bare, world.env) as baseline,
        in_pty(alone, world.env) as widget,
    ):
        credenza.wait_for(FIRST_ROW, timeout=TIMEOUT)
        credenza.send(b"4")
        shown = credenza.wait_for(COUNTDOWN, timeout=TIMEOUT) - credenza.started
        baseline.wait_for(COUNTDOWN, timeout=TIMEOUT)
        widget.wait_for(COUNTDOWN, timeout=TIMEOUT)
        terminals = [credenza, baseline, widget]
        # The first countdown is the first batch of tokens; the rest are still being read from
        # the keyring. "While counting down" starts once that reading is over.
        loaded = _quiet(world, terminals, LOADING) - credenza.started
        drain_all(terminals, SETTLE)
        shares: dict[int, list[float]] = {t.pid: [] for t in terminals}
        for _ in range(windows):
            before = {t.pid: t.cpu_seconds() for t in terminals}
            drain_all(terminals, seconds)
            for t in terminals:
                shares[t.pid].append((t.cpu_seconds() - before[t.pid]) / seconds)
    note = f"{windows} windows of {seconds:g} s, all measured over the same windows"
    tokens, alone = planned
    return [
        replace(
            tokens,
            ours=Stats(tuple(shares[credenza.pid])),
            baseline=Stats(tuple(shares[baseline.pid])),
            notes=[
                note,
                f"first countdown {shown:.1f} s after launch, every token read by {loaded:.0f} s",
            ],
        ),
        replace(
            alone,
            ours=Stats(tuple(shares[widget.pid])),
            baseline=Stats(tuple(shares[baseline.pid])),
            notes=[note],
        ),
    ]


def _quiet(world: World, terminals: list[Terminal], timeout: float) -> float:
    """perf_counter() once the Tokens screen (the first terminal) and the keyring daemon each
    used under QUIET of a core over a second: the cached tokens have all been read."""
    credenza = terminals[0]
    daemon = world.service.daemon.pid if world.service and world.service.daemon else None
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        before = (credenza.cpu_seconds(), cpu_seconds(daemon) if daemon else 0.0)
        drain_all(terminals, 1.0)
        after = (credenza.cpu_seconds(), cpu_seconds(daemon) if daemon else 0.0)
        if all(end - start < QUIET for start, end in zip(before, after, strict=True)):
            return time.perf_counter() - 1.0
    raise TimeoutError(f"the Tokens screen was still reading after {timeout:g} s")
