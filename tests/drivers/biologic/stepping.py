"""Running one step on a BioLogic channel to its end, for the driver tests."""

from __future__ import annotations

import numpy as np

from cyclerctl.drivers.biologic.driver import BioLogicChannel
from cyclerctl.plan import Step


def run_step(channel: BioLogicChannel, step: Step) -> tuple[np.ndarray, np.ndarray | None]:
    """The step's points, and its impedance points (None: none), read until it ends."""
    channel.start_step(step)
    points, impedance = [], []
    for _ in range(10_000):
        samples = channel.read()
        points.append(samples.points)
        if samples.impedance is not None:
            impedance.append(samples.impedance)
        if samples.ended:
            break
    return np.concatenate(points), np.concatenate(impedance) if impedance else None
