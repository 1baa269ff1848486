"""EC-Lab (BioLogic) ``.mpr``/``.mpt``: a thin adapter over :func:`cyclerctl.ecimport.read_eclab`.

The mapping is ecimport's (see its docstring): ``time/s`` → t, ``Ewe/V`` → V, ``<I>/mA`` or
``I/mA`` → I, ``Q charge/discharge/mA.h`` (charge since the half cycle began) → Q, EC-Lab's
``cycle number`` + 1 → cycle, a new step wherever ``Ns``, the half cycle or the cycle
changes; ``Ns`` is the step's number in the technique sequence. Impedance points (rows with
``freq/Hz`` > 0) are not carried by this path: a file with some says so in its warnings
(``cyclerctl import`` of the single file keeps taking them through ecimport until the
move of that code into readers/).
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
    count_changes,
    records,
)

__all__ = ["EcLabReader"]

STEP_TYPES = ("Rest", "Charge", "Discharge", "Impedance", "Other")


class EcLabReader:
    vendor: str = "biologic"
    suffixes: tuple[str, ...] = (".mpr", ".mpt")

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() in self.suffixes

    def read(self, path: Path) -> Iterator[ImportedRun]:
        from cyclerctl.ecimport import read_eclab

        try:
            d = read_eclab(path)
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
        keep = np.ones(n, dtype=bool) if freq is None else ~(freq > 0)
        warnings = () if keep.all() else (f"{int((~keep).sum())} impedance points not imported",)
        I_mA = d.column("<I>/mA", "I/mA")
        I = np.zeros(n) if I_mA is None else I_mA * 1e-3
        ec_cycle = d.column("cycle number")
        half = d.column("half cycle")
        if ec_cycle is None:
            ec_cycle = np.zeros(n) if half is None else np.floor_divide(half, 2)
        cycle = np.rint(ec_cycle).astype(np.int64) + 1
        ns = d.column("Ns")
        ns_i = np.zeros(n, np.int64) if ns is None else ns.astype(np.int64)
        half_i = np.zeros(n, np.int64) if half is None else half.astype(np.int64)
        step = count_changes(ns_i, half_i, cycle, keep.astype(np.int64))
        q_mAh = d.column("Q charge/discharge/mA.h")
        if q_mAh is not None:
            Q = q_mAh * 3.6
        else:  # integrate I dt within each step
            dq = np.concatenate(([0.0], 0.5 * (I[1:] + I[:-1]) * np.diff(t)))
            dq[np.concatenate(([True], step[1:] != step[:-1]))] = 0.0
            total = np.cumsum(dq)
            starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
            Q = total - np.repeat(total[starts], np.diff(np.append(starts, n)))
        T_C = d.column("Temperature/°C")
        kind = np.where(np.abs(I) < 1e-12, 0, np.where(I > 0, 1, 2))
        first = np.concatenate(([True], step[1:] != step[:-1]))
        step_kind = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        step_type = kind[step_kind]
        cols: dict[str, Any] = {
            "t": t, "V": V, "I": I, "Q": Q,
            "T": np.full(n, np.nan) if T_C is None else T_C + 273.15,
            "step_count": step, "step_index": ns_i, "cycle": cycle, "step_type": step_type,
        }  # fmt: skip
        cols = {k: np.asarray(v)[keep] for k, v in cols.items()}
        m = int(keep.sum())

        def chunks() -> Iterator[Any]:
            for a in range(0, m, CHUNK_ROWS):
                s = slice(a, a + CHUNK_ROWS)
                block = records(len(cols["t"][s]))
                for name, values in cols.items():
                    block[name] = values[s]
                yield block

        yield ImportedRun(
            metadata=RunMetadata(
                vendor="biologic",
                format_version=f"EC-Lab {path.suffix.lower()}",
                test_id=path.stem,
                procedure=d.technique,
                procedure_text=d.text if path.suffix.lower() == ".mpt" else "",
                instrument={"model": "BioLogic (EC-Lab file)", "serial": "", "firmware": ""},
                warnings=warnings,
            ),
            step_types=STEP_TYPES,
            chunks=chunks,
            records=m,
            reader="cyclerctl.ecimport.read_eclab",
        )
