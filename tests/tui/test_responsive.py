"""The responsiveness benchmark's path (bench/tui.py), without timing: channels whose
status rows a thread rewrites while keys move the cursor, filter, open a detail and go back.
"""

from __future__ import annotations

from pathlib import Path

from bench.tui import NOW, ROUND, build_lab, percentiles_ms, press_latencies, rewriting
from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import LabData
from cyclerctl.tui.screens.overview import OverviewScreen
from tests.tui.helpers import sync, wait_for


@sync
async def test_keys_are_handled_while_every_channel_changes(tmp_path: Path) -> None:
    url = build_lab(tmp_path / "lab.db", 24)
    store = Store.open(url)
    try:
        app = CyclerApp(LabData(store, Config(), clock=lambda: NOW), read_only=True)
        with rewriting(url, period=0.1) as rewrites:
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen)
                               and app.screen.reads_shown >= 1)  # fmt: skip
                latencies = await press_latencies(pilot, len(ROUND), max_gap=0.05)
                await wait_for(pilot, lambda: rewrites[0] >= 2)
                assert isinstance(app.screen, OverviewScreen)
                assert app.screen.state_filter == "all"
    finally:
        store.close()
    assert len(latencies) == len(ROUND)
    p50, p99, worst = percentiles_ms(latencies)
    assert 0 < p50 <= p99 <= worst


@sync
async def test_detail_shows_the_plan_with_the_running_step_marked(tmp_path: Path) -> None:
    from cyclerctl.tui.screens.detail import DetailScreen
    from cyclerctl.tui.widgets.run_tables import PlanTable

    url = build_lab(tmp_path / "lab.db", 8)  # each run is on plan step 0 (bench.tui)
    store = Store.open(url)
    try:
        lab = LabData(store, Config(), clock=lambda: NOW)
        detail = lab.detail(1)
        assert detail is not None and detail.current_plan_index == 0
        assert len(detail.plan) == len(store.run_snapshot(1)["plan"])  # type: ignore[index]
        app = CyclerApp(lab, read_only=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen)
                           and app.screen.reads_shown >= 1)  # fmt: skip
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                           and app.screen.detail is not None)  # fmt: skip
            table = app.screen.query_one(PlanTable)
            assert table.row_count == len(detail.plan) and table.marked == 0
    finally:
        store.close()


@sync
async def test_the_frame_benchmark_times_every_phase_of_real_refreshes(tmp_path: Path) -> None:
    from bench.tui import frame_costs

    url = build_lab(tmp_path / "lab.db", 24)
    store = Store.open(url)
    try:
        times = await frame_costs(url, LabData(store, Config(), clock=lambda: NOW), 5)
    finally:
        store.close()
    phases = (times.fetch, times.handoff, times.apply, times.wait, times.paint, times.frame)
    assert all(len(phase) == 5 for phase in phases)
    assert all(value >= 0 for phase in phases for value in phase)
    for i in range(5):  # the phases are consecutive parts of the frame
        assert times.fetch[i] + times.apply[i] + times.paint[i] <= times.frame[i]


@sync
async def test_a_wait_that_cannot_end_fails_instead_of_hanging(tmp_path: Path) -> None:
    import pytest

    from bench.tui import BenchError, until

    def boom() -> None:
        raise RuntimeError("a handler raised")

    url = build_lab(tmp_path / "lab.db", 8)
    store = Store.open(url)
    try:
        app = CyclerApp(LabData(store, Config(), clock=lambda: NOW), read_only=True)
        with pytest.raises(RuntimeError, match="a handler raised"):  # run_test re-raises it
            async with app.run_test(size=(100, 30)):
                with pytest.raises(BenchError, match="never: not reached within 0 s"):
                    await until(app, lambda: False, "never", timeout=0.2)
                # an app that failed, as when a worker raised (what once left a full run
                # spinning for ever): the wait ends at once and says why
                app.call_later(boom)
                with pytest.raises(BenchError, match="a handler raised"):
                    await until(app, lambda: False, "the overview", timeout=60)
    finally:
        store.close()
