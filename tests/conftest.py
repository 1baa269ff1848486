"""Shared fixtures: every test works in its own temp dir; random sources are seeded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # a developer's own database or config must never leak into a test
    for name in ("CYCLERCTL_DB", "CYCLERCTL_CONFIG", "CYCLERCTL_OPERATOR"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--instrument",
        metavar="ADDRESS",
        default=None,
        help="a real instrument for the tests marked `hardware` (USB0, an IP, a VISA resource)",
    )
    parser.addoption(
        "--instrument-driver",
        metavar="DRIVER",
        default=None,
        help="which driver the --instrument is for (biologic, neware, scpi, chamber)",
    )


def pytest_report_header() -> str:
    shared = "present" if SHARED.is_dir() else "absent"
    return f"cyclerctl tests; repo {REPO}; shared data {shared}; pid {os.getpid()}"
