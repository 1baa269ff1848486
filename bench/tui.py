"""TUI overview with 256 channels in a real SQLite file: refresh cost per frame, and how
fast a keypress is handled while every channel's values change each second.

Baseline in the same run: the raw status query alone (Store.channel_status), so the ratio
shows what the read model and the table's in-place update add on top of the database.
A frame is the app's own poll cycle, timed phase by phase: the read (LabData.overview in
the poll worker thread), the hand-off to the UI thread, OverviewScreen.show (diff and
changed cells), the wait for Textual's next paint tick, and the paint itself, ending when
the frame is written. Before each frame every channel's V, I, t and Q are rewritten in the
database with values never seen before: the worst case (a real lab changes a few per poll).
(Earlier versions timed ``Pilot.pause()``, which sleeps ≥ 20 ms waiting for an idle CPU
and left the screen's own poll timer running: that figure was the harness, not the app.)

Responsiveness (DESIGN.md must-show: a keypress handled within 100 ms with 256 channels
updating every second): a background thread rewrites every channel_latest row (V, I, t, Q)
once a second while the app polls as it does in use; keys (down/up, the state filter,
enter into a channel's detail and escape back) are sent through the driver like a
terminal's, at random moments, and the time from the key to its effect (cursor row moved,
filter changed, screen pushed or popped) is taken.

No wait can hang: each gives up after WAIT_S with what it waited for (or at once if the app
failed), and the whole run after ``--timeout`` with every thread's stack (faulthandler).

    python bench/tui.py [--quick] [--channels N] [--frames N] [--presses N] [--timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `cyclerctl` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam
from textual import events
from textual.pilot import Pilot

from bench.machine import describe
from cyclerctl.config import Config
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store, models
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import LabData
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def build_lab(path: Path, channels: int) -> str:
    """``channels`` channels on 8-channel instruments, each with a running run and a step."""
    url = f"sqlite:///{path}"
    plan = load_plan("li-cu-ce", "li-qse-cu")
    store = Store.open(url)
    try:
        latest, steps = [], []
        for i in range(channels):
            channel = f"cyc{i // 8 + 1}:{i % 8 + 1}"
            run = store.create_run(plan, operator="bench", instrument={}, channel=channel)
            latest.append(
                {
                    "channel": channel,
                    "run_id": run.id,
                    "t": 3600.0 + i,
                    "V": 3.7,
                    "I": 1e-3,
                    "Q": -3.6 * i,
                    "T_K": 298.15,
                    "step": 1,
                    "cycle": 0,
                    "status": "running",
                    "updated_at": NOW,
                }
            )
            steps.append(
                {
                    "run_id": run.id,
                    "step": 1,
                    "plan_index": 0,
                    "name": plan.steps[0].name,
                    "kind": "cc",
                    "cycle": 0,
                    "loop_counters": [],
                    "t_start": 0.0,
                    "charge_Ah": 0.0,
                    "discharge_Ah": 0.0,
                    "charge_Wh": 0.0,
                    "discharge_Wh": 0.0,
                }
            )
        with store.engine.begin() as connection:
            connection.execute(models.channel_latest.delete())  # create_run held each channel
            connection.execute(models.channel_latest.insert(), latest)
            connection.execute(models.steps.insert(), steps)
    finally:
        store.close()
    return url


def per_call_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


#: the longest any one wait of the benchmark may take before it gives up, with the reason
WAIT_S = 30.0


class BenchError(RuntimeError):
    """The app under test failed or never reached the state waited for."""


async def until(app: CyclerApp, condition: Callable[[], object], what: str,
                timeout: float = WAIT_S) -> None:  # fmt: skip
    """Wait for ``condition``, failing loudly instead of hanging: the app stopped (a worker
    raised: Textual exits the app), or ``timeout`` passed. An app that had exited left the
    benchmark's old wait loops spinning for ever — the hang of a full run."""
    deadline = time.perf_counter() + timeout
    while not condition():
        failure = app._exception  # set when a handler or a worker raised
        if failure is not None:
            raise BenchError(f"the app failed while waiting for {what}: {failure!r}") from failure
        if app._exit_renderables or app.return_code is not None:
            raise BenchError(f"the app exited while waiting for {what}")
        if time.perf_counter() > deadline:
            raise BenchError(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(0.001)


def move_every_channel(url: str, frame: int) -> None:
    """A daemon's write between two frames: every channel's V, I, t and Q new (values
    never seen before, so no rendered cell can be reused), the worst case for a frame."""
    table = models.channel_latest
    statement = (
        table.update()
        .where(table.c.channel == bindparam("key"))
        .values(V=bindparam("V"), I=bindparam("I"), t=bindparam("t"), Q=bindparam("Q"))
    )
    store = Store.open(url)
    try:
        with store.engine.begin() as connection:
            channels = [str(c) for c in connection.execute(
                table.select().with_only_columns(table.c.channel)).scalars()]  # fmt: skip
            rows = [
                {"key": c, "V": 3.7 + 1e-4 * frame + 1e-7 * i, "I": 1e-3 + 1e-7 * frame,
                 "t": 3600.0 + frame + i, "Q": -3.6 * i - 0.01 * frame}
                for i, c in enumerate(channels)
            ]  # fmt: skip
            connection.execute(statement, rows)
    finally:
        store.close()


@dataclass
class FrameTimes:
    """Seconds, one entry per frame, each phase of one poll → screen cycle."""

    fetch: list[float] = field(default_factory=list)  # LabData.overview in the poll worker
    handoff: list[float] = field(default_factory=list)  # worker → UI thread
    apply: list[float] = field(default_factory=list)  # OverviewScreen.show: diff + cells
    wait: list[float] = field(default_factory=list)  # until Textual's next paint tick
    paint: list[float] = field(default_factory=list)  # compositor: render + write
    frame: list[float] = field(default_factory=list)  # read requested → frame written
    discarded: int = 0  # frames whose marks came from an overlapping read


async def frame_costs(url: str, lab: LabData, frames: int) -> FrameTimes:
    """The app's own poll cycle, timed phase by phase: the benchmark starts each read
    (``refresh_data``, as the poll timer does) after rewriting every channel, and waits
    for the frame that shows it to be painted."""
    app = CyclerApp(lab, read_only=True)
    times = FrameTimes()
    marks: dict[str, float] = {}
    async with app.run_test(size=(160, 50)) as pilot:
        await until(app, lambda: isinstance(app.screen, OverviewScreen)
                    and app.screen.reads_shown >= 1, "the overview's first read")  # fmt: skip
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        screen.stop_polling()  # the benchmark starts every read itself
        await until(app, lambda: not screen.reading, "the last timed read to land")
        fetch, show, paint = screen.fetch, screen.show, screen._compositor_refresh

        def timed_fetch() -> Any:
            marks["fetch0"] = time.perf_counter()
            try:
                return fetch()
            finally:
                marks["fetch1"] = time.perf_counter()

        def timed_show(data: Any) -> None:
            marks["show0"] = time.perf_counter()
            show(data)
            marks["show1"] = time.perf_counter()

        def timed_paint() -> None:  # Textual's paint (instrumented, not replaced)
            started = time.perf_counter()
            paint()
            if "show1" in marks and "paint1" not in marks and started >= marks["show1"]:
                marks["paint0"], marks["paint1"] = started, time.perf_counter()

        screen.fetch = timed_fetch  # type: ignore[method-assign]
        screen.show = timed_show  # type: ignore[method-assign]
        screen._compositor_refresh = timed_paint  # type: ignore[method-assign]
        await pilot.pause()
        frame = 0
        while len(times.frame) < frames:
            frame += 1
            move_every_channel(url, frame)
            marks.clear()
            shown = screen.reads_shown
            start = time.perf_counter()
            screen.refresh_data()
            await until(app, lambda: screen.reads_shown > shown and "paint1" in marks,  # noqa: B023
                        f"frame {frame} painted")  # fmt: skip
            missing = {"fetch0", "fetch1", "show0", "show1", "paint0", "paint1"} - set(marks)
            if missing:  # a read that began before this frame's marks: not this frame's
                times.discarded += 1
                if times.discarded > frames:
                    raise BenchError(f"frame {frame}: no {sorted(missing)} (seen {sorted(marks)})")
                continue
            times.fetch.append(marks["fetch1"] - marks["fetch0"])
            times.handoff.append(marks["show0"] - marks["fetch1"])
            times.apply.append(marks["show1"] - marks["show0"])
            times.wait.append(marks["paint0"] - marks["show1"])
            times.paint.append(marks["paint1"] - marks["paint0"])
            times.frame.append(marks["paint1"] - start)
        assert screen.query_one(ChannelTable).row_count == len(lab.overview())
    return times


@contextmanager
def rewriting(url: str, period: float = 1.0) -> Iterator[list[int]]:
    """A thread that rewrites every channel_latest row (V, I, t, Q all changed) each
    ``period`` seconds, as daemons do; yields a one-item list counting the rewrites."""
    done = threading.Event()
    count = [0]
    store = Store.open(url)
    table = models.channel_latest
    statement = (
        table.update()
        .where(table.c.channel == bindparam("key"))
        .values(V=bindparam("V"), I=bindparam("I"), t=bindparam("t"), Q=bindparam("Q"))
    )
    with store.engine.connect() as connection:
        channels = [str(c) for c in connection.execute(table.select().with_only_columns(
            table.c.channel)).scalars()]  # fmt: skip

    def loop() -> None:
        tick = 0
        while not done.is_set():
            tick += 1
            rows = [
                {
                    "key": c,
                    "V": 3.7 + 1e-4 * ((tick + i) % 97),
                    "I": 1e-3 + 1e-6 * (tick % 13),
                    "t": 3600.0 + tick + i,
                    "Q": -3.6 * i - tick,
                }
                for i, c in enumerate(channels)
            ]
            try:
                with store.engine.begin() as connection:
                    connection.execute(statement, rows)
                count[0] += 1
            except Exception:  # a reader holding the lock: the next second writes again
                pass
            done.wait(period)

    thread = threading.Thread(target=loop, name="rewriter", daemon=True)
    thread.start()
    try:
        yield count
    finally:
        done.set()
        thread.join(timeout=10)
        store.close()


#: one round of keys: cursor moves, the state filter all the way round, into a detail and out
ROUND: tuple[str, ...] = ("down", "down", "down", "up", "f", "f", "f", "f", "f", "f",
                          "enter", "escape")  # fmt: skip


def _effect(app: CyclerApp, key: str) -> Callable[[], bool]:
    """What tells that ``key`` (about to be sent) has been handled."""
    screen = app.screen
    if key == "enter":
        return lambda: isinstance(app.screen, DetailScreen)
    if key == "escape":
        return lambda: isinstance(app.screen, OverviewScreen)
    assert isinstance(screen, OverviewScreen)
    if key == "f":
        before_filter = screen.state_filter
        return lambda: screen.state_filter != before_filter
    table = screen.query_one(ChannelTable)
    before_row = table.cursor_row
    return lambda: table.cursor_row != before_row


async def press_latencies(
    pilot: Pilot[Any], presses: int, *, seed: int = 1, max_gap: float = 0.3
) -> list[float]:
    """Send ``presses`` keys (ROUND over and over) at random moments; seconds from each
    key to its effect. A key is sent the way a terminal's arrives (the driver's queue)."""
    app = pilot.app
    assert isinstance(app, CyclerApp) and app._driver is not None
    rng = random.Random(seed)
    out: list[float] = []
    i = 0
    while len(out) < presses:
        key = ROUND[i % len(ROUND)]
        i += 1
        if key != "escape":  # the overview must be on top (and filled, to move in it)
            await until(app, lambda: isinstance(app.screen, OverviewScreen),
                        "the overview back on top")  # fmt: skip
            overview = app.screen
            assert isinstance(overview, OverviewScreen)
            if key != "f" and (
                overview.state_filter != "all" or not overview.query_one(ChannelTable).row_count
            ):
                continue
        await asyncio.sleep(rng.uniform(0.0, max_gap))
        handled = _effect(app, key)
        event = events.Key(key, None)
        event.set_sender(app)
        start = time.perf_counter()
        app._driver.send_message(event)
        await until(app, handled, f"key {key!r} handled", timeout=10.0)
        out.append(time.perf_counter() - start)
    return out


async def responsiveness(url: str, lab: LabData, presses: int) -> tuple[list[float], int]:
    """(seconds from key to effect for ``presses`` keys, database rewrites meanwhile)."""
    app = CyclerApp(lab, read_only=True)
    with rewriting(url) as rewrites:
        async with app.run_test(size=(160, 50)) as pilot:
            await until(app, lambda: isinstance(app.screen, OverviewScreen)
                        and app.screen.reads_shown >= 1, "the overview's first read")  # fmt: skip
            latencies = await press_latencies(pilot, presses)
        return latencies, rewrites[0]


def percentiles_ms(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) in ms."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p99 * 1e3, ordered[-1] * 1e3


def ms(values: list[float]) -> str:
    """median and p90 in ms."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1e3:7.2f} ms (p90 {p90 * 1e3:6.2f})"


def measure(args: argparse.Namespace, frames: int, presses: int) -> list[tuple[str, str]]:
    """(figure, value) rows."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        url = build_lab(Path(folder) / "lab.db", args.channels)
        built = time.perf_counter() - start
        store = Store.open(url)
        try:
            lab = LabData(store, Config(), clock=lambda: NOW)
            raw_ms = per_call_ms(store.channel_status, frames)
            model_ms = per_call_ms(lab.overview, frames)
            times = asyncio.run(frame_costs(url, lab, frames))
            latencies, rewrites = asyncio.run(responsiveness(url, lab, presses))
        finally:
            store.close()
    frame_ms = statistics.median(times.frame) * 1e3
    verdict = "OK" if frame_ms <= FRAME_TARGET_MS else "TOO SLOW"
    p50, p99, worst = percentiles_ms(latencies)
    n = args.channels
    return [
        (f"tui {n} channels: database built", f"{built:.1f} s"),
        ("tui baseline: raw status query (Store.channel_status)", f"{raw_ms:7.2f} ms"),
        ("tui read model (LabData.overview)",
         f"{model_ms:7.2f} ms ({model_ms / raw_ms:.2f}x baseline)"),
        (f"tui refresh, {frames} frames, every channel changed: fetch in the poll worker",
         ms(times.fetch)),
        ("tui refresh: hand-off worker -> UI thread", ms(times.handoff)),
        ("tui refresh: apply (OverviewScreen.show: diff, cells)", ms(times.apply)),
        ("tui refresh: wait for Textual's paint tick (<= 1/60 s)", ms(times.wait)),
        ("tui refresh: paint (compositor render + write)", ms(times.paint)),
        ("tui frames discarded (marks of an overlapping read)", str(times.discarded)),
        ("tui whole frame, read asked -> frame written",
         f"{ms(times.frame)} ({frame_ms / raw_ms:.1f}x baseline; "
         f"target <= {FRAME_TARGET_MS:.0f} ms: {verdict})"),
        (f"tui keypress to effect, {len(latencies)} keys, all channels changing "
         f"({rewrites} rewrites)",
         f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
         f"(p99 <= 100 ms: {'OK' if p99 <= 100.0 else 'TOO SLOW'})"),
    ]  # fmt: skip


#: issue 8: a refresh of the overview with 256 channels
FRAME_TARGET_MS = 50.0
#: what ``python -m bench`` allows the TUI benchmark (its own guard fires first)
SUBPROCESS_TIMEOUT_S = {True: 240.0, False: 900.0}


def table(quick: bool) -> list[tuple[str, str]]:
    """For ``python -m bench``: this benchmark in its own process (a Textual app, threads,
    an event loop), bounded in time, its rows or why there are none."""
    command = [sys.executable, "-m", "bench.tui", "--rows", *(["--quick"] if quick else [])]
    limit = SUBPROCESS_TIMEOUT_S[quick]
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return [("tui overview", f"TIMED OUT after {limit:.0f} s")]
    rows = [tuple(line.split("\t", 1)) for line in done.stdout.splitlines() if "\t" in line]
    if done.returncode != 0 or not rows:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        return [("tui overview", f"FAILED (exit {done.returncode}): {last[0]}")]
    return [(name, value) for name, value in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames (< 20 s)")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--presses", type=int, default=0, help="keys to time (default 60/200)")
    parser.add_argument("--frames", type=int, default=0, help="frames to time (default 20/200)")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="give up after this many seconds, printing where it was "
                             "(default 180 quick / 600)")  # fmt: skip
    parser.add_argument(
        "--rows", action="store_true", help="figure<TAB>value lines (for python -m bench)"
    )
    args = parser.parse_args(argv)
    frames = args.frames or (20 if args.quick else 200)
    presses = args.presses or (60 if args.quick else 200)
    timeout = args.timeout or (180.0 if args.quick else 600.0)
    if not args.rows:
        print(f"machine: {describe()}", flush=True)
    # the last guard: whatever blocks (a thread, the event loop), the run ends with the
    # stack of every thread on stderr and a non-zero exit instead of hanging
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        rows = measure(args, frames, presses)
    except BenchError as exc:
        print(f"TUI benchmark FAILED: {exc}", flush=True)
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name}\t{value}" if args.rows else f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
