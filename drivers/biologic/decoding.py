"""BL_GetData's buffer, decoded: rows of one technique (and process) into t, Ewe, I, Z.

The buffer holds ``NbRows × NbCols`` uint32 words, row after row (guide §6.8). Per
technique (guide §7, "Data format"; the vendor's ``kbio_tech.get_experiment_data``):

==========================  ==============================================================
OCV (100)                   t_high, t_low, Ewe [, Ece on VMP-3 series]
CP, CA, CPLIMIT, CALIMIT    t_high, t_low, Ewe, I, cycle
CV, VSCAN (124), VSCANLIMIT t_high, t_low, Ec, <I>, Ewe, cycle
PEIS, GEIS process 0        t_high, t_low, Ewe, I
PEIS, GEIS process 1        freq, |Ewe|, |I|, Phase_Zwe, Ewe, I, –, |Ece|, |Ice|, Phase_Zce,
                            Ece, –, –, t [, I range on VMP-3 series]
==========================  ==============================================================

Time is a 64-bit count of time-base ticks: t = ((t_high << 32) + t_low) × TimeBase, with
TimeBase from the TCurrentValues of the same call (``kbio_tech``); process 1's t is a
single in seconds. Every other value is a single-precision float in its 32 bits; on a
channel that reports the IEEE format they are read directly, otherwise through
BL_ConvertChannelNumericIntoSingle (the driver passes that in). Z = |Ewe|/|I|·e^{jφ}, φ
(Phase_Zwe) in radians (guide §3.5: "phase … radian").

Unconfirmed: the VSCAN row (the guide's table is an image; its text says "Ec, <I> and Ewe
must be converted", and the vendor examples decode CV as t, Ec, I, Ewe, cycle — the same
layout is assumed); the PEIS process-1 columns come from PyExpLabSys ``bio_logic.py`` and
agree with the guide's Delphi example (freq at word 0, Ewe 4, I 5, t 13).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import eclib_types as T
from .eclib import DataRead

Words = npt.NDArray[np.uint32]
Floats = npt.NDArray[np.float64]
ToSingle = Callable[[Words], Floats]

OCV_IDS = frozenset({T.TECH_OCV})
STEP_IDS = frozenset({T.TECH_CP, T.TECH_CA, T.TECH_CPLIMIT, T.TECH_CALIMIT})
SCAN_IDS = frozenset({T.TECH_CV, T.TECH_PDYN, T.TECH_PDYNLIMIT})
EIS_IDS = frozenset({T.TECH_PEIS, T.TECH_GEIS})

IMPEDANCE_COLUMNS = (14, 15)  # VMP-300 series, VMP-3 series (with the I range)


class Rows(NamedTuple):
    """The decoded rows of one BL_GetData call."""

    technique_index: int
    technique_id: int
    process: int
    t_s: Floats  # time since the technique started
    Ewe: Floats
    I: Floats
    frequency_Hz: Floats | None = None  # impedance rows only
    Zre: Floats | None = None
    Zim: Floats | None = None


def ieee_singles(words: Words) -> Floats:
    """32-bit words read as IEEE singles (a channel whose FloatFormat is IEEE)."""
    return np.ascontiguousarray(words, dtype=np.uint32).view(np.float32).astype(np.float64)


def decode(read: DataRead, to_single: ToSingle = ieee_singles) -> Rows:
    infos = read.infos
    rows, cols = int(infos.NbRows), int(infos.NbCols)
    tech, process = int(infos.TechniqueID), int(infos.ProcessIndex)
    empty = np.empty(0)
    if rows <= 0:
        return Rows(int(infos.TechniqueIndex), tech, process, empty, empty, empty)
    table = np.asarray(read.words, dtype=np.uint32).reshape(rows, cols)

    def expect(*allowed: int) -> None:
        if cols not in allowed:
            raise ValueError(
                f"technique {tech} process {process}: {cols} columns per row, "
                f"expected {' or '.join(map(str, allowed))}"
            )

    def ticks(hi: int, lo: int) -> Floats:
        count = (table[:, hi].astype(np.uint64) << np.uint64(32)) | table[:, lo].astype(np.uint64)
        return count.astype(np.float64) * float(read.values.TimeBase)

    index = int(infos.TechniqueIndex)
    if tech in OCV_IDS:
        expect(3, 4)
        return Rows(index, tech, process, ticks(0, 1), to_single(table[:, 2]), np.zeros(rows))
    if tech in STEP_IDS:
        expect(5)
        return Rows(
            index, tech, process, ticks(0, 1), to_single(table[:, 2]), to_single(table[:, 3])
        )
    if tech in SCAN_IDS:
        expect(6)
        return Rows(
            index, tech, process, ticks(0, 1), to_single(table[:, 4]), to_single(table[:, 3])
        )
    if tech in EIS_IDS and process == 0:
        expect(4)
        return Rows(
            index, tech, process, ticks(0, 1), to_single(table[:, 2]), to_single(table[:, 3])
        )
    if tech in EIS_IDS and process == 1:
        expect(*IMPEDANCE_COLUMNS)
        magnitude = to_single(table[:, 1]) / to_single(table[:, 2])
        phase = to_single(table[:, 3])
        return Rows(
            index,
            tech,
            process,
            to_single(table[:, 13]),
            to_single(table[:, 4]),
            to_single(table[:, 5]),
            frequency_Hz=to_single(table[:, 0]),
            Zre=magnitude * np.cos(phase),
            Zim=magnitude * np.sin(phase),
        )
    raise ValueError(f"BL_GetData returned technique {tech} process {process}: not decoded")
