"""Every library protocol through every driver that can run it, against its emulator,
gives the in-process simulator's result within the noise (virtual time throughout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.cli import main
from cyclerctl.engine.compat import misfits
from cyclerctl.instruments import Connection, open_setup
from cyclerctl.protocol import load_plan

# protocol, cell, overrides (shortened where the full run adds nothing), {result: tolerance}
CASES: list[tuple[str, str, list[str], dict[str, tuple[str, float]]]] = [
    ("eis-conductivity", "ss-qse-ss", [], {"conductivity_S_cm": ("rel", 0.01)}),
    ("lsv-window", "li-qse-ss", [], {"oxidation_onset_V": ("abs", 0.005)}),
    ("li-cu-ce", "li-qse-cu", ["cycles=3"], {"ce_avg": ("abs", 0.002)}),
    ("ccd-ramp", "li-qse-li", ["max=1.2 mA/cm^2"], {"ccd_mA_cm2": ("abs", 1e-9)}),
    (
        "li-li-cycling",
        "li-qse-li",
        ["cycles=5"],
        {"cycles_completed": ("abs", 0), "mean_overpotential_mV": ("rel", 0.02)},
    ),
    ("li-cu-nucleation", "li-qse-cu", [], {"nucleation_overpotential_mV": ("rel", 0.05)}),
    ("transference-bruce-vincent", "li-qse-li", [], {"transference_number": ("abs", 0.01)}),
    (
        "ncm622-cycling",
        "ncm622-coin",
        ["cycles=2", "formation_cycles=1"],
        {"first_discharge_capacity_mAh_g": ("rel", 0.01), "mean_ce": ("abs", 0.002)},
    ),
    (
        "lco-rate",
        "lco-coin",
        ["cycles_per_rate=1", "rates=0.5C, 2C"],
        {"discharge_mAh_g_0p5C": ("rel", 0.01), "discharge_mAh_g_2C": ("rel", 0.01)},
    ),
]
DRIVERS = ["biologic", "neware", "scpi"]


def _can_run(driver: str, protocol: str, cell: str, sets: list[str]) -> bool:
    plan = load_plan(protocol, cell, dict(s.split("=", 1) for s in sets))
    setup, channel = open_setup(
        plan, Connection(driver=driver, address="emulated", virtual_time=True)
    )
    try:
        return not misfits(plan, channel.capabilities, channel.name)
    finally:
        setup.close()


def _run(
    capsys: pytest.CaptureFixture[str],
    tmp: Path,
    driver: str,
    protocol: str,
    cell: str,
    sets: list[str],
) -> dict[str, Any]:
    args = [
        "run",
        protocol,
        "--cell",
        cell,
        "--db",
        f"sqlite:///{tmp / f'{driver}.db'}",
        "--json",
        "--driver",
        driver,
    ]
    if driver != "sim":
        args += ["--address", "emulated", "--virtual-time"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0, out["run"]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("protocol", "cell", "sets", "checks"), CASES, ids=[c[0] for c in CASES])
def test_protocol_through_driver_matches_the_simulator(
    driver: str,
    protocol: str,
    cell: str,
    sets: list[str],
    checks: dict[str, tuple[str, float]],
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not _can_run(driver, protocol, cell, sets):
        pytest.skip(f"{driver} cannot run {protocol} (e.g. no EIS or sweeps on that instrument)")
    reference = _run(capsys, in_tmp, "sim", protocol, cell, sets)["results"]
    got = _run(capsys, in_tmp, driver, protocol, cell, sets)["results"]
    for name, (kind, tolerance) in checks.items():
        assert name in got, f"{name} missing from {sorted(got)}"
        if kind == "rel":
            assert got[name] == pytest.approx(reference[name], rel=tolerance), name
        else:
            assert got[name] == pytest.approx(reference[name], abs=tolerance), name
