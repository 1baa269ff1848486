"""Every library protocol end to end on the simulator: its result recovers the simulated
ground truth (the cell file's [sim] parameters), through the same CLI path a lab uses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.cli import main
from cyclerctl.resources import cells_dir

K_B_EV = 8.617333262e-5


def _run(
    capsys: pytest.CaptureFixture[str], tmp: Path, protocol: str, cell: str, *sets: str
) -> tuple[int, dict[str, Any]]:
    args = ["run", protocol, "--cell", cell, "--db", f"sqlite:///{tmp / 'runs.db'}", "--json"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out)


def _sigma(T_K: float, sigma_ref: float = 3e-4, T_ref: float = 303.15, Ea: float = 0.30) -> float:
    return sigma_ref * math.exp(-Ea / K_B_EV * (1 / T_K - 1 / T_ref))


def _cell_variant(tmp: Path, name: str, replace: dict[str, str], append: str = "") -> str:
    text = (cells_dir() / f"{name}.toml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / f"{name}-variant.toml"
    path.write_text(text + append)
    return str(path)


@pytest.mark.parametrize(
    ("protocol", "cell"),
    [
        ("eis-conductivity", "ss-qse-ss"),
        ("eis-arrhenius", "ss-qse-ss"),
        ("lsv-window", "li-qse-ss"),
        ("li-cu-ce", "li-qse-cu"),
        ("ccd-ramp", "li-qse-li"),
        ("li-li-cycling", "li-qse-li"),
        ("li-cu-nucleation", "li-qse-cu"),
        ("transference-bruce-vincent", "li-qse-li"),
        ("lco-rate", "lco-coin"),
        ("ncm622-cycling", "ncm622-coin"),
    ],
)
def test_validate_and_plan_pass(protocol: str, cell: str) -> None:
    assert main(["validate", protocol, "--cell", cell]) == 0
    assert main(["plan", protocol, "--cell", cell, "--json"]) == 0


def test_eis_conductivity_recovers_sigma(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the simulated SS|QSE|SS spectrum has no semicircle in 100 kHz..0.1 Hz (the bulk
    # relaxation is at ~50 MHz): R_b is the high-frequency end of an R + CPE line
    code, out = _run(capsys, in_tmp, "eis-conductivity", "ss-qse-ss")
    assert code == 0, out
    truth = _sigma(298.15)  # the cell sits at 25 °C without a chamber
    assert out["results"]["conductivity_S_cm"] == pytest.approx(truth, rel=0.02)
    area_cm2 = math.pi * 0.8**2
    assert out["results"]["bulk_resistance_ohm"] == pytest.approx(
        0.01 / (truth * area_cm2), rel=0.02
    )


@pytest.mark.slow
def test_eis_arrhenius_recovers_sigma_and_activation_energy(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "eis-arrhenius", "ss-qse-ss")
    assert code == 0, out
    results = out["results"]
    assert results["activation_energy_eV"] == pytest.approx(0.30, rel=0.05)
    table = results["conductivity_vs_temperature"]
    assert [round(r["temperature_C"]) for r in table] == [30, 40, 50, 60, 70, 80, 90]
    for row in table:
        assert row["conductivity_S_cm"] == pytest.approx(_sigma(row["temperature_K"]), rel=0.02)


def test_chamber_that_never_stabilises_times_out_with_a_reason(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = _cell_variant(
        in_tmp,
        "ss-qse-ss",
        {'time_constant = "10 min"': 'time_constant = "10 min"\noscillation = "1.5 K"'},
    )
    code, out = _run(capsys, in_tmp, "eis-arrhenius", cell, "timeout=2 h")
    assert code == 1
    assert out["run"]["status"] == "failed" and out["run"]["end_reason"] == "timeout:chamber"
    assert "activation_energy_eV" not in out["results"]


def test_lsv_window_finds_the_oxidation_onset(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "lsv-window", "li-qse-ss")
    assert code == 0, out
    assert out["results"]["oxidation_onset_V"] == pytest.approx(4.5, abs=0.020)


def test_li_cu_ce_recovers_the_coulombic_efficiency(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "li-cu-ce", "li-qse-cu")
    assert code == 0, out
    assert out["results"]["ce_avg"] == pytest.approx(0.98, abs=0.002)


def test_li_cu_ce_on_a_cell_that_shorts_ends_short_without_ce(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = _cell_variant(in_tmp, "li-qse-cu", {"seed = 501": 'seed = 501\nccd = "0.3 mA/cm^2"'})
    code, out = _run(capsys, in_tmp, "li-cu-ce", cell)
    assert code == 0
    assert out["run"]["end_reason"] == "short"
    assert out["results"].get("ce_avg") is None


def test_ccd_ramp_finds_the_critical_current_density(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "ccd-ramp", "li-qse-li")
    assert code == 0, out
    assert out["run"]["end_reason"] == "short"
    assert out["results"]["ccd_mA_cm2"] == pytest.approx(1.0)  # first ramp value ≥ ccd 1.0
    db = in_tmp / "runs.db"
    import sqlite3

    with sqlite3.connect(db) as con:
        shorts = con.execute("select t from events where kind = 'short'").fetchall()
    assert len(shorts) == 1 and shorts[0][0] > 0


def test_li_li_cycling_counts_cycles_and_overpotential(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "li-li-cycling", "li-qse-li", "cycles=20")
    assert code == 0, out
    results = out["results"]
    assert results["cycles_completed"] == 20
    assert results.get("short_at_h") is None
    # 0.5 mA/cm² through R_b·S (100 µm at σ(25 °C)) and 2 × 50 Ω·cm² of interfaces, at least
    ohmic_mV = 0.5e-3 * (0.01 / _sigma(298.15) + 2 * 50) * 1e3
    assert results["mean_overpotential_mV"] >= 0.9 * ohmic_mV


def test_li_li_cycling_above_the_ccd_shorts(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "li-li-cycling", "li-qse-li", "current_density=1.5 mA/cm^2")
    assert code == 0, out
    assert out["run"]["end_reason"] == "short"
    assert out["results"]["short_at_h"] > 0


def test_nucleation_overpotential(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, in_tmp, "li-cu-nucleation", "li-qse-cu")
    assert code == 0, out
    assert out["results"]["nucleation_overpotential_mV"] == pytest.approx(50.0, rel=0.10)


def test_bruce_vincent_transference_number(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "transference-bruce-vincent", "li-qse-li")
    assert code == 0, out
    assert out["results"]["transference_number"] == pytest.approx(0.4, abs=0.03)


@pytest.mark.slow
def test_lco_rate_capability_falls_with_rate_and_recovers(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "lco-rate", "lco-coin", "cycles_per_rate=2")
    assert code == 0, out
    table = out["results"]["rate_capability"]
    capacities = [row["discharge_mAh_g"] for row in table]
    assert [row["rate_C"] for row in table] == [0.1, 0.2, 0.5, 1, 2, 0.1]
    assert capacities[:5] == sorted(capacities[:5], reverse=True)
    assert capacities[0] == pytest.approx(140, rel=0.05)
    assert out["results"]["capacity_recovery"] == pytest.approx(1.0, abs=0.02)


def test_analyze_recomputes_the_stored_results(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "li-cu-nucleation", "li-qse-cu")
    assert code == 0
    assert (
        main(
            ["analyze", str(out["run"]["id"]), "--db", f"sqlite:///{in_tmp / 'runs.db'}", "--json"]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["results"] == out["results"]
