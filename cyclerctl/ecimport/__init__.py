"""`cyclerctl import FILE.mpr|FILE.mpt --cell …`: EC-Lab (BioLogic) data as a run.

``.mpr`` is read with galvani (GPL-3.0, imported only here and only for ``.mpr``); ``.mpt``
with our own reader. The points become a completed run whose protocol is
``import:<technique>`` (the file's text as protocol text for ``.mpt``), so ``analyze``,
``report`` and ``export`` work on it as on any run.

Mapping: ``time/s`` → t; ``Ewe/V`` (or ``<Ewe>/V``) → V; ``<I>/mA`` or ``I/mA`` → I (A);
Q (C, charge since the step began) from ``Q charge/discharge/mA.h``, which EC-Lab resets
only at a half-cycle change (so a step that begins inside a half cycle, such as the rest
after a discharge, starts from what the half cycle had passed: see :mod:`.halfcycles`),
else from ``dq/mA.h``, else from ``(Q-Qo)/mA.h``, else integrated; ``Temperature/°C`` → T
(K). EC-Lab's ``cycle number`` counts from 0, ours from 1: cycle = cycle number + 1; when a
.mpr has no cycle number it is rebuilt from the half cycles and the file's ``Cycle
Definition`` (read from the .mpt header, or for a .mpr from the .mpt/.mpl/.mps beside it;
EC-Lab's default "Charge/Discharge alternance" when none is found, and the run says so).
Rows with ``freq/Hz`` > 0 are impedance points. A new step begins wherever ``Ns`` (the
technique's sequence), the half cycle, the cycle number or the kind of point (impedance
or not) changes.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.ecimport.halfcycles import (
    CYCLE_DEFINITIONS,
    DEFAULT_CYCLE_DEFINITION,
    charge_since_step_began_C,
    cycle_index,
    half_cycles,
    header_lines,
    parse_cycle_definition,
    settings_files,
)
from cyclerctl.export.mpt import read_mpt
from cyclerctl.plan import CellSummary, Plan, RecordCriteria
from cyclerctl.store import (
    IMPEDANCE_ROW_DTYPE,
    SAMPLE_ROW_DTYPE,
    StepRecord,
    Store,
)

__all__ = ["TECHNIQUES", "EcLabData", "import_eclab", "read_eclab"]

#: technique → analysis kind run on the imported data (None: no analysis).
TECHNIQUES: dict[str, str | None] = {
    "gcpl": "cycling",
    "mb": "cycling",
    "cp": None,
    "ca": None,
    "peis": "conductivity",
    "geis": "conductivity",
    "lsv": "lsv-onset",
    "cv": None,
    "ocv": None,
}
_TITLES = {
    "galvanostatic cycling": "gcpl",
    "modulo bat": "mb",
    "chronopotentiometry": "cp",
    "chronoamperometry": "ca",
    "potentio electrochemical impedance": "peis",
    "galvano electrochemical impedance": "geis",
    "linear sweep voltammetry": "lsv",
    "cyclic voltammetry": "cv",
    "open circuit voltage": "ocv",
}


@dataclass(frozen=True)
class EcLabData:
    """One EC-Lab file, columns by EC-Lab name (floats), and what the file says it is."""

    path: Path
    technique: str
    columns: dict[str, NDArray[np.float64]]
    text: str  # the .mpt text, or a description of the .mpr
    #: EC-Lab's "Cycle Definition" for this measurement, and where it was read
    cycle_definition: str = DEFAULT_CYCLE_DEFINITION
    cycle_definition_source: str = "EC-Lab's default (no settings header found)"

    def column(self, *names: str) -> NDArray[np.float64] | None:
        for name in names:
            if name in self.columns:
                return self.columns[name]
        return None


def _technique(path: Path, title: str, columns: dict[str, Any]) -> str:
    low = title.lower()
    for words, tech in _TITLES.items():
        if words in low:
            return tech
    stem = path.name.split(".")[0].lower()
    if stem in TECHNIQUES:
        return stem
    if "freq/Hz" in columns:
        return "peis"
    return "gcpl" if "half cycle" in columns else "ca"


def read_eclab(path: str | Path) -> EcLabData:
    """Read a .mpr (galvani) or .mpt (ours) into columns by EC-Lab name."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mpt":
        mpt = read_mpt(path)
        title = next((h for h in mpt.header if h.strip()), "")
        text = path.read_text(encoding="latin-1")
        definition, source = _cycle_definition(path, [path])
        return EcLabData(
            path,
            _technique(path, title, mpt.columns),
            dict(mpt.columns),
            text,
            definition,
            source,
        )
    if suffix != ".mpr":
        raise ValueError(f"{path}: expected an EC-Lab .mpr or .mpt file")
    try:
        from galvani import BioLogic  # GPL-3.0, .mpr only
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "reading .mpr needs galvani (pip install galvani); or export .mpt from EC-Lab"
        ) from exc
    mpr = BioLogic.MPRfile(str(path))
    data = mpr.data
    columns = {
        name: np.asarray(data[name], dtype=np.float64)
        for name in data.dtype.names
        if name != "flags"
    }
    start = getattr(mpr, "timestamp", None) or getattr(mpr, "startdate", None)
    definition, source = _cycle_definition(path, settings_files(path))
    text = (
        f"EC-Lab binary file {path.name}; started {start}; columns: {', '.join(columns)}; "
        f"Cycle Definition : {definition} ({source})"
    )
    return EcLabData(path, _technique(path, "", columns), columns, text, definition, source)


def _cycle_definition(path: Path, candidates: list[Path]) -> tuple[str, str]:
    """The Cycle Definition of the first candidate header that states one, and its source."""
    for candidate in candidates:
        found = parse_cycle_definition(header_lines(candidate), str(candidate))
        if found is not None:
            where = "its header" if candidate == path else f"the header of {candidate.name}"
            return found, where
    return DEFAULT_CYCLE_DEFINITION, "EC-Lab's default (no settings header found)"


def _step_ids(
    d: EcLabData, is_eis: NDArray[np.bool_], cycle: NDArray[np.int64], half: NDArray[np.int64]
) -> NDArray[Any]:
    n = is_eis.size
    keys = [is_eis.astype(np.int64), cycle, half]
    ns = d.column("Ns")
    if ns is not None:
        keys.append(ns.astype(np.int64))
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.cumsum(change)


def _half_cycles(d: EcLabData, I: NDArray[Any]) -> NDArray[np.int64]:
    half = d.column("half cycle")
    return half_cycles(I) if half is None else np.rint(half).astype(np.int64)


def _point_charge_C(
    d: EcLabData, half: NDArray[Any], t: NDArray[Any], I: NDArray[Any]
) -> NDArray[np.float64]:
    """The charge of each point alone (C): what the cycle rebuild weighs half cycles by.

    From EC-Lab's own ``Q charge/discharge`` where present (a point that opens a half cycle
    carries all of it: after an unrecorded gap that can be of the other sign than <I>),
    else ``dq/mA.h`` or ``dQ/C``, else I dt.
    """
    q = d.column("Q charge/discharge/mA.h")
    if q is not None:
        opens = np.concatenate(([True], half[1:] != half[:-1]))
        return np.asarray(np.where(opens, q, np.diff(q, prepend=0.0)) * 3.6, dtype=np.float64)
    if (dq := d.column("dq/mA.h")) is not None:
        return np.asarray(dq * 3.6, dtype=np.float64)
    if (dq := d.column("dQ/C")) is not None:
        return np.asarray(dq, dtype=np.float64)
    return np.concatenate(([0.0], 0.5 * (I[1:] + I[:-1]) * np.diff(t)))


def _cycles(d: EcLabData, half: NDArray[Any], dq: NDArray[Any]) -> NDArray[np.int64]:
    ec = d.column("cycle number")
    if ec is None:  # EC-Lab's rule, from the half cycles and the file's Cycle Definition
        return cycle_index(half, dq, CYCLE_DEFINITIONS[d.cycle_definition]) + 1
    return np.rint(ec).astype(np.int64) + 1


def _step_charge_C(
    d: EcLabData, step: NDArray[Any], half: NDArray[Any], t: NDArray[Any], I: NDArray[Any]
) -> Any:
    q = d.column("Q charge/discharge/mA.h")
    if q is not None:  # reset by EC-Lab at half-cycle changes only
        return charge_since_step_began_C(step, half, q)
    total = d.column("(Q-Qo)/C")
    if total is None and (mah := d.column("(Q-Qo)/mA.h")) is not None:
        total = mah * 3.6
    if (dq := d.column("dq/mA.h")) is not None:  # (Q-Qo) is reset at each loop: dq is not
        total = np.cumsum(dq * 3.6)
    if total is None:  # integrate I dt (trapezoid), the run's total
        total = np.cumsum(np.concatenate(([0.0], 0.5 * (I[1:] + I[:-1]) * np.diff(t))))
    starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
    # charge since the step began: subtract the total just before the step's first point
    before = np.concatenate(([0.0], total))[starts]
    base = np.repeat(before, np.diff(np.append(starts, step.size)))
    return total - base


def import_eclab(store: Store, path: str | Path, cell: CellSummary, *, operator: str) -> int:
    """Import an EC-Lab .mpr/.mpt as a completed run (analysed); its run id."""
    d = read_eclab(path)
    n = len(next(iter(d.columns.values())))
    if n == 0:
        raise ValueError(f"{d.path}: no data points")
    t = d.column("time/s")
    if t is None:
        raise ValueError(f"{d.path}: no time/s column")
    freq = d.column("freq/Hz")
    is_eis = np.zeros(n, dtype=bool) if freq is None else freq > 0
    V = d.column("Ewe/V", "<Ewe>/V", "<Ewe/V>", "Ecell/V")
    if V is None:
        raise ValueError(f"{d.path}: no potential column (Ewe/V)")
    I_mA = d.column("<I>/mA", "I/mA")
    if I_mA is None and (dq := d.column("dq/mA.h", "dQ/mA.h")) is not None:
        # GCPL .mpr files keep only dq per point: <I> = dq/dt over the point's interval
        dt = np.diff(t, prepend=t[0])
        I_mA = np.divide(dq * 3600.0, dt, out=np.zeros(n), where=dt > 0)
    I = np.zeros(n) if I_mA is None else I_mA * 1e-3
    T_C = d.column("Temperature/°C")
    T = np.full(n, np.nan) if T_C is None else T_C + 273.15
    half = _half_cycles(d, I)
    cycle = _cycles(d, half, _point_charge_C(d, half, t, I))
    step = _step_ids(d, is_eis, cycle, half)
    Q = _step_charge_C(d, step, half, t, I)
    ns = d.column("Ns")
    mode = d.column("mode")

    kind = TECHNIQUES.get(d.technique)
    text = d.text
    plan = Plan(
        protocol_name=f"import:{d.technique}",
        description=f"imported from EC-Lab file {d.path.name}",
        protocol_text=text,
        protocol_sha256=hashlib.sha256(d.path.read_bytes()).hexdigest(),
        protocol_source=str(d.path),
        parameters={},
        cell=cell,
        cell_text="",
        safety=(),
        record=RecordCriteria(),
        body=(),
        steps=(),
        analysis={} if kind is None else {"kind": kind, "cycle_definition": d.cycle_definition},
    )
    instrument = {
        "model": "EC-Lab import",
        "serial": "",
        "firmware": "",
        "source": d.path.name,
        "cycle_definition": f"{d.cycle_definition} ({d.cycle_definition_source})",
    }
    channel = f"import:{d.path.name}"
    run = store.create_run(plan, operator=operator, instrument=instrument, channel=channel)
    try:
        _write(store, run.id, channel, t, V, I, Q, T, step, cycle, is_eis, d, ns, mode)
    except BaseException:
        store.set_status(run.id, "failed", end_reason="error:import")
        raise
    store.set_status(run.id, "completed", end_reason="imported")
    from cyclerctl.reanalysis import reanalyse

    with contextlib.suppress(ValueError, ArithmeticError):  # data may not suit it: keep the run
        reanalyse(store, run.id)
    return run.id


def _write(
    store: Store,
    run_id: int,
    channel: str,
    t: Any,
    V: Any,
    I: Any,
    Q: Any,
    T: Any,
    step: Any,
    cycle: Any,
    is_eis: Any,
    d: EcLabData,
    ns: Any,
    mode: Any,
) -> None:
    n = t.size
    samples = np.zeros(int((~is_eis).sum()), dtype=SAMPLE_ROW_DTYPE)
    s = ~is_eis
    samples["seq"] = np.arange(1, samples.size + 1)
    for name, col in (("t", t), ("V", V), ("I", I), ("Q", Q), ("T", T), ("step", step)):
        samples[name] = col[s]
    samples["cycle"] = cycle[s]
    imp = np.zeros(int(is_eis.sum()), dtype=IMPEDANCE_ROW_DTYPE)
    if imp.size:
        re_z = d.column("Re(Z)/Ohm")
        m_im = d.column("-Im(Z)/Ohm")
        if re_z is None or m_im is None:
            mod, phase = d.column("|Z|/Ohm"), d.column("Phase(Z)/deg")
            assert mod is not None and phase is not None, "impedance without Z columns"
            z = mod * np.exp(1j * np.radians(phase))
            re_z, m_im = z.real, -z.imag
        freq = d.column("freq/Hz")
        assert freq is not None
        imp["seq"] = np.arange(1, imp.size + 1)
        imp["step"] = step[is_eis]
        imp["f"] = freq[is_eis]
        imp["Zre"] = re_z[is_eis]
        imp["Zim"] = -m_im[is_eis]
        imp["V_dc"] = V[is_eis]
        imp["T"] = T[is_eis]
        imp["t"] = t[is_eis]
    starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
    ends = np.append(starts[1:], n) - 1
    seq_of_row = np.cumsum(s)  # sample seq at or before each row
    with store.open_writer(run_id, channel=channel) as writer:
        for a, b in zip(starts, ends, strict=True):
            rows = slice(a, b + 1)
            dq = np.diff(np.concatenate(([0.0], Q[rows])))
            dv = V[rows]
            eis = bool(is_eis[a])
            kind = "eis" if eis else _kind(I[rows], None if mode is None else mode[rows])
            plan_index = int(ns[a]) if ns is not None else 0
            first = int(seq_of_row[a]) if s[a] else None
            last = int(seq_of_row[b]) if not eis and s[b] else None
            record = StepRecord(
                step=int(step[a]),
                plan_index=plan_index,
                name=f"Ns {plan_index} {kind}",
                kind=kind,
                cycle=int(cycle[a]),
                loop_counters=(int(cycle[a]),),
                t_start=float(t[a]),
                t_end=float(t[b]),
                end_reason="imported",
                charge_Ah=float(dq[dq > 0].sum() / 3600.0),
                discharge_Ah=float(-dq[dq < 0].sum() / 3600.0),
                charge_Wh=abs(float((dv * dq)[dq > 0].sum() / 3600.0)),
                discharge_Wh=abs(float((dv * dq)[dq < 0].sum() / 3600.0)),
                first_seq=None if eis else first,
                last_seq=last,
            )
            writer.step_started(record)
            writer.step_ended(record)
        writer.append_samples(samples)
        writer.append_impedance(imp)


def _kind(I: NDArray[Any], mode: NDArray[Any] | None) -> str:
    if mode is not None and mode.size and int(mode[0]) == 3:
        return "rest"
    if np.all(np.abs(I) < 1e-12):
        return "rest"
    if mode is not None and mode.size and int(mode[0]) == 2:
        return "cv"
    return "cc"
