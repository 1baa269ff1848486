"""The web read model over the simulator-written lab: history search and paging, the run
page's parts (per-cycle table, impedance with frequencies, dQ/dV of the report's cycles)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.web import data as web_data
from cyclerctl.web.data import HistoryQuery, WebData


def test_history_search_and_pages(web_lab_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(web_lab_url) as store:
        lab = WebData(store, Config())
        every = lab.history(HistoryQuery())
        assert [h.run.protocol_name for h in every.rows] == [
            "ncm622-cycling", "floor-drill", "eis-conductivity"
        ]  # fmt: skip
        assert "running" not in {h.run.status for h in every.rows}  # finished runs only
        assert every.total == 3 and every.pages == 1
        safety = lab.history(HistoryQuery(end_reason="SAFETY"))
        assert [h.run.protocol_name for h in safety.rows] == ["floor-drill"]
        by_cell = lab.history(HistoryQuery(cell="coin", operator="ana"))
        assert {h.run.protocol_name for h in by_cell.rows} == {"ncm622-cycling", "floor-drill"}
        assert lab.history(HistoryQuery(protocol="eis", operator="ana")).total == 0
        assert lab.history(HistoryQuery(protocol="%")).total == 0  # LIKE wildcards escaped
        today = date.today()
        assert lab.history(HistoryQuery(date_from=today - timedelta(days=1))).total == 3
        assert lab.history(HistoryQuery(date_to=today - timedelta(days=2))).total == 0
        monkeypatch.setattr(web_data, "HISTORY_PAGE", 2)  # two runs a page
        first, second = lab.history(HistoryQuery()), lab.history(HistoryQuery(page=2))
        assert (first.pages, len(first.rows), len(second.rows)) == (2, 2, 1)
        assert second.rows[0].run.protocol_name == "eis-conductivity"
        assert lab.history(HistoryQuery(page=99)).page == 2  # past the end: the last page


def test_run_page_parts(web_lab_url: str) -> None:
    with Store.open(web_lab_url) as store:
        lab = WebData(store, Config())
        runs = {r.protocol_name: r.id for r in store.list_runs()}
        cycling = lab.run_page(runs["ncm622-cycling"])
        assert cycling is not None and not cycling.has_impedance
        assert [row["cycle"] for row in cycling.cycles] == [1, 2, 3, 4]
        assert 'name = "ncm622-cycling"' in cycling.protocol_text
        chosen = lab.chosen_cycles(runs["ncm622-cycling"])
        curves = lab.differential_capacity(runs["ncm622-cycling"], chosen)
        assert {c["half"] for c in curves} == {"charge", "discharge"}
        assert all(len(c["V"]) == len(c["dqdv"]) > 10 for c in curves)
        eis = lab.run_page(runs["eis-conductivity"])
        assert eis is not None and eis.has_impedance and eis.cycles == []
        z = lab.impedance(runs["eis-conductivity"])
        assert len(z["f"]) == len(z["Zre"]) > 10 and z["f"][0] > z["f"][-1]  # high f first
        safety = lab.run_page(runs["floor-drill"])
        assert safety is not None and safety.detail.alarm == "V<3.2 V"
        assert lab.run_page(10_000) is None
