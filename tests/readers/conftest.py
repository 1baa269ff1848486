"""Reader fixtures: the shared real files (read in place, skipped when absent) and a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cyclerctl.store import Store

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared(folder: str) -> Path:
    """``../shared/data/<folder>``, or skip the test saying it is absent."""
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"../shared/data/{folder} is not beside the repo")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'import.db'}")
    try:
        yield s
    finally:
        s.close()
