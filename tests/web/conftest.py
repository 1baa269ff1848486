"""A lab database written by the real simulator (through the CLI, in subprocesses: the web
view never imports the engine), a live server on 127.0.0.1, and a headless Chromium.

Runs in the lab: sim:1 a 2-cycle NCM622 cycling run (per-cycle table, dQ/dV), sim:2 an EIS
run, sim:3 a run that really ended on a safety limit (the TUI's floor drill), sim:4 a run
going on now (a fixed status row).
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.config import Config
from tests.support.chromium import ARGS, BrowserUnavailable, ensure_chromium, mode
from tests.tui.conftest import add_running_run, move_channel, run_cli
from tests.tui.test_safety_stop import FLOOR_PROTOCOL

if importlib.util.find_spec("starlette") is None:  # the `web` extra; `.[test]` has it
    pytest.skip(
        "the web extra is not installed (pip install -e '.[test]')", allow_module_level=True
    )


def build_lab(folder: Path) -> str:
    url = f"sqlite:///{folder / 'runs.db'}"
    run_cli(
        "run", "eis-conductivity", "--cell", "ss-qse-ss", "--db", url, "--operator", "ben", "-q"
    )
    move_channel(url, "sim:1", "sim:2")
    (folder / "floor.toml").write_text(FLOOR_PROTOCOL, encoding="utf-8")
    with contextlib.suppress(
        subprocess.CalledProcessError
    ):  # exit 1: the run ended on its safety limit
        run_cli(
            "run",
            str(folder / "floor.toml"),
            "--cell",
            "ncm622-coin",
            "--db",
            url,
            "--operator",
            "ana",
            "-q",
        )
    move_channel(url, "sim:1", "sim:3")
    run_cli(
        "run",
        "ncm622-cycling",
        "--cell",
        "ncm622-coin",
        "--set",
        "cycles=2",
        "--db",
        url,
        "--operator",
        "ana",
        "-q",
    )
    add_running_run(url, "sim:4")
    return url


@pytest.fixture(scope="session")
def web_lab_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weblab")
    build_lab(folder)
    return folder


@pytest.fixture
def web_lab(web_lab_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "lab"
    shutil.copytree(web_lab_template, target)
    return target


@pytest.fixture
def web_lab_url(web_lab: Path) -> str:
    return f"sqlite:///{web_lab / 'runs.db'}"


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture
def live_server(web_lab_url: str) -> Iterator[LiveServer]:
    from cyclerctl.web.server import open_app

    app = open_app(Config(), web_lab_url, poll_s=0.1)
    try:
        with LiveServer(app) as server:
            yield server
    finally:
        app.state.store.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (the OS package) under Playwright, for the session."""
    if mode() == "off":
        pytest.skip("browser tests are off (CYCLERCTL_TEST_BROWSER=off)")
    try:
        executable = ensure_chromium()
    except BrowserUnavailable as exc:
        if mode() == "require":
            pytest.fail(f"Chromium required (CYCLERCTL_TEST_BROWSER=require): {exc}")
        pytest.skip(f"Chromium: {exc}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=list(ARGS))
        try:
            yield browser
        finally:
            browser.close()
