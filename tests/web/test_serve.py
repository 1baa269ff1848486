"""``python -m cyclerctl.web`` (what ``cyclerctl web`` runs) end to end: it serves the lab
on 127.0.0.1, refuses a network address without auth before binding anything, refuses a
password on --db, and hashes a password for the config."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cyclerctl.web.auth import verify_password


def web(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cyclerctl.web", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serves_the_lab_on_loopback(web_lab_url: str) -> None:
    port = free_port()
    command = [sys.executable, "-m", "cyclerctl.web", "--db", web_lab_url]
    command += ["--listen", f"127.0.0.1:{port}"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    page = answer.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert "Lab overview" in page and 'id="ch-sim:3"' in page
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "http://127.0.0.1:" in err and "read-only" in err


def test_refusals_exit_2(web_lab_url: str, tmp_path: Path) -> None:
    exposed = web("--db", web_lab_url, "--listen", "0.0.0.0:8765")
    assert exposed.returncode == 2 and "refused" in exposed.stderr
    bad = web("--db", web_lab_url, "--listen", "localhost:99999")
    assert bad.returncode == 2 and "port" in bad.stderr
    leaked = web("--db", "postgresql://ana:secret@db/lab")
    assert leaked.returncode == 2 and "secret" not in leaked.stderr and "***" in leaked.stderr
    config = tmp_path / "lab.toml"
    config.write_text('[web]\nlisten = "0.0.0.0:1"\n')
    assert web("--config", str(config), "--db", web_lab_url).returncode == 2


def test_hash_password() -> None:
    done = web("--hash-password", stdin="correct horse\n")
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert verify_password("correct horse", hashed) and "correct horse" not in hashed
