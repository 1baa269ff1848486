"""TUI overview refresh cost per frame with 256 channels, in a real SQLite file.

Baseline in the same run: the raw status query alone (Store.channel_status), so the ratio
shows what the read model and the table's in-place update add on top of the database.
A frame is: read (LabData.overview, as the poll worker does) + update every changed cell
of the DataTable + let Textual repaint. Every frame changes V, I and capacity of every
channel, the worst case (a real lab changes a few per poll).

    python bench/tui.py [--quick] [--channels N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `cyclerctl` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from cyclerctl.config import Config
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store, models
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import ChannelRow, LabData
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


def wiggle(rows: list[ChannelRow], frame: int) -> list[ChannelRow]:
    """Every channel's V, I and capacity changed: every such cell is updated."""
    d = 1e-4 * (frame % 7 + 1)
    return [
        replace(r, V=(r.V or 0) + d, I=(r.I or 0) + d * 1e-3, capacity_Ah=(r.capacity_Ah or 0) + d)
        for r in rows
    ]


async def frame_costs(lab: LabData, frames: int) -> tuple[float, float, float]:
    """(ms to update the table in place, ms for a whole frame: read + update + repaint,
    ms Pilot's pause takes with nothing changed: the harness's own floor)."""
    app = CyclerApp(lab, read_only=True)
    async with app.run_test(size=(160, 50)) as pilot:
        while not isinstance(app.screen, OverviewScreen):
            await pilot.pause(0.01)
        screen = app.screen
        screen.poll_interval = 3600.0  # the benchmark drives the frames itself
        table = screen.query_one(ChannelTable)
        rows = lab.overview()
        table.show_rows(rows)
        await pilot.pause()
        updates, whole, idle = [], [], []
        for _ in range(frames):
            start = time.perf_counter()
            await pilot.pause()
            idle.append(time.perf_counter() - start)
        for frame in range(frames):
            start = time.perf_counter()
            fresh = wiggle(lab.overview(), frame)
            read = time.perf_counter()
            screen.show(fresh)
            updated = time.perf_counter()
            await pilot.pause()  # let Textual process the update and repaint
            done = time.perf_counter()
            updates.append(updated - read)
            whole.append(done - start)
    ms = [statistics.median(x) * 1e3 for x in (updates, whole, idle)]
    return ms[0], ms[1], ms[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames (< 20 s)")
    parser.add_argument("--channels", type=int, default=256)
    args = parser.parse_args(argv)
    frames = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        url = build_lab(Path(folder) / "lab.db", args.channels)
        built = time.perf_counter() - start
        store = Store.open(url)
        try:
            lab = LabData(store, Config(), clock=lambda: NOW)
            raw_ms = per_call_ms(store.channel_status, frames)
            model_ms = per_call_ms(lab.overview, frames)
            update_ms, frame_ms, idle_ms = asyncio.run(frame_costs(lab, frames))
        finally:
            store.close()
    print(f"machine: {describe()}")
    print(
        f"TUI overview, {args.channels} channels, {frames} frames (median); "
        f"database built in {built:.1f} s"
    )
    print(f"  baseline: raw status query (Store.channel_status)  {raw_ms:8.2f} ms")
    print(
        f"  read model (LabData.overview: query + states)      {model_ms:8.2f} ms "
        f"({model_ms / raw_ms:.2f}x baseline)"
    )
    print(f"  table update in place (every V/I/mAh cell changed)  {update_ms:8.2f} ms")
    print(
        f"  whole frame (read + update + repaint)              {frame_ms:8.2f} ms "
        f"({frame_ms / raw_ms:.2f}x baseline; {1e3 / frame_ms:.0f} frames/s possible)"
    )
    print(f"  (Pilot's pause with nothing to repaint, included above: {idle_ms:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
