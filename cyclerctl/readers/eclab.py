"""EC-Lab (BioLogic) ``.mpr``/``.mpt``: a thin adapter over :mod:`cyclerctl.ecimport`.

Every column is computed by ecimport's own functions (read_eclab and the helpers
import_eclab uses), so a file imported through the readers holds the same points,
impedance points, cycles, steps and charges as ``import_eclab`` gives; see ecimport's
docstring for the mapping. Only the step type is named here: EC-Lab's ``mode`` 3 → Rest,
2 → CV, else Charge/Discharge by the step's first current (Rest when it is zero);
impedance steps are "Impedance". The move of ecimport's code into readers/ comes later.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cyclerctl.readers.base import (
    CHUNK_ROWS,
    ImportedRun,
    MissingExtra,
    ReadError,
    RunMetadata,
    records,
)

__all__ = ["EcLabReader"]

STEP_TYPES = ("Rest", "Charge", "Discharge", "Impedance", "CV")


class EcLabReader:
    vendor: str = "biologic"
    suffixes: tuple[str, ...] = (".mpr", ".mpt")

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() in self.suffixes

    def read(self, path: Path) -> Iterator[ImportedRun]:
        from cyclerctl import ecimport as ec

        try:
            d = ec.read_eclab(path)
        except RuntimeError as exc:  # galvani missing (GPL-3.0: its own extra)
            raise MissingExtra(path, "galvani", "eclab") from exc
        except (ValueError, OSError, KeyError, IndexError) as exc:
            raise ReadError(path, f"not a readable EC-Lab file ({exc})") from None
        t = d.column("time/s")
        V = d.column("Ewe/V", "<Ewe>/V", "<Ewe/V>", "Ecell/V")
        if t is None or V is None or t.size == 0:
            raise ReadError(path, "no time/s and Ewe/V records")
        n = t.size
        freq = d.column("freq/Hz")
        is_eis = np.zeros(n, dtype=bool) if freq is None else freq > 0
        I_mA = d.column("<I>/mA", "I/mA")
        if I_mA is None and (dq := d.column("dq/mA.h", "dQ/mA.h")) is not None:
            dt = np.diff(t, prepend=t[0])  # as import_eclab: <I> = dq/dt
            I_mA = np.divide(dq * 3600.0, dt, out=np.zeros(n), where=dt > 0)
        I = np.zeros(n) if I_mA is None else I_mA * 1e-3
        half = ec._half_cycles(d, I)
        cycle = ec._cycles(d, half, ec._point_charge_C(d, half, t, I))
        step = ec._step_ids(d, is_eis, cycle, half)
        Q = ec._step_charge_C(d, step, half, t, I)
        T_C = d.column("Temperature/°C")
        ns = d.column("Ns")
        mode = d.column("mode")
        first = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
        lengths = np.diff(np.append(first, n))
        i0, m0 = I[first], (np.zeros(first.size) if mode is None else mode[first])
        kind = np.select(
            [is_eis[first], m0 == 3, m0 == 2, np.abs(i0) < 1e-12, i0 > 0], [3, 0, 4, 0, 1], 2
        )
        cols: dict[str, Any] = {
            "t": t, "V": V, "I": I, "Q": Q,
            "T": np.full(n, np.nan) if T_C is None else T_C + 273.15,
            "step_count": step, "step_index": np.zeros(n, np.int64) if ns is None else ns,
            "cycle": cycle, "step_type": np.repeat(kind, lengths),
        }  # fmt: skip
        if freq is not None and is_eis.any():
            z = _impedance(d)
            cols["f"] = np.where(is_eis, freq, np.nan)
            cols["Zre"], cols["Zim"] = z.real, z.imag

        def chunks() -> Iterator[Any]:
            for a in range(0, n, CHUNK_ROWS):
                s = slice(a, a + CHUNK_ROWS)
                block = records(len(t[s]))
                for name, values in cols.items():
                    block[name] = values[s]
                yield block

        technique_kind = ec.TECHNIQUES.get(d.technique)
        yield ImportedRun(
            metadata=RunMetadata(
                vendor="biologic",
                format_version=f"EC-Lab {path.suffix.lower()}",
                test_id=path.stem,
                procedure=d.technique,
                procedure_text=d.text,
                instrument={
                    "model": "BioLogic (EC-Lab file)",
                    "serial": "",
                    "firmware": "",
                    "cycle_definition": f"{d.cycle_definition} ({d.cycle_definition_source})",
                },
                analysis={}
                if technique_kind is None
                else {"kind": technique_kind, "cycle_definition": d.cycle_definition},
            ),
            step_types=STEP_TYPES,
            chunks=chunks,
            records=n,
            reader="cyclerctl.ecimport.read_eclab",
        )


def _impedance(d: Any) -> Any:
    """Z (complex Ω, Im as measured) of every row, from Re/-Im or |Z| and phase."""
    re_z, m_im = d.column("Re(Z)/Ohm"), d.column("-Im(Z)/Ohm")
    if re_z is not None and m_im is not None:
        return re_z - 1j * m_im
    mod, phase = d.column("|Z|/Ohm"), d.column("Phase(Z)/deg")
    if mod is None or phase is None:
        raise ReadError(d.path, "impedance points without Z columns")
    return mod * np.exp(1j * np.radians(phase))
