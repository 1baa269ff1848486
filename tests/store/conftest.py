"""Store fixtures: a small plan, a migrated database per test, sample blocks.

``store_url`` (and ``store``, built on it) is parametrised over SQLite and PostgreSQL, so
each test that uses it runs on both: ``-k sqlite`` or ``-k postgresql`` picks one. The
PostgreSQL server is started once per session (per xdist worker; the ``postgres`` fixture
in tests/conftest.py) and every test gets an empty database (the worker's own, its schema
reset); without a server the PostgreSQL cases skip with the reason (or fail,
CYCLERCTL_TEST_POSTGRES=require).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from cyclerctl.plan import (
    CellSummary,
    EndCondition,
    Loop,
    Plan,
    RecordCriteria,
    SafetyLimit,
    Step,
    walk,
)
from cyclerctl.plan import Ref as PlanRef
from cyclerctl.store import SAMPLE_ROW_DTYPE, RunInfo, Store

# what drivers.base.Identity.as_dict() gives (drivers/ is not importable by mypy from here)
INSTRUMENT = {
    "driver": "sim",
    "vendor": "cyclerctl",
    "model": "sim-8ch",
    "serial": "SIM-0001",
    "firmware": "0.1.0",
}


@pytest.fixture
def plan() -> Plan:
    charge = Step(
        index=0,
        name="charge",
        kind="cc",
        current_A=PlanRef("j", 1e-4),
        ends=(EndCondition("voltage_above", 4.2), EndCondition("time", 3600.0)),
    )
    rest = Step(index=1, name="rest", kind="rest", ends=(EndCondition("time", 600.0),))
    body = (Loop(name="ramp", count=2, body=(charge, rest), variable="j", values=(1.0, 2.0)),)
    cell = CellSummary(
        name="NCM622-coin-01",
        chemistry="NCM622",
        area_m2=1.54e-4,
        nominal_capacity_Ah=3.0e-3,
        sim={"R0_ohm": 0.02},
        source="library:ncm622",
    )
    return Plan(
        protocol_name="ncm622-cycling",
        description="test plan",
        protocol_text='name = "ncm622-cycling"\n',
        protocol_sha256="a" * 64,
        protocol_source="library:ncm622-cycling",
        parameters={"cycles": 2, "rate": "0.1 C"},
        cell=cell,
        cell_text='name = "NCM622-coin-01"\n',
        safety=(SafetyLimit("voltage_max", 4.4),),
        record=RecordCriteria(every_s=1.0),
        body=body,
        steps=tuple(walk(body)),
        analysis={"kind": "cycling"},
        estimated_duration_s=8400.0,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(db_url: str) -> Iterator[Store]:
    """For what only SQLite has (pragmas, WITHOUT ROWID)."""
    opened = Store.open(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def new_run(store: Store, plan: Plan) -> Callable[..., RunInfo]:
    def create(channel: str = "ch1", **options: Any) -> RunInfo:
        return store.create_run(
            plan, operator="tester", instrument=INSTRUMENT, channel=channel, **options
        )

    return create


def sample_block(first_seq: int, count: int, *, seed: int = 0, step: int = 1) -> NDArray[np.void]:
    """``count`` plausible points with seqs first_seq.., 10 Hz, T unknown on every 7th."""
    rng = np.random.default_rng(seed)
    block = np.zeros(count, dtype=SAMPLE_ROW_DTYPE)
    block["seq"] = np.arange(first_seq, first_seq + count)
    block["t"] = (block["seq"] - 1) * 0.1
    block["V"] = 3.7 + rng.normal(0.0, 1e-3, count)
    block["I"] = 1e-4
    block["Q"] = block["t"] * 1e-4
    block["T"] = 298.15 + rng.normal(0.0, 0.1, count)
    block["T"][::7] = np.nan
    block["step"] = step
    block["cycle"] = 1
    return block
