"""BioLogic tests: the emulated EClib by default; ``--instrument ADDRESS`` for a real unit.

The option itself is registered by ``pytest_addoption`` in the top-level
``tests/conftest.py`` (pytest only calls that hook in initial conftests); the fixture here
reads it with a default, so these tests also run where it is not registered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cyclerctl.drivers.biologic import EClib, EmulatedEClib
from cyclerctl.protocol import load_cell


@pytest.fixture
def library() -> EmulatedEClib:
    """An emulated VMP3 with one NCM622 coin cell, virtual time, a fixed seed."""
    return EmulatedEClib([load_cell("ncm622-coin")], seed=3)


@pytest.fixture
def eclib(library: EmulatedEClib) -> EClib:
    return EClib(library)


@pytest.fixture
def instrument_address(request: pytest.FixtureRequest) -> Iterator[str]:
    """The address of a real BioLogic unit (``--instrument``); the test is skipped without."""
    address = request.config.getoption("--instrument", default=None)
    if not address:
        pytest.skip("needs a BioLogic unit: pytest --instrument USB0 (or its IP address)")
    driver = request.config.getoption("--instrument-driver", default=None)
    if driver not in (None, "biologic"):
        pytest.skip(f"--instrument is a {driver} instrument, not a BioLogic unit")
    yield str(address)
