"""BL_GetData's buffer, decoded: rows of one technique (and process) into t, Ewe, I, Z.

The buffer holds ``NbRows × NbCols`` uint32 words, row after row (guide §6.8). What a row
holds depends on the technique, the process and the board family of the channel. The two
families are the ones the public decoders tell apart (easy-biologic ``lib/ec_lib.py``
``VMP3_DEVICE_FAMILY``/``SP300_DEVICE_FAMILY``; pyeclab ``kbio_types.py`` ``VMP3_FAMILY``/
``VMP300_FAMILY``): the VMP3 family (VMP2, VMP3, VSP, SP-50, SP-150, SP-50e, SP-150e,
BiStat, MPG-2xx, CLB, HCP, FCT …; EClib board type 1, ``name.ecc``) and the SP-300 family
(SP-200, SP-300, SP-240, VSP-300, VMP-300, BP-300; board types 2 and 3, ``name4.ecc`` and
``name5.ecc``). The family is taken from BL_GetChannelBoardType, which is what picks the
.ecc files the channel runs.

=====================  =====  ====================================  =======================
technique (ID)         proc.  VMP3 family                           SP-300 family
=====================  =====  ====================================  =======================
OCV (100)              0      t_high, t_low, Ewe, Ece               t_high, t_low, Ewe
CP, CA, CPLIMIT,       0      t_high, t_low, Ewe, I, cycle          (same)
CALIMIT (102 101 155
157)
CV (103), VSCAN (124)  0      t_high, t_low, Ec, <I>, Ewe, cycle    t_high, t_low, <I>, Ewe,
                                                                    cycle
PEIS, GEIS (104 107)   0      t_high, t_low, Ewe, I                 (same)
PEIS, GEIS             1      freq, |Ewe|, |I|, Phase_Zwe, Ewe, I,  (the same 14, without
                              –, |Ece|, |Ice|, Phase_Zce, Ece, –,   the I range)
                              –, t, I range
=====================  =====  ====================================  =======================

Sources, per row (read, not copied):

- OCV: the vendor's Python example ``kbio_tech.py`` (two words after the time: VMP3 with
  Ece; one: not), easy-biologic ``lib/data_parser.py`` ``VMP3_Fields.OCV`` (4) /
  ``SP300_Fields.OCV`` (3).
- CP/CA and their LIMIT forms: ``kbio_tech.py`` (CP: three words after the time),
  easy-biologic (the same 5 columns for both families).
- CV: easy-biologic ``VMP3_Fields.CV`` (6: control, current, voltage, cycle) and
  ``SP300_Fields.CV`` (5: current, voltage, cycle); the same split in a vendor-derived
  ``kbio_tech.unpack_experiment_data`` (``is_VMP3``: 4 words after the time, else 3) and
  in DrScanny/SECCM_UI's ``kbio_tech.py`` (SP-300: I, Ewe, cycle); CombiMatrix.Py's
  ``kbio_tech.py`` (VMP3 order t, Ec, I, Ewe, cycle).
- PEIS/GEIS: easy-biologic ``PEIS``/``GEIS`` fields (15 with ``current_range`` on VMP3,
  14 on SP-300), PyExpLabSys ``bio_logic.py`` ("Irange (VMP series only)"); a captured
  VSP-300 spectrum in easy-biologic's history (``tests/retours_data.py``, commit 2c2700f)
  has 14 columns (``tests/drivers/biologic/captures``).

VSCAN (124) rows are not decoded by any public decoder; the guide's VSCAN format table is
an image in the copy read, and its text says "Ec, <I> and Ewe must be converted". They
are taken as CV's rows of the same family (``UNCONFIRMED``). Every layout with a cycle
column checks it: the cycle is a count (word < 2²³), while a float of any ordinary size
has a word ≥ 2²³, so a row whose columns are not what the table says is refused instead
of decoded into wrong numbers. A row layout not in the table (another technique, another
width, a board type of no known family) raises :class:`UnknownRowLayout`, naming the
technique, the process and the board. (VSCANLIMIT, 158, which this driver never loads,
was once read as a scan; it has no public layout and is refused like any other.)

Time is a 64-bit count of time-base ticks: t = ((t_high << 32) + t_low) × TimeBase, with
TimeBase from the TCurrentValues of the same call (``kbio_tech``); process 1's t is a
single in seconds. Both count from the technique's start; TDataInfos.StartTime is where
the technique started (s), the time origin easy-biologic (``data_parser.calculate_time``:
StartTime + TimeBase × ticks, NaN taken as 0) and pyeclab (``buffer_converters.base``)
add to it. :attr:`Rows.start_s` carries it (NaN → 0, as easy-biologic does).

Every other value is a single-precision float in its 32 bits; on a channel that reports
the IEEE format they are read directly, otherwise through
BL_ConvertChannelNumericIntoSingle (the driver passes that in).

Phase_Zwe
---------
Z = |Ewe|/|I|·e^{jφ} with φ = Phase_Zwe in :data:`PHASE_ZWE_UNIT` (radians). What the
sources say:

- radians: the guide (v6.11 §3.5, "phase … radian"); easy-biologic's captured VSP-300
  PEIS (real hardware, 2022): every Phase_Zwe within ±1.1 and every Phase_Zce within ±π,
  including −3.135 and 2.457 on points where the counter electrode's signal is a few µV
  (a phase of noise spans the whole circle: ±180 if it were degrees); and the magnitudes
  agree only with radians: |Z| falls from 74.9 kΩ (13.6 Hz) to 14.6 kΩ (1 MHz), by a
  factor 2.6 over the last 0.81 decade. Bode's gain–phase relation puts a minimum-phase
  impedance's phase near (π/2)·d ln|Z|/d ln f = −0.8 rad there; the readings are −0.53
  (154 kHz) and −1.09 (1 MHz). Read as degrees they would be −0.009 and −0.019 rad, which
  cannot go with |Z| falling 2.6×. easy-biologic itself passes the value on unconverted,
  labelled only "Impedance phase".
- degrees: MaxThePrisberry/battery-tester ``biologic/biologic_dll.c``
  (``BIO_ProcessTechniqueData``, MIT, 2025) labels Phase_Zwe "deg" and multiplies by
  π/180 before cos/sin; the EIS results that repository commits (``eis_*.txt``, phases up
  to 38.9) come from EC-Lab ``.mpr`` files through its EC-Lab/OLE path, where the file
  format's column is Phase(Z)/deg, not through that decoder. A public fitting script
  (author "Blackr"/"RB", 2019–2020, ``sp150_SPEIS_Main`` and its impedance.py fit) says
  "the obtained values are in degrees" and applies ``np.radians``; its numbers (to −28.3)
  are quoted from an EC-Lab data file ("rbnb2p86 - Characterization_Tafel_EIS_LowV_01_
  PEIS"), which is in degrees, not from BL_GetData.

Radians, then; but the one capture is of the SP-300 family only, so the unit stays in
:data:`UNCONFIRMED` until a commissioning run on an RC dummy (its arc's phase) settles it
per family.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from . import eclib_types as T
from .eclib import DataRead

Words = npt.NDArray[np.uint32]
Floats = npt.NDArray[np.float64]
ToSingle = Callable[[Words], Floats]
Family = Literal["VMP3", "SP-300"]
PhaseUnit = Literal["rad", "deg"]

#: The unit of Phase_Zwe (and Phase_Zce) in PEIS/GEIS process-1 rows; see the module notes.
PHASE_ZWE_UNIT: PhaseUnit = "rad"

#: What the decoding assumes without having seen it on a unit; shown as "unconfirmed".
UNCONFIRMED: tuple[str, ...] = (
    "Phase_Zwe in radians (one captured VSP-300 spectrum and the guide say so; no VMP3-"
    "family capture): an RC dummy's arc at commissioning settles it",
    "VSCAN (124) rows taken as CV's rows of the same board family (no public decoder "
    "reads VSCAN; the cycle-column check refuses rows that do not fit)",
    "TDataInfos.StartTime is the technique's start in seconds since BL_StartChannel, as "
    "easy-biologic and pyeclab use it",
)

#: Board type (BL_GetChannelBoardType) → row-layout family.
FAMILY_OF_BOARD: dict[int, Family] = {
    T.BOARD_ESSENTIAL: "VMP3",
    T.BOARD_PREMIUM: "SP-300",
    T.BOARD_PREMIUM_P: "SP-300",
}

#: TDeviceInfos.DeviceCode → family, as easy-biologic and pyeclab list them.
FAMILY_OF_DEVICE: dict[int, Family] = {
    **dict.fromkeys(
        (1, 3, 4, 5, 6, 7, 10, 11, 13, 14, 15, 17, 18, 19, 22, 28, 29, 30, 31, 33, 34, 35, 36),
        "VMP3",
    ),
    **dict.fromkeys((12, 16, 20, 21, 27, 32), "SP-300"),
}

TECHNIQUE_NAMES = {
    T.TECH_OCV: "OCV",
    T.TECH_CA: "CA",
    T.TECH_CP: "CP",
    T.TECH_CV: "CV",
    T.TECH_PEIS: "PEIS",
    T.TECH_GEIS: "GEIS",
    T.TECH_PDYN: "VSCAN",
    T.TECH_CPLIMIT: "CPLIMIT",
    T.TECH_CALIMIT: "CALIMIT",
    T.TECH_PDYNLIMIT: "VSCANLIMIT",
}

#: A cycle count below 2²³; an IEEE single of any ordinary size has a word at or above it.
MAX_CYCLE_WORD = 1 << 23


@dataclass(frozen=True, slots=True)
class Layout:
    """Which column holds what, in one row layout (None: the row has no such value)."""

    columns: int
    ewe: int
    current: int | None  # None: 0 A (OCV measures no current)
    ticks: bool = True  # t_high, t_low in columns 0 and 1; False: a single at ``time``
    time: int = 0
    cycle: int | None = None
    frequency: int | None = None  # impedance rows: freq, |Ewe|, |I|, Phase_Zwe in 0…3


_OCV = frozenset({T.TECH_OCV})
_STEPS = frozenset({T.TECH_CP, T.TECH_CA, T.TECH_CPLIMIT, T.TECH_CALIMIT})
_SCANS = frozenset({T.TECH_CV, T.TECH_PDYN})
_EIS = frozenset({T.TECH_PEIS, T.TECH_GEIS})

_IMPEDANCE_VMP3 = Layout(15, ewe=4, current=5, ticks=False, time=13, frequency=0)
_IMPEDANCE_SP300 = Layout(14, ewe=4, current=5, ticks=False, time=13, frequency=0)

#: (techniques, process, family) → layout: the table in the module notes.
LAYOUTS: tuple[tuple[frozenset[int], int, Family, Layout], ...] = (
    (_OCV, 0, "VMP3", Layout(4, ewe=2, current=None)),
    (_OCV, 0, "SP-300", Layout(3, ewe=2, current=None)),
    (_STEPS, 0, "VMP3", Layout(5, ewe=2, current=3, cycle=4)),
    (_STEPS, 0, "SP-300", Layout(5, ewe=2, current=3, cycle=4)),
    (_SCANS, 0, "VMP3", Layout(6, ewe=4, current=3, cycle=5)),
    (_SCANS, 0, "SP-300", Layout(5, ewe=3, current=2, cycle=4)),
    (_EIS, 0, "VMP3", Layout(4, ewe=2, current=3)),
    (_EIS, 0, "SP-300", Layout(4, ewe=2, current=3)),
    (_EIS, 1, "VMP3", _IMPEDANCE_VMP3),
    (_EIS, 1, "SP-300", _IMPEDANCE_SP300),
)


class UnknownRowLayout(ValueError):
    """BL_GetData rows this decoder does not know: never decoded into numbers."""


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
    start_s: float = 0.0  # TDataInfos.StartTime: where the technique started (NaN → 0)


def family_of_board(board_type: int) -> Family | None:
    return FAMILY_OF_BOARD.get(board_type)


def ieee_singles(words: Words) -> Floats:
    """32-bit words read as IEEE singles (a channel whose FloatFormat is IEEE)."""
    return np.ascontiguousarray(words, dtype=np.uint32).view(np.float32).astype(np.float64)


def phase_radians(values: Floats, unit: PhaseUnit = PHASE_ZWE_UNIT) -> Floats:
    """Phase_Zwe as read, in radians."""
    return np.deg2rad(values) if unit == "deg" else values


def layout_for(technique: int, process: int, board_type: int, columns: int) -> Layout:
    """The layout of these rows, or :class:`UnknownRowLayout` saying what is not known."""
    family = family_of_board(board_type)
    known = [
        layout
        for techniques, proc, fam, layout in LAYOUTS
        if technique in techniques and proc == process and fam == family
    ]
    if known and known[0].columns == columns:
        return known[0]
    name = TECHNIQUE_NAMES.get(technique, "a technique this driver does not run")
    board = (
        f"board type {board_type} ({family} family)"
        if family is not None
        else f"board type {board_type}, of no known family"
    )
    if known:
        why = (
            f"{columns} columns per row, where the {family} family's layout has {known[0].columns}"
        )
    elif family is None:
        why = "its row layout depends on the board family"
    else:
        why = "no known row layout for this technique and process"
    raise UnknownRowLayout(
        f"BL_GetData: {name} (technique {technique}) process {process} on {board}: {why}; "
        "refused rather than decoded into wrong numbers"
    )


def decode(read: DataRead, board_type: int, to_single: ToSingle = ieee_singles) -> Rows:
    infos = read.infos
    rows, cols = int(infos.NbRows), int(infos.NbCols)
    tech, process = int(infos.TechniqueID), int(infos.ProcessIndex)
    index = int(infos.TechniqueIndex)
    start = float(infos.StartTime)
    start = 0.0 if math.isnan(start) else start
    empty = np.empty(0)
    if rows <= 0:
        return Rows(index, tech, process, empty, empty, empty, start_s=start)
    layout = layout_for(tech, process, board_type, cols)
    table = np.asarray(read.words, dtype=np.uint32).reshape(rows, cols)
    if layout.cycle is not None and np.any(table[:, layout.cycle] >= MAX_CYCLE_WORD):
        name = TECHNIQUE_NAMES.get(tech, str(tech))
        raise UnknownRowLayout(
            f"BL_GetData: {name} (technique {tech}) process {process} on board type "
            f"{board_type}: column {layout.cycle} should hold the cycle count but holds "
            f"{int(table[:, layout.cycle].max()):#010x}, a float: these rows are not the "
            "layout the public decoders give; refused rather than decoded into wrong numbers"
        )
    if layout.ticks:
        count = (table[:, 0].astype(np.uint64) << np.uint64(32)) | table[:, 1].astype(np.uint64)
        t = count.astype(np.float64) * float(read.values.TimeBase)
    else:
        t = to_single(table[:, layout.time])
    ewe = to_single(table[:, layout.ewe])
    current = np.zeros(rows) if layout.current is None else to_single(table[:, layout.current])
    if layout.frequency is None:
        return Rows(index, tech, process, t, ewe, current, start_s=start)
    f = layout.frequency
    magnitude = to_single(table[:, f + 1]) / to_single(table[:, f + 2])
    phase = phase_radians(to_single(table[:, f + 3]))
    return Rows(
        index,
        tech,
        process,
        t,
        ewe,
        current,
        frequency_Hz=to_single(table[:, f]),
        Zre=magnitude * np.cos(phase),
        Zim=magnitude * np.sin(phase),
        start_s=start,
    )
