"""EC-Lab-style text export (.mpt) and a reader for EC-Lab's own .mpt files.

What EC-Lab writes, and what we copy: line 1 ``EC-Lab ASCII FILE``; line 2
``Nb header lines : N`` (N counts every line up to and including the column names); free
header lines; one tab-separated line of column names ending in a tab; data lines; CRLF line
ends; latin-1 text. Numbers as EC-Lab prints them: doubles ``%.15E`` and instrument singles
(Ewe, EIS quantities) ``%.7E``, both with three exponent digits (``3.4228721E+000``);
flags and counters as integers. EC-Lab's decimal separator follows the PC's locale; we
always write ``.`` (our reader and galvani take either).

Units: time/s, Ewe/V, <I>/mA, charges in mA.h, EIS freq/Hz, Re(Z)/Ohm, -Im(Z)/Ohm.
``cycle number`` counts from 0 as EC-Lab does (our cycle 1 is EC-Lab's 0; our cycle 0,
before any loop, is written as 0 too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.store import StepRecord

MAGIC = "EC-Lab ASCII FILE"
NEWLINE = "\r\n"
ENCODING = "latin-1"
MA_H_PER_C = 1.0 / 3.6  # 1 mA·h = 3.6 C
#: rows formatted into one string before it is written (bounds the text held at once)
WRITE_ROWS = 10_000

#: EC-Lab's ``mode``: 1 galvanostatic, 2 potentiostatic, 3 rest (open circuit).
MODE_OF_KIND = {"cc": 1, "cv": 2, "cccv": 1, "sweep": 2, "eis": 2, "rest": 3, "chamber": 3}

SAMPLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mode", "%d"),
    ("ox/red", "%d"),
    ("error", "%d"),
    ("Ns changes", "%d"),
    ("Ns", "%d"),
    ("time/s", "%.15E"),
    ("Ewe/V", "%.7E"),
    ("<I>/mA", "%.15E"),
    ("(Q-Qo)/mA.h", "%.15E"),
    ("Q charge/discharge/mA.h", "%.15E"),
    ("half cycle", "%d"),
)
EIS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("freq/Hz", "%.7E"),
    ("Re(Z)/Ohm", "%.7E"),
    ("-Im(Z)/Ohm", "%.7E"),
    ("|Z|/Ohm", "%.7E"),
    ("Phase(Z)/deg", "%.7E"),
)
TEMPERATURE_COLUMN = ("Temperature/°C", "%.7E")
CYCLE_COLUMN = ("cycle number", "%.15E")

_EXPONENT = re.compile(r"E([+-])(\d\d)(?=[\t\r])")


def _three_digit_exponents(text: str) -> str:
    return _EXPONENT.sub(r"E\g<1>0\g<2>", text)


@dataclass
class MptWriter:
    """Streams rows of one run into an .mpt file; see the module docstring."""

    out: IO[str]
    steps: Sequence[StepRecord]
    eis: bool
    samples: bool
    temperature: bool
    _step: dict[int, StepRecord] = field(default_factory=dict)
    _q_offset: float = 0.0  # (Q-Qo): charge of the steps before the current one, C
    _last_step: int | None = None
    _last_q: float = 0.0
    _half_cycle: int = 0
    _last_sign: int = 0
    _half_base: float = 0.0  # charge of the finished steps of the current half cycle, C

    def __post_init__(self) -> None:
        self._step = {s.step: s for s in self.steps}

    @property
    def columns(self) -> list[tuple[str, str]]:
        cols: list[tuple[str, str]] = []
        if self.samples:
            cols += SAMPLE_COLUMNS
        if self.eis:
            if not self.samples:
                cols += [("time/s", "%.15E"), ("<Ewe>/V", "%.7E")]
            cols[:0] = EIS_COLUMNS
        if self.temperature:
            cols.append(TEMPERATURE_COLUMN)
        cols.append(CYCLE_COLUMN)
        return cols

    def write_header(self, lines: Sequence[str]) -> None:
        names = "\t".join(name for name, _ in self.columns) + "\t"
        n = 2 + len(lines) + 1
        head = [MAGIC, f"Nb header lines : {n:<3d}".ljust(46), *lines, names]
        self.out.write(NEWLINE.join(head) + NEWLINE)

    def _sample_table(self, rows: NDArray[Any]) -> dict[str, NDArray[Any]]:
        n = rows.size
        step = rows["step"].astype(np.int64)
        kinds = {s.step: MODE_OF_KIND.get(s.kind, 3) for s in self.steps}
        ns_of = {s.step: s.plan_index for s in self.steps}
        mode = np.array([kinds.get(int(k), 3) for k in step], dtype=np.int64)
        ns = np.array([ns_of.get(int(k), 0) for k in step], dtype=np.int64)
        I = rows["I"]
        Q = rows["Q"]
        # Ns changes: first point of each executed step; (Q-Qo): charges of finished steps
        prev = np.concatenate(([self._last_step if self._last_step is not None else -1], step[:-1]))
        changed = step != prev
        q_end_prev = np.concatenate(([self._last_q], Q[:-1]))
        offsets = self._q_offset + np.cumsum(np.where(changed, q_end_prev, 0.0))
        # half cycle: EC-Lab counts a new half cycle whenever the current changes sign, and
        # its Q charge/discharge is the charge since the half cycle began (a rest after a
        # discharge still reads the discharge): reset at a half-cycle change, not at a step's
        # (the sign of each point's own charge decides, as EC-Lab's ox/red does: a point
        # after an unrecorded gap can open a half cycle of its own)
        dq = Q - np.where(changed, 0.0, q_end_prev)
        sign = np.sign(dq).astype(np.int64)
        half = np.empty(n, dtype=np.int64)
        q_half = np.empty(n)
        h, last, base = self._half_cycle, self._last_sign, self._half_base
        prev_q = self._last_q
        for i, s in enumerate(sign):
            if changed[i]:
                base += prev_q
            if s != 0 and last != 0 and s != last:
                h += 1
                base = 0.0 if changed[i] else -prev_q
            if s != 0:
                last = int(s)
            half[i] = h
            prev_q = float(Q[i])
            q_half[i] = base + prev_q
        self._half_cycle, self._last_sign, self._half_base = h, last, base
        if n:
            self._q_offset = float(offsets[-1])
            self._last_step = int(step[-1])
            self._last_q = float(Q[-1])
        return {
            "mode": mode,
            "ox/red": (I > 0).astype(np.int64),
            "error": np.zeros(n, dtype=np.int64),
            "Ns changes": changed.astype(np.int64),
            "Ns": ns,
            "time/s": rows["t"],
            "Ewe/V": rows["V"],
            "<I>/mA": I * 1e3,
            "(Q-Qo)/mA.h": (offsets + Q) * MA_H_PER_C,
            "Q charge/discharge/mA.h": q_half * MA_H_PER_C,
            "half cycle": half,
        }

    def write_samples(self, rows: NDArray[Any]) -> None:
        table = self._sample_table(rows)
        if self.eis:
            for name, _ in EIS_COLUMNS:
                table[name] = np.zeros(rows.size)
        self._write(table, rows["T"], rows["cycle"])

    def write_impedance(self, rows: NDArray[Any]) -> None:
        n = rows.size
        z = rows["Zre"] + 1j * rows["Zim"]
        table: dict[str, NDArray[Any]] = {
            "freq/Hz": rows["f"],
            "Re(Z)/Ohm": rows["Zre"],
            "-Im(Z)/Ohm": -rows["Zim"],
            "|Z|/Ohm": np.abs(z),
            "Phase(Z)/deg": np.degrees(np.angle(z)),
            "time/s": rows["t"],
            "<Ewe>/V": rows["V_dc"],
            "Ewe/V": rows["V_dc"],
        }
        steps = rows["step"].astype(np.int64)
        cycles = np.array([self._step[int(k)].cycle if int(k) in self._step else 0 for k in steps])
        if self.samples:  # a mixed run (EIS inside a cycling protocol), as Modulo Bat writes it
            kinds = {s.step: s.plan_index for s in self.steps}
            zero = np.zeros(n)
            table.update(
                {
                    "mode": np.full(n, 2),
                    "ox/red": np.zeros(n, dtype=np.int64),
                    "error": np.zeros(n, dtype=np.int64),
                    "Ns changes": np.zeros(n, dtype=np.int64),
                    "Ns": np.array([kinds.get(int(k), 0) for k in steps]),
                    "<I>/mA": zero,
                    "(Q-Qo)/mA.h": np.full(n, self._q_offset * MA_H_PER_C),
                    "Q charge/discharge/mA.h": zero,
                    "half cycle": np.full(n, self._half_cycle),
                }
            )
        self._write(table, rows["T"], cycles)

    def _write(self, table: dict[str, NDArray[Any]], T_K: NDArray[Any], cycle: Any) -> None:
        if self.temperature:
            table[TEMPERATURE_COLUMN[0]] = np.nan_to_num(T_K - 273.15, nan=0.0)
        table[CYCLE_COLUMN[0]] = np.maximum(np.asarray(cycle, dtype=np.float64) - 1.0, 0.0)
        cols = self.columns
        fmt = "\t".join(f for _, f in cols) + NEWLINE
        arrays = [np.asarray(table[name]) for name, _ in cols]
        n = arrays[0].size if arrays else 0
        for a in range(0, n, WRITE_ROWS):  # format a slice at a time: bounded text in memory
            lists = [x[a : a + WRITE_ROWS].tolist() for x in arrays]
            body = "".join(fmt % row for row in zip(*lists, strict=True))
            del lists
            self.out.write(_three_digit_exponents(body))


def merge_by_time(
    samples: Iterable[NDArray[Any]], impedance: NDArray[Any]
) -> Iterator[tuple[str, NDArray[Any]]]:
    """Sample chunks and impedance rows in order of run time (impedance is small)."""
    k = 0
    for chunk in samples:
        if k < impedance.size and chunk.size:
            j = int(np.searchsorted(impedance["t"], chunk["t"][-1], side="right"))
            if j > k:
                split = np.searchsorted(chunk["t"], impedance["t"][k], side="left")
                if split:
                    yield "samples", chunk[:split]
                    chunk = chunk[split:]
                yield "impedance", impedance[k:j]
                k = j
        if chunk.size:
            yield "samples", chunk
    if k < impedance.size:
        yield "impedance", impedance[k:]


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MptFile:
    """An .mpt file as read: header lines (without the magic and count lines), column
    names, and the columns as float arrays keyed by name."""

    header: list[str]
    names: list[str]
    columns: dict[str, NDArray[np.float64]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def read_mpt(path: str | Path) -> MptFile:
    """Read an EC-Lab .mpt (ours or EC-Lab's; ``,`` or ``.`` decimals; LF or CRLF)."""
    with open(path, encoding=ENCODING, newline=None) as f:
        magic = f.readline().strip()
        if magic not in (MAGIC, "BT-Lab ASCII FILE"):
            raise ValueError(f"{path}: not an EC-Lab text file (first line {magic!r})")
        match = re.match(r"Nb header lines : (\d+)", f.readline())
        if match is None:
            raise ValueError(f"{path}: no 'Nb header lines' on line 2")
        n = int(match.group(1))
        header = [f.readline().rstrip("\r\n") for _ in range(n - 3)]
        names = f.readline().rstrip("\r\n").rstrip("\t").split("\t")
        text = f.read().replace(",", ".")
    data = np.loadtxt(text.splitlines(), delimiter="\t", ndmin=2, usecols=range(len(names)))
    return MptFile(header, names, {name: data[:, i] for i, name in enumerate(names)})
