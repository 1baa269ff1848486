"""Plot data of a long run: min/max per pixel column keeps every spike, stays small
whatever the run's length, and a zoom reads the finer range (raw points when few)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bench.export import synthesise
from cyclerctl.store import Store
from cyclerctl.web.downsample import PlotReader


def test_minmax_keeps_a_spike_and_a_zoom_gets_the_raw_points(tmp_path: Path) -> None:
    db = tmp_path / "long.db"
    run_id, _ = synthesise(db, 200_000)
    with sqlite3.connect(db) as connection:  # one sample far above the rest, mid-run
        connection.execute(
            "UPDATE samples SET V = 9.5 WHERE run_id = ? AND seq = 123457", (run_id,)
        )
        t_spike = connection.execute(
            "SELECT t FROM samples WHERE run_id = ? AND seq = 123457", (run_id,)
        ).fetchone()[0]
        n_raw = connection.execute(
            "SELECT count(*) FROM samples WHERE run_id = ? AND t BETWEEN ? AND ?",
            (run_id, t_spike - 50, t_spike + 50),
        ).fetchone()[0]
    with Store.open(f"sqlite:///{db}") as store:
        reader = PlotReader(store)
        whole = reader.plot(run_id, width=500, finished=True)
        assert whole.total_points == 200_000 and whole.points_in_range == 200_000
        assert len(whole.t) <= 1000 and max(whole.V) == 9.5  # a 1-in-200 000 spike is drawn
        assert whole.t == sorted(whole.t)
        assert len(whole.as_json()) < 300_000
        json.loads(whole.as_json())
        assert reader.plot(run_id, width=500, finished=True) is whole  # a finished run: cached
        zoom = reader.plot(run_id, t0=t_spike - 50, t1=t_spike + 50, width=500)
        assert zoom.method == "raw" and len(zoom.t) == n_raw
        assert 9.5 in zoom.V and min(zoom.t) >= t_spike - 50 and max(zoom.t) <= t_spike + 50
        assert reader.plot(run_id, t0=1e12, t1=2e12).t == []
