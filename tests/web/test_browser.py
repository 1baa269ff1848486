"""The web view in a real browser (headless Chromium, the OS package, under Playwright):
the overview follows a simulator writing into the store while the page is open, a run page
draws its plots, a safety stop is unmistakable; screenshots of each page at desktop and
phone widths (kept in $CYCLERCTL_SCREENSHOTS when set, else in the test's tmp dir)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.store import Store
from tests.web.conftest import LiveServer

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
WAIT_MS = 30_000


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CYCLERCTL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield tab
    context.close()
    assert not errors, f"the page logged errors: {errors}"


def shoot(page: Any, url: str, name: str, ready: str, shots: Path) -> None:
    """A full-page screenshot of ``url`` at each width, loaded at that width."""
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.goto(url)
        page.wait_for_selector(ready, timeout=WAIT_MS)
        page.wait_for_timeout(600)  # plotly lays out again once the fonts are in
        page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _runs(url: str) -> dict[str, int]:
    """channel → id of its latest run"""
    with Store.open(url) as store:
        return {run.channel: run.id for run in sorted(store.list_runs(), key=lambda r: r.id)}


def test_overview_follows_a_simulated_run_without_reload(
    live_server: LiveServer, page: Any, web_lab_url: str, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_selector("#live.on", timeout=WAIT_MS)
    assert page.locator("#ch-sim\\:4 td[data-col=V]").inner_text() == "-0.0123"
    # the simulator runs on sim:5, in real time × 600, writing into the database now
    database = tmp_path / "lab" / "runs.db"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cyclerctl",
            "run",
            "li-cu-ce",
            "--cell",
            "li-qse-cu",
            "--set",
            "cycles=20",
            "--db",
            f"sqlite:///{database}",
            "--channel",
            "1",
            "--speed",
            "600",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        cell = page.locator("#ch-sim\\:1 td[data-col=V]")
        first = cell.inner_text()
        # the new run's row replaces sim:1's finished cycling run, then its V moves on
        page.wait_for_function(
            "(before) => { const td = document.querySelector('#ch-sim\\\\:1 td[data-col=V]');"
            " const tr = td && td.parentElement;"
            " return tr && tr.dataset.state === 'running' && td.textContent !== before; }",
            arg=first,
            timeout=WAIT_MS,
        )
        seen = cell.inner_text()
        page.wait_for_function(
            "(before) => document.querySelector('#ch-sim\\\\:1 td[data-col=V]').textContent"
            " !== before",
            arg=seen,
            timeout=WAIT_MS,
        )
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    finally:
        sim.terminate()
        sim.wait(30)


def test_run_pages_draw_their_plots(
    live_server: LiveServer, page: Any, web_lab_url: str, shots: Path
) -> None:
    runs = _runs(web_lab_url)
    cycling, eis = runs["sim:1"], runs["sim:2"]
    page.goto(f"{live_server.url}/runs/{cycling}")
    page.wait_for_selector("#plot-vi[data-points]", timeout=WAIT_MS)
    assert int(page.get_attribute("#plot-vi", "data-points")) > 100
    lines = page.eval_on_selector_all(
        "#plot-vi .scatterlayer .trace path.js-line", "ps => ps.map(p => p.getAttribute('d'))"
    )
    assert len(lines) == 2 and all(len(d) > 200 for d in lines)  # V and I, each a long path
    page.wait_for_selector("#plot-cycles .scatterlayer .trace", timeout=WAIT_MS)
    page.wait_for_selector("#plot-dqdv .scatterlayer .trace path.js-line", timeout=WAIT_MS)
    shoot(page, f"{live_server.url}/runs/{cycling}", "run-cycling",
          "#plot-dqdv .scatterlayer .trace path.js-line", shots)  # fmt: skip
    page.goto(f"{live_server.url}/runs/{eis}")
    page.wait_for_selector("#plot-nyquist[data-points]", timeout=WAIT_MS)
    points = page.eval_on_selector_all("#plot-nyquist .scatterlayer .point", "ps => ps.length")
    assert points > 10
    shoot(
        page, f"{live_server.url}/runs/{eis}", "run-eis", "#plot-bode .scatterlayer .trace", shots
    )


def test_a_safety_stop_is_unmistakable(
    live_server: LiveServer, page: Any, web_lab_url: str, shots: Path
) -> None:
    page.goto(live_server.url + "/")
    row = page.locator("#ch-sim\\:3")
    row.wait_for(timeout=WAIT_MS)
    assert row.get_attribute("class") == "state-safety-stop"
    assert "safety stop (V<3.2 V)" in row.locator("td[data-col=state]").inner_text()
    color = row.locator("td[data-col=state]").evaluate("td => getComputedStyle(td).color")
    assert color == "rgb(207, 34, 46)"  # the alarm red
    shoot(page, live_server.url + "/", "overview", "#live.on", shots)
    page.goto(f"{live_server.url}/runs/{_runs(web_lab_url)['sim:3']}")
    banner = page.locator("#safety")
    assert banner.is_visible()
    assert "SAFETY STOP: V<3.2 V" in banner.inner_text()
    assert page.locator("#events tr.event-safety").count() >= 1
    shoot(page, page.url, "run-safety", "#plot-vi[data-points]", shots)
    shoot(page, live_server.url + "/history", "history", "table.history", shots)
