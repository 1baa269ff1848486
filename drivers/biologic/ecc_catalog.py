"""The technique (.ecc) files this driver uses, as the EC-Lab Development Package documents
them: file stem, technique ID, time base per board family, and every parameter label with its
type and array length.

Source: EC-Lab Development Package User's Guide v6.11 (May 2024) §2 (the file list: "These
techniques are doubled with the name name4.ecc only for VMP-300 series and name5.ecc for
VMP-300 series P boards"), §7.1.3 (hardware parameters I_Range, E_Range, Bandwidth, tb),
§7.2 OCV, §7.5 CP, §7.6 CA, §7.7 VSCAN (Voltage Scan, "PDYN"), §7.11 PEIS, §7.13 GEIS,
§7.36 CPLIMIT, §7.37 CALIMIT. Label spellings checked against the vendor's examples, where
they appear (``ex_tech_OCV.py``/``ex_tech_CP.py`` and the Delphi example: ``Rest_time_T``,
``Record_every_dE``, ``Record_every_dT``, ``Record_every_dI``, ``Current_step``,
``Voltage_step``, ``Duration_step``, ``vs_initial``, ``Step_number``, ``N_Cycles``,
``Scan_Rate``, ``Scan_number``, ``Begin_measuring_I``, ``End_measuring_I``), and, for PEIS,
PyExpLabSys' ``bio_logic.py`` (``Final_frequency``, ``Initial_frequency``, ``sweep``,
``Amplitude_Voltage``, ``Frequency_number``, ``Average_N_times``, ``Correction``,
``Wait_for_steady``). The guide's PDF→text copy garbles a few labels ("Record EVERY_dT",
"Average_N(times"); the examples' spellings are used.

There is no ``lsv.ecc`` in the package: a linear sweep is the Voltage Scan technique
(``vscan.ecc``) with one scan. ``cv.ecc`` (a fixed Ei→E1→E2→Ei→Ef shape) is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import eclib_types as T

BOOL, INT, SINGLE = "bool", "int", "single"

#: Parameters every technique accepts (guide §7.1.3).
HARDWARE = {"I_Range": INT, "E_Range": INT, "Bandwidth": INT, "tb": SINGLE}

_LIMIT_TESTS = {
    "Test1_Config": INT,
    "Test1_Value": SINGLE,
    "Test2_Config": INT,
    "Test2_Value": SINGLE,
    "Test3_Config": INT,
    "Test3_Value": SINGLE,
    "Exit_Cond": INT,
}


@dataclass(frozen=True, slots=True)
class EccFile:
    stem: str  # "ocv" → ocv.ecc, ocv4.ecc, ocv5.ecc
    technique_id: int
    timebase_s: tuple[float, float]  # VMP-3 series, VMP-300 series (guide §7, "Timebase")
    params: dict[str, str]  # label → type, besides HARDWARE
    array_length: int = 1  # how many indices the per-step parameters have
    max_steps: int = 1  # steps (vertices for a scan) one technique can hold
    per_step: frozenset[str] = frozenset()  # the labels that are arrays

    def file_name(self, board_type: int) -> str:
        return f"{self.stem}{T.ECC_SUFFIX[board_type]}.ecc"

    def timebase(self, board_type: int) -> float:
        return self.timebase_s[0 if board_type == T.BOARD_ESSENTIAL else 1]

    def max_duration_s(self, board_type: int) -> float:
        """Durations are counted in time-base ticks on 31 bits: [0 .. tb·2³¹] (guide §7)."""
        return self.timebase(board_type) * 2**31


OCV = EccFile(
    "ocv",
    T.TECH_OCV,
    (20e-6, 20e-6),
    {"Rest_time_T": SINGLE, "Record_every_dE": SINGLE, "Record_every_dT": SINGLE},
)
CP = EccFile(
    "cp",
    T.TECH_CP,
    (21e-6, 21e-6),
    {
        "Current_step": SINGLE,
        "vs_initial": BOOL,
        "Duration_step": SINGLE,
        "Step_number": INT,
        "Record_every_dT": SINGLE,
        "Record_every_dE": SINGLE,
        "N_Cycles": INT,
    },
    array_length=100,
    max_steps=99,  # Step_number in [0..98]
    per_step=frozenset({"Current_step", "vs_initial", "Duration_step"}),
)
CA = EccFile(
    "ca",
    T.TECH_CA,
    (24e-6, 21e-6),
    {
        "Voltage_step": SINGLE,
        "vs_initial": BOOL,
        "Duration_step": SINGLE,
        "Step_number": INT,
        "Record_every_dT": SINGLE,
        "Record_every_dI": SINGLE,
        "N_Cycles": INT,
    },
    array_length=100,
    max_steps=99,
    per_step=frozenset({"Voltage_step", "vs_initial", "Duration_step"}),
)
CPLIMIT = EccFile(
    "cplimit",
    T.TECH_CPLIMIT,
    (50e-6, 34e-6),
    {
        "Current_step": SINGLE,
        "vs_initial": BOOL,
        "Duration_step": SINGLE,
        "Step_number": INT,
        "Record_every_dT": SINGLE,
        "Record_every_dE": SINGLE,
        "N_Cycles": INT,
        **_LIMIT_TESTS,
    },
    array_length=20,
    max_steps=20,  # Step_number in [0..19]
    per_step=frozenset({"Current_step", "vs_initial", "Duration_step", *_LIMIT_TESTS}),
)
CALIMIT = EccFile(
    "calimit",
    T.TECH_CALIMIT,
    (50e-6, 34e-6),
    {
        "Voltage_step": SINGLE,
        "vs_initial": BOOL,
        "Duration_step": SINGLE,
        "Step_number": INT,
        "Record_every_dT": SINGLE,
        "Record_every_dI": SINGLE,
        "N_Cycles": INT,
        **_LIMIT_TESTS,
    },
    array_length=20,
    max_steps=20,  # Step_number in [0..19]
    per_step=frozenset({"Voltage_step", "vs_initial", "Duration_step", *_LIMIT_TESTS}),
)
_EIS_COMMON = {
    "vs_initial": BOOL,
    "Duration_step": SINGLE,
    "Record_every_dT": SINGLE,
    "Final_frequency": SINGLE,
    "Initial_frequency": SINGLE,
    "sweep": BOOL,
    "Frequency_number": INT,
    "Average_N_times": INT,
    "Correction": BOOL,
    "Wait_for_steady": SINGLE,
}
PEIS = EccFile(
    "peis",
    T.TECH_PEIS,
    (24e-6, 24e-6),
    {
        **_EIS_COMMON,
        "Initial_Voltage_step": SINGLE,
        "Record_every_dI": SINGLE,
        "Amplitude_Voltage": SINGLE,
    },
)
GEIS = EccFile(
    "geis",
    T.TECH_GEIS,
    (24e-6, 24e-6),
    {
        **_EIS_COMMON,
        "Initial_Current_step": SINGLE,
        "Record_every_dE": SINGLE,
        "Amplitude_Current": SINGLE,
    },
)
VSCAN = EccFile(
    "vscan",
    T.TECH_PDYN,
    (40e-6, 50e-6),
    {
        "Voltage_step": SINGLE,
        "vs_initial": BOOL,
        "Scan_Rate": SINGLE,
        "Scan_number": INT,
        "Record_every_dE": SINGLE,
        "N_Cycles": INT,
        "Begin_measuring_I": SINGLE,
        "End_measuring_I": SINGLE,
    },
    array_length=100,
    max_steps=100,  # vertices: Scan_number in [0..98] scans after the first
    per_step=frozenset({"Voltage_step", "vs_initial", "Scan_Rate"}),
)

BY_STEM = {f.stem: f for f in (OCV, CP, CA, CPLIMIT, CALIMIT, PEIS, GEIS, VSCAN)}

#: Files the package ships that this driver neither writes nor emulates (guide §2).
OTHER_DOCUMENTED_STEMS = frozenset(
    {
        "cv",
        "biovscan",
        "iscan",
        "lasv",
        "load",
        "pow",
        "seisp",
        "seisg",
        "dpv",
        "swv",
        "npv",
        "rnpv",
        "dnpv",
        "dpa",
        "evt",
        "lp",
        "gc",
        "cpp",
        "pdp",
        "psp",
        "zra",
        "ircmp",
        "pzir",
        "gzir",
        "loop",
        "to",
        "ti",
        "tos",
        "vscanlimit",
        "iscanlimit",
        "mp",
        "casp",
        "casg",
    }
)
