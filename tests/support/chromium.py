"""Headless Chromium for the browser tests: the Debian package ``chromium``, installed by
the test session itself when missing (root on Debian/Ubuntu, as CI is), never a browser
download (``playwright install`` is not used: Playwright drives the OS package through
``executable_path``).

``CYCLERCTL_TEST_BROWSER``: ``auto`` (skip without a browser), ``require`` (fail), ``off``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: a quiet, sandbox-free headless browser that makes no network calls of its own
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class BrowserUnavailable(RuntimeError):
    """No Chromium could be found or installed; the message says why."""


def mode() -> str:
    value = os.environ.get("CYCLERCTL_TEST_BROWSER", "auto").strip().lower() or "auto"
    if value not in ("auto", "require", "off"):
        raise ValueError(f"CYCLERCTL_TEST_BROWSER must be auto, require or off, not {value!r}")
    return value


def find_chromium() -> Path | None:
    for candidate in CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def ensure_chromium() -> Path:
    """The browser's path, apt-installing ``chromium`` first if needed (one process at a
    time under xdist: the others wait on the lock and then find it)."""
    found = find_chromium()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BrowserUnavailable(
            "chromium not found, and this is not root on a Debian-like system where it could "
            "be installed (apt-get install chromium)"
        )
    lock_path = Path(tempfile.gettempdir()) / "cyclerctl-chromium-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_chromium()
        if found is not None:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise BrowserUnavailable(f"{' '.join(command)} failed: {' | '.join(tail)}")
    found = find_chromium()
    if found is None:
        raise BrowserUnavailable("apt-get installed chromium but no browser is at /usr/bin")
    return found
