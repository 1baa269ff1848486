"""Cells, steps and a step runner shared by the simulator tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cyclerctl.drivers.base import Channel, Samples, StepProgress
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.plan import CellSummary, ConditionKind, EndCondition, Step, StepKind

DISK_AREA_M2 = math.pi * 0.006**2  # a 12 mm cathode disk
LOADING_KG_M2 = 1e-6 / 1e-4  # 1 mg/cm²
SPECIFIC_CAPACITY_AH_KG = 175.0  # 175 mAh/g
ACTIVE_MASS_KG = LOADING_KG_M2 * DISK_AREA_M2
Q0_C = ACTIVE_MASS_KG * SPECIFIC_CAPACITY_AH_KG * 3600.0
I_1C_A = Q0_C / 3600.0
QUIET = {"noise": 0, "current_noise": 0}


def coin_cell(**sim: Any) -> CellSummary:
    """The lab's thin NCM622 coin half-cell; ``sim`` adds to / overrides its [sim] table."""
    return CellSummary(
        name="NCM622 coin 12 mm, 1 mg/cm2",
        chemistry="NCM622|Li",
        area_m2=DISK_AREA_M2,
        nominal_capacity_Ah=None,
        active_mass_kg=ACTIVE_MASS_KG,
        specific_capacity_Ah_kg=SPECIFIC_CAPACITY_AH_KG,
        sim={"model": "ncm622-li", "seed": 622, **sim},
    )


def channel(cell: CellSummary | None = None, **options: Any) -> Channel:
    return SimInstrument([cell or coin_cell()], **options).channels[0]


def until(**conditions: float) -> tuple[EndCondition, ...]:
    kinds: dict[str, ConditionKind] = {
        "voltage_above": "voltage_above",
        "voltage_below": "voltage_below",
        "current_below": "current_below",
        "time": "time",
        "charge": "charge",
        "dvdt_below": "dvdt_below",
        "short": "short",
    }
    return tuple(EndCondition(kinds[kind], value) for kind, value in conditions.items())


def step(
    kind: StepKind,
    *,
    ends: tuple[EndCondition, ...] = (),
    current_A: float | None = None,
    voltage_V: float | None = None,
    name: str | None = None,
) -> Step:
    return Step(0, name or kind, kind, ends=ends, current_A=current_A, voltage_V=voltage_V)


def cccv_charge(rate: float = 1.0, cutoff_rate: float = 1 / 20) -> Step:
    return step(
        "cccv",
        current_A=rate * I_1C_A,
        voltage_V=4.3,
        ends=until(current_below=cutoff_rate * I_1C_A, time=20 * 3600.0),
    )


def cc_discharge(rate: float = 1.0, to_V: float = 3.0) -> Step:
    return step("cc", current_A=-rate * I_1C_A, ends=until(voltage_below=to_V, time=20 * 3600.0))


def rest(seconds: float = 600.0) -> Step:
    return step("rest", ends=until(time=seconds))


def run(ch: Channel, s: Step, progress: StepProgress | None = None) -> tuple[np.ndarray, Samples]:
    """Start ``s`` and read until it ends; all points and the last read's status."""
    ch.start_step(s, progress)
    blocks = []
    for _ in range(100_000):
        samples = ch.read()
        blocks.append(samples.points)
        if samples.ended:
            return np.concatenate(blocks), samples
    raise AssertionError("the step never ended")
