"""A real BioLogic unit (``pytest -m hardware --instrument USB0``): skipped without one.

Only an open-circuit rest is run: whatever cell is on channel 1, no current flows. Set
``CYCLERCTL_ECLIB`` to the folder of EClib64.dll (and its .ecc/kernel files) unless it is on
the DLL search path.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from cyclerctl.drivers.biologic import open_instrument
from cyclerctl.plan import EndCondition, Step

pytestmark = pytest.mark.hardware


def test_a_real_unit_connects_and_rests_a_channel(instrument_address: str) -> None:
    instrument = open_instrument(
        instrument_address, {"eclib_path": os.environ.get("CYCLERCTL_ECLIB")}
    )
    try:
        assert instrument.identity.vendor == "BioLogic"
        assert instrument.identity.model != "unknown"
        channel = instrument.channels[0]
        channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 10.0),)))
        blocks = []
        for _ in range(200):  # 0.25 s apart: the rest takes 10 s
            samples = channel.read()
            blocks.append(samples.points)
            if samples.ended:
                break
            time.sleep(0.25)
        assert samples.ended and samples.end_reason == "time"
        points = np.concatenate(blocks)
        assert 5 <= len(points) <= 20 and np.all(points["I"] == 0)
        assert points["t"][-1] == pytest.approx(10.0, abs=1.0)
    finally:
        instrument.close()
