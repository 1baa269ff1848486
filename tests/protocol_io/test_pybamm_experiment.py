"""``--format pybamm``: the step strings, the Python source, and (when PyBaMM is installed)
the Experiment PyBaMM itself parses from them."""

from __future__ import annotations

import pytest

from cyclerctl.protocol.compiler import load_plan
from cyclerctl.protocol_io import ProtocolIOError, export_protocol
from cyclerctl.protocol_io.pybamm_experiment import build_experiment, experiment_steps


def test_cycling_becomes_pybamm_cycles() -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "3"})
    cycles = experiment_steps(plan)
    assert len(cycles) == 2 + 3
    assert cycles[0] == (
        "Charge at 0.019792034 mA for 54000 seconds or until 4.3 V",
        "Hold at 4.3 V for 54000 seconds or until 0.009896017 mA",
        "Rest for 600 seconds",
        "Discharge at 0.019792034 mA for 54000 seconds or until 3 V",
        "Rest for 600 seconds",
    )
    source = export_protocol(plan, "pybamm")
    assert isinstance(source, str) and "def experiment() -> pybamm.Experiment:" in source
    assert "] * 3," in source and "] * 2," in source


def test_what_pybamm_cannot_end_on_is_refused() -> None:
    with pytest.raises(ProtocolIOError, match="step 'strip': it ends on charge"):
        experiment_steps(load_plan("li-li-cycling", "li-qse-li"))


def test_pybamm_parses_the_experiment() -> None:
    pytest.importorskip("pybamm", reason="PyBaMM is the optional extra cyclerctl[pybamm]")
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "3"})
    namespace: dict[str, object] = {}
    exec(str(export_protocol(plan, "pybamm")), namespace)
    experiment = namespace["experiment"]()  # type: ignore[operator]
    assert len(experiment.cycles) == 5
    first = experiment.steps[0]
    assert first.value == pytest.approx(-0.019792034e-3)  # PyBaMM: negative current charges
    assert len(build_experiment(plan).steps) == len(experiment.steps) == 25
