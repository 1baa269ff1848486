"""A daemon that scales like a cycler PC (issue 20): many simulated channels on one daemon.

Every figure is a ratio to a baseline measured in the same run:

- **CPU per stored point**, daemon with N channels at 1 point/s in real time ÷ the dry run's
  (``ncm622-cycling`` on the simulator in virtual time into SQLite, CPU seconds of this
  process per stored point, simulator included);
- **1024 channels at 1 Hz**: commit lag p99 over all points, each channel's own lag p99 (no
  channel starved) with their histogram, the daemon's threads, and its peak RSS ÷ the peak
  RSS of the same daemon with the same channels configured and no runs;
- **128 channels at 10 Hz** (``sample_interval = 0.1 s``, every point stored): CPU per stored
  point ÷ the dry run's, commit lag p99;
- **safety reaction** under the 1024-channel load: some of the channels (submitted last,
  so they start when the others already run) rest, then charge at 10C into a protocol
  ``voltage_max`` the simulated cell crosses ~10 s later. Reaction = the safety event's wall
  time stamp (taken when the breach is seen; the channel is stopped right after, in the same
  pass) − the wall time the first point past the limit was measured (the run's time 0 + its
  run time). Goal: within one sample period.

Lags are measured as in :mod:`bench.daemon`: ``channel_latest`` is polled and each commit's
points (``period`` apart, after the previous commit's newest) get lag = commit time −
measurement time. ``python -m bench.scale [--quick]``.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

from bench import daemon
from bench.daemon_memory import with_peaks
from bench.machine import Rows, standalone
from cyclerctl.store import Store

HOLD = """\
name = "bench-hold"
description = "a long rest, every point stored"
[record]
every = "{every}"
[[steps]]
type = "rest"
until = {{ time = "10 h" }}
"""

TRIP = """\
name = "bench-trip"
description = "rest, then a 10C charge into a safety limit"
[record]
every = "1 s"
[safety]
voltage_max = "3.6 V"
[[steps]]
type = "rest"
until = {{ time = "{rest_s} s" }}
[[steps]]
type = "cc"
current = "10C"
direction = "charge"
until = {{ time = "10 h" }}
"""


def _config(folder: Path, channels: int, interval_s: float) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n'
        '[daemon]\nname = "bench"\nheartbeat = "2 s"\nstale_after = "15 s"\n'
        f'[[instruments]]\nname = "sim"\ndriver = "sim"\nchannels = {channels}\nspeed = 1\n'
        f'options = {{ sample_interval = "{interval_s:g}" }}\n'
    )
    return path


def dry_run_cpu_per_point(cycles: int) -> float:
    """CPU seconds per stored point of a dry run (virtual time, simulator included)."""
    from cyclerctl.engine.session import execute_run
    from cyclerctl.instruments import open_simulator
    from cyclerctl.protocol import load_plan

    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": str(cycles)})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'dry.db'}")
        instrument = open_simulator([plan.cell]).instrument
        cpu0 = time.process_time()
        execute_run(
            store, plan, instrument.channels[0], instrument=instrument.identity.as_dict(),
            operator="bench",
        )  # fmt: skip
        cpu = time.process_time() - cpu0
        stored = store.count("samples")
        store.close()
        instrument.close()
    return cpu / stored


def loaded(
    folder: Path,
    channels: int,
    window_s: float,
    *,
    interval_s: float = 1.0,
    trips: int = 0,
    rest_s: float = 20.0,
) -> dict[str, object]:
    """One run per channel (the last ``trips`` of them into a safety limit) on one daemon:
    CPU, stored points, commit lags by channel and the safety reactions."""
    from cyclerctl.protocol import load_plan

    config = _config(folder, channels, interval_s)
    (folder / "hold.toml").write_text(HOLD.format(every=f"{interval_s:g} s"))
    (folder / "trip.toml").write_text(TRIP.format(rest_s=rest_s))
    hold = load_plan(str(folder / "hold.toml"), "ncm622-coin")
    trip = load_plan(str(folder / "trip.toml"), "ncm622-coin")
    store = Store.open(f"sqlite:///{folder / 'bench.db'}")
    holds = [
        store.submit_run(hold, operator="bench", channel=f"sim:{n}").id
        for n in range(1, channels - trips + 1)
    ]
    tripping = [
        store.submit_run(trip, operator="bench", channel=f"sim:{n}").id
        for n in range(channels - trips + 1, channels + 1)
    ]
    process = daemon._start(config, folder / "loaded.log")
    try:
        daemon._wait(
            "every run to log", lambda: all(store.last_seq(r) > 1 for r in holds), 60 + channels / 4
        )
        origin = {r: daemon._origin(store, r) for r in holds}
        time.sleep(1.0)
        first = {r: store.last_seq(r) for r in holds}
        cpu0, wall0 = daemon._cpu_s(process.pid), time.monotonic()
        lags: dict[int, list[float]] = defaultdict(list)
        seen: dict[str, float] = {}
        while time.monotonic() - wall0 < window_s:
            for row in store.channel_latest():
                if row["run_id"] not in origin or row["t"] is None:
                    continue
                before = seen.get(row["channel"])
                seen[row["channel"]] = row["t"]
                if before is None or before == row["t"]:
                    continue
                committed: datetime = row["updated_at"]
                points = np.arange(float(row["t"]), before + interval_s / 2, -interval_s)
                at = origin[row["run_id"]] + points
                lags[row["run_id"]].extend((committed.timestamp() - at).tolist())
            time.sleep(0.05)
        wall = time.monotonic() - wall0
        cpu_s = daemon._cpu_s(process.pid) - cpu0
        stored = sum(store.last_seq(r) - first[r] for r in holds)
        deadline = time.monotonic() + 60
        reactions = []
        for run_id in tripping:
            while time.monotonic() < deadline:
                safety = [e for e in store.events(run_id) if e.kind == "safety"]
                if safety:
                    break
                time.sleep(0.2)
            else:
                continue
            t0 = daemon._origin(store, run_id)
            event = safety[0]
            assert event.t is not None
            reactions.append(event.at.timestamp() - (t0 + event.t))
    finally:
        daemon._stop(process)
        store.close()
    return {
        "cpu_share": cpu_s / wall,
        "cpu_per_point": cpu_s / max(stored, 1),
        "points_per_s": stored / wall,
        "lags": dict(lags),
        "reactions": reactions,
        "trips": trips,
    }


def _lag_rows(got: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
    by_channel: dict[int, list[float]] = got["lags"]  # type: ignore[assignment]
    every = np.concatenate([np.asarray(v) for v in by_channel.values()])
    per_channel = np.asarray([np.percentile(v, 99) for v in by_channel.values()])
    return every, per_channel


def histogram(per_channel: np.ndarray, edges: tuple[float, ...]) -> Rows:
    """Channels by their own lag p99, in bins (s)."""
    counts, _ = np.histogram(per_channel, bins=np.asarray([*edges, np.inf]))
    rows = []
    for low, high, n in zip(edges, (*edges[1:], np.inf), counts, strict=True):
        label = f"≥ {low:g}" if high == np.inf else f"{low:g}–{high:g}"
        rows.append((f"    channels with lag p99 {label} s", f"{n} {'#' * int(np.ceil(n / 16))}"))
    return rows


def _cpu_rows(got: dict[str, object], channels: int, dry: float) -> Rows:
    cpu_pp = float(got["cpu_per_point"])  # type: ignore[arg-type]
    return [
        (
            f"  daemon, {channels} sim channels at 1 Hz: CPU per stored point: µs; "
            "÷ dry run's (≤ 8)",
            f"{cpu_pp * 1e6:.0f}; {cpu_pp / dry:.1f}",
        ),
        (
            "    CPU % of a core; points stored per s",
            f"{float(got['cpu_share']) * 100:.1f}; {float(got['points_per_s']):.0f}",  # type: ignore[arg-type]
        ),
    ]


def table(quick: bool) -> Rows:
    """Full: 256, 1024 and 128 channels, 30 s windows. Quick (the test suite): 8 and 4
    channels, 3 s windows, the CPU figure taken from the many-channel run."""
    sizes = (
        {"cpu": 0, "many": 8, "fast": 4, "trips": 2, "window": 3.0, "cycles": 2, "rest": 1}
        if quick
        else {"cpu": 256, "many": 1024, "fast": 128, "trips": 32, "window": 30.0, "cycles": 10,
              "rest": 20}
    )  # fmt: skip
    window = float(sizes["window"])
    dry = dry_run_cpu_per_point(int(sizes["cycles"]))
    rows: Rows = [
        (
            f"scale: dry run CPU per stored point (ncm622-cycling, {sizes['cycles']} cycles): µs",
            f"{dry * 1e6:.0f}",
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        if sizes["cpu"]:
            folder = Path(tmp) / "cpu"
            folder.mkdir()
            rows += _cpu_rows(loaded(folder, int(sizes["cpu"]), window), int(sizes["cpu"]), dry)
        channels = int(sizes["many"])
        folder = Path(tmp) / "idle"
        folder.mkdir()
        _idle_cpu, idle_mb, idle_threads = with_peaks(
            lambda: daemon.idle(folder, channels, min(window, 10.0))
        )
        folder = Path(tmp) / "many"
        folder.mkdir()
        got, peak_mb, threads = with_peaks(
            lambda: loaded(
                folder, channels, window, trips=int(sizes["trips"]), rest_s=float(sizes["rest"])
            )
        )
        if not sizes["cpu"]:
            rows += _cpu_rows(got, channels, dry)
        every, per_channel = _lag_rows(got)
        reactions = np.asarray(got["reactions"])
        rows += [
            (
                f"  daemon, {channels} sim channels at 1 Hz: commit lag p50 / p99 / max: s "
                "(p99 ≤ 2)",
                f"{np.percentile(every, 50):.2f} / {np.percentile(every, 99):.2f} / "
                f"{every.max():.2f}",
            ),
            (
                "    per-channel lag p99: median / worst: s (worst ≤ 2); channels measured",
                f"{np.median(per_channel):.2f} / {per_channel.max():.2f}; {len(per_channel)}",
            ),
            *histogram(per_channel, (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)),
            (
                "    threads, most seen: loaded; idle (same channels, no runs)",
                f"{threads}; {idle_threads}",
            ),
            (
                "    peak RSS MB: loaded; idle; ratio (≤ 3)",
                f"{peak_mb:.0f}; {idle_mb:.0f}; {peak_mb / idle_mb:.2f}",
            ),
            (
                "    CPU % of a core; points stored per s",
                f"{float(got['cpu_share']) * 100:.1f}; {float(got['points_per_s']):.0f}",  # type: ignore[arg-type]
            ),
            (
                f"    safety reaction, limit crossed → channel stopped, {len(reactions)} of "
                f"{got['trips']} channels: p50 / p99 / max: s (p99 ≤ 1 sample period = 1 s)",
                (
                    f"{np.percentile(reactions, 50):.2f} / {np.percentile(reactions, 99):.2f}"
                    f" / {reactions.max():.2f}"
                )
                if len(reactions)
                else "none seen",
            ),
        ]
        fast = int(sizes["fast"])
        folder = Path(tmp) / "fast"
        folder.mkdir()
        got = loaded(folder, fast, window, interval_s=0.1)
        every, per_channel = _lag_rows(got)
        cpu_pp = float(got["cpu_per_point"])  # type: ignore[arg-type]
        rows += [
            (
                f"  daemon, {fast} sim channels at 10 Hz: CPU per stored point: µs; "
                "÷ dry run's (≤ 8)",
                f"{cpu_pp * 1e6:.0f}; {cpu_pp / dry:.1f}",
            ),
            (
                "    commit lag p50 / p99: s (p99 ≤ 1); worst channel's p99; CPU %; points/s",
                f"{np.percentile(every, 50):.2f} / {np.percentile(every, 99):.2f}; "
                f"{per_channel.max():.2f}; {float(got['cpu_share']) * 100:.1f}; "  # type: ignore[arg-type]
                f"{float(got['points_per_s']):.0f}",  # type: ignore[arg-type]
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> None:
    standalone("python -m bench.scale", "small sizes", table, argv)


if __name__ == "__main__":
    main()
