"""Web view (issue 19): 256 channels and a 1 M-point run, in a real SQLite file, served by
uvicorn on 127.0.0.1 and read by headless Chromium (the OS package, under Playwright).

Figures, each beside its same-run baseline:

- overview first paint: navigation start → first contentful paint of ``/`` with every
  channel's row (the browser's own Paint Timing entry), and the server's answer time for
  the page; baseline: the raw status query (``Store.channel_status``);
- live update: a channel_latest row rewritten with a value never seen before, committed,
  and the time from that commit until the open page shows it (p50 / max of N);
- a 1 M-point run's plot data (``/api/runs/N/plot``, min/max per pixel column): bytes sent
  (uncompressed JSON) and time to serve it cold (each request a new width: no cache);
  baseline: the raw samples fetch (plain ``sqlite3`` fetchall of t, V, I of the run).

Without Chromium the browser figures say "skipped" and the server-side ones still run.

    python -m bench.web [--quick]
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import update

from bench.export import synthesise
from bench.machine import Rows, standalone
from bench.tui import build_lab
from cyclerctl.config import Config
from cyclerctl.store import Store, models

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Server:
    def __init__(self, url: str) -> None:
        import socket

        import uvicorn

        from cyclerctl.web.server import open_app

        self.app = open_app(Config(), url)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="error", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def get(self, path: str) -> tuple[bytes, float]:
        start = time.perf_counter()
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            body = answer.read()
        return body, time.perf_counter() - start

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.store.close()


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def overview_rows(channels: int, updates: int) -> Rows:
    rows: Rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = build_lab(Path(tmp) / "lab.db", channels)
        store = Store.open(url)
        raw = []
        for _ in range(20):
            start = time.perf_counter()
            store.channel_status()
            raw.append(time.perf_counter() - start)
        server = Server(url)
        try:
            answers = [server.get("/")[1] for _ in range(5)]
            rows.append(
                (
                    f"web overview {channels} channels: GET / (server, p50)",
                    _ms(statistics.median(answers)),
                )
            )
            rows.append(
                (
                    "web baseline: raw status query (Store.channel_status, p50)",
                    _ms(statistics.median(raw)),
                )
            )
            try:
                rows += _browser_rows(server, store, channels, updates)
            except Exception as exc:  # the browser's figures fail alone, with the reason
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                rows.append(("web overview first paint / live update", f"FAILED: {reason}"))
        finally:
            server.close()
            store.close()
    return rows


def _browser_rows(server: Server, store: Store, channels: int, updates: int) -> Rows:
    if not CHROMIUM.exists():
        return [("web overview first paint / live update", "skipped: no /usr/bin/chromium")]
    from playwright.sync_api import sync_playwright

    rows: Rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            paints = []
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.base + "/", wait_until="load")
                page.wait_for_function(
                    "performance.getEntriesByName('first-contentful-paint').length > 0"
                )
                fcp = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                )
                assert page.locator("#overview tbody tr").count() == channels
                paints.append(float(fcp) / 1e3)
                page.close()
            rows.append(
                (
                    f"web overview first paint, {channels} rows (Chromium FCP, best/worst)",
                    f"{_ms(min(paints))} / {_ms(max(paints))} (target <= 1000 ms)",
                )
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.base + "/")
            page.wait_for_selector("#live.on")
            lags = []
            latest = models.channel_latest
            for k in range(updates):
                channel = f"cyc{k % (channels // 8) + 1}:{k % 8 + 1}"
                value = 1.0 + k * 0.0001 + 0.00005
                shown = f"{value:.4f}"
                with store.engine.begin() as connection:
                    connection.execute(
                        update(latest).where(latest.c.channel == channel).values(V=value)
                    )
                committed = time.perf_counter()
                selector = f"#ch-{channel.replace(':', chr(92) * 2 + ':')} td[data-col=V]"
                page.wait_for_function(
                    f"() => document.querySelector('{selector}')?.textContent === '{shown}'",
                    timeout=10_000,
                    polling="raf",
                )
                lags.append(time.perf_counter() - committed)
            rows.append(
                (
                    f"web live update, commit -> on the page (p50 / max of {updates})",
                    f"{_ms(statistics.median(lags))} / {_ms(max(lags))} (target <= 1500 ms)",
                )
            )
        finally:
            browser.close()
    return rows


def plot_rows(points: int) -> Rows:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "long.db"
        run_id, _ = synthesise(db, points)
        raw = []
        for _ in range(3):
            start = time.perf_counter()
            connection = sqlite3.connect(db)
            connection.execute(
                "SELECT t, V, I FROM samples WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
            connection.close()
            raw.append(time.perf_counter() - start)
        server = Server(f"sqlite:///{db}")
        try:
            sizes, times = [], []
            for width in (1200, 1201, 1202):  # a new width each time: never the cache
                body, seconds = server.get(f"/api/runs/{run_id}/plot?width={width}")
                sizes.append(len(body))
                times.append(seconds)
            page, page_s = server.get(f"/runs/{run_id}")
        finally:
            server.close()
    n = f"{points:,}"
    return [
        (
            f"web {n}-point run: plot data bytes (1200 px)",
            f"{max(sizes) / 1e3:.0f} KB (target <= 300 KB)",
        ),
        (
            f"web {n}-point run: plot data served, cold (best / worst of 3)",
            f"{_ms(min(times))} / {_ms(max(times))} (target <= 500 ms)",
        ),
        (f"web {n}-point run: run page HTML", f"{len(page) / 1e3:.0f} KB in {_ms(page_s)}"),
        (f"web baseline: raw sqlite3 fetch of t, V, I ({n} rows, best of 3)", _ms(min(raw))),
    ]


def measure(quick: bool) -> Rows:
    channels = 32 if quick else 256
    rows = overview_rows(channels, 5 if quick else 20)
    rows += plot_rows(100_000 if quick else 1_000_000)
    return rows


SUBPROCESS_TIMEOUT_S = {True: 240.0, False: 900.0}


def table(quick: bool) -> Rows:
    """For ``python -m bench``: this benchmark in its own process (a server thread, a
    browser), bounded in time; its rows, or why there are none."""
    command = [sys.executable, "-m", "bench.web", "--rows", *(["--quick"] if quick else [])]
    limit = SUBPROCESS_TIMEOUT_S[quick]
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return [("web view", f"TIMED OUT after {limit:.0f} s")]
    found = [line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line]
    if done.returncode != 0 or not found:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        return [("web view", f"FAILED (exit {done.returncode}): {last[0]}")]
    return [(name, value) for name, value in found]


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if "--rows" in argv:  # figure<TAB>value lines, for python -m bench
        for name, value in measure("--quick" in argv):
            print(f"{name}\t{value}")
        return
    standalone("python -m bench.web", "32 channels, a 100 000-point run", measure, argv)


if __name__ == "__main__":
    main()
