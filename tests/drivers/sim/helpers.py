"""Cells, steps and a step runner shared by the simulator tests."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from cyclerctl.drivers.base import Channel, Samples, StepProgress
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.plan import (
    CellSummary,
    ConditionKind,
    EisSettings,
    EndCondition,
    Step,
    StepKind,
    SweepSettings,
)

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


# -- cells and steps for the EIS, sweep and chamber tests ----------------------------------

SS_AREA_M2 = math.pi * 0.008**2  # 16 mm stainless-steel disks
MEMBRANE_M = 100e-6
LI_SS_AREA_M2 = math.pi * 0.006**2  # 12 mm


def blocking_cell(**sim: Any) -> CellSummary:
    """The lab's SS|QSE|SS conductivity cell; ``sim`` adds to / overrides its [sim] table."""
    return CellSummary(
        name="SS|QSE|SS 16 mm, 100 um membrane",
        chemistry="SS|QSE|SS",
        area_m2=SS_AREA_M2,
        nominal_capacity_Ah=None,
        thickness_m=MEMBRANE_M,
        sim={"model": "blocking", "seed": 301, **sim},
    )


def li_ss_cell(**sim: Any) -> CellSummary:
    """The lab's Li|QSE|SS cell for the stability window."""
    return CellSummary(
        name="Li|QSE|SS 12 mm, 100 um membrane",
        chemistry="Li|QSE|SS",
        area_m2=LI_SS_AREA_M2,
        nominal_capacity_Ah=None,
        thickness_m=MEMBRANE_M,
        sim={"model": "li-ss", "seed": 601, **sim},
    )


def eis_step(
    f_start_Hz: float = 1e5,
    f_stop_Hz: float = 0.1,
    *,
    points_per_decade: int = 10,
    averages: int = 1,
    bias_V: float | None = None,
    mode: Literal["potentiostatic", "galvanostatic"] = "potentiostatic",
    amplitude: float = 0.01,
    ends: tuple[EndCondition, ...] = (),
) -> Step:
    settings = EisSettings(
        mode, f_start_Hz, f_stop_Hz, amplitude, points_per_decade, averages, bias_V
    )
    return Step(0, "eis", "eis", ends=ends, eis=settings)


def sweep_step(
    scan_rate_V_s: float,
    *vertices_V: float,
    start_V: float | None = None,
    cycles: int = 1,
    ends: tuple[EndCondition, ...] = (),
) -> Step:
    settings = SweepSettings(scan_rate_V_s, vertices_V, start_V, cycles)
    return Step(0, "sweep", "sweep", ends=ends, sweep=settings)


def run_eis(ch: Channel, s: Step) -> tuple[np.ndarray, np.ndarray, Samples, int]:
    """Start ``s`` and read until it ends: points, impedance points, last status, reads."""
    ch.start_step(s)
    blocks, spectra = [], []
    for reads in range(1, 100_000):
        samples = ch.read()
        blocks.append(samples.points)
        assert samples.impedance is not None
        spectra.append(samples.impedance)
        if samples.ended:
            return np.concatenate(blocks), np.concatenate(spectra), samples, reads
    raise AssertionError("the step never ended")
