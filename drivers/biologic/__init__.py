"""BioLogic potentiostats through the EC-Lab Development Package library (EClib).

Files: ``eclib_types`` (structures, constants, error codes, prototypes), ``eclib`` (the
binding), ``ecc_catalog`` (the .ecc techniques and their parameters), ``techniques`` (a Step
as techniques), ``decoding`` (BL_GetData rows), ``driver`` (Instrument/Channel),
``emulated_eclib`` + ``emulated_channel`` (the library emulated on the simulator).

Vendor documents followed (read, not copied; none of their code is here):

- EC-Lab Development Package User's Guide v6.11 (May 2024): §4 using the library, §5
  structures, constants and error codes, §6 functions, §7 techniques (parameters, time
  bases, data conversion). Its data-format tables are images in the text copy found.
- The package's C headers: ``BLStructs.h`` ("Bio-Logic Header file for ECLib C/C++
  interface", ``#pragma pack(4)``; a public copy is in MaxThePrisberry/battery-tester) and
  the dynamic-loading wrapper header with one ``BL_*_FP`` typedef per function.
- The package's Python examples, as vendored in CombiMatrix-AI/CombiMatrix.Py:
  ``kbio/kbio_api.py`` (argtypes, call order), ``kbio/kbio_types.py`` (structures),
  ``kbio/kbio_tech.py`` (row decoding: t = ((t_high << 32) + t_low) × TimeBase),
  ``ex_tech_OCV.py`` and ``ex_tech_CP.py`` (parameter labels, the GetData loop).
- The package's Delphi example (OCV, VSCAN, CP, CA, MP parameter lists).
- PyExpLabSys ``PyExpLabSys/drivers/bio_logic.py`` (CINF/PyExpLabSys): the PEIS/GEIS
  process-1 columns.
- easy-biologic (bicarlsen/easy-biologic, MIT/Apache-2.0): row layouts per board family
  (``lib/data_parser.py``), StartTime as the time origin, a captured VSP-300 spectrum;
  pyeclab (federicoscarpioni/pyeclab, MIT): StartTime, the device families.

Not run against a real unit or a real EClib64.dll. What stays unconfirmed is
``UNCONFIRMED`` (the Phase_Zwe unit, ``PHASE_ZWE_UNIT``, among it); each module says more.
The code for an unknown parameter label is a guess (the emulator answers −4).

Commissioning aids (emulated library only): ``EmulatedEClib(dummy_load=DummyLoad(...))``
puts a resistor, or R in series with R‖C, on every channel instead of cells;
``EmulatedEClib(..., miscale="phase_degrees")`` reports Phase_Zwe in the other unit than
``PHASE_ZWE_UNIT``, the fault a commissioning check must catch. ``open_instrument`` passes
the options ``dummy_load`` and ``miscale`` on.

Registry contract (``drivers/registry.py``):

- ``open_instrument(address, options)``: a lab passes ``eclib_path`` (the folder holding
  EClib64.dll and the .ecc/kernel files, or the DLL itself; default: the DLL search path).
  ``address`` ``"emulated"`` (or an ``emulated_cells`` option, a list of CellSummary) uses
  the emulated library instead, with ``virtual_time`` (default True), ``speed``, ``seed``,
  ``model`` ("VMP3", "VSP", "SP-50", "SP-150", "SP-300", "VSP-300", "VMP-300"),
  ``dummy_load`` (a DummyLoad instead of cells) and ``miscale``. ``record_every_s`` sets
  Record_every_dT (default 1 s).
- ``start_emulator``: EClib is a DLL, not a network protocol: there is nothing to serve.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cyclerctl.plan import CellSummary

from ..registry import Emulator
from .decoding import PHASE_ZWE_UNIT, UnknownRowLayout
from .driver import UNCONFIRMED, BioLogicChannel, BioLogicInstrument
from .dummy_load import DummyLoad
from .eclib import DLL_NAME, EClib, EClibError, load_eclib
from .emulated_eclib import EmulatedEClib

__all__ = [
    "PHASE_ZWE_UNIT",
    "UNCONFIRMED",
    "BioLogicChannel",
    "BioLogicInstrument",
    "DummyLoad",
    "EClib",
    "EClibError",
    "EmulatedEClib",
    "UnknownRowLayout",
    "load_eclib",
    "open_instrument",
    "start_emulator",
]

EMULATED = "emulated"


def open_instrument(address: str, options: Mapping[str, Any]) -> BioLogicInstrument:
    """A connected BioLogic instrument (see the module notes for ``options``)."""
    cells = options.get("emulated_cells")
    record_every_s = float(options.get("record_every_s", 1.0))
    dummy = options.get("dummy_load")
    if cells is not None or dummy is not None or address == EMULATED:
        if not cells and dummy is None:
            raise ValueError(
                "the emulated BioLogic needs the cells it holds (option emulated_cells) "
                "or a dummy load (option dummy_load)"
            )
        if dummy is not None and not isinstance(dummy, DummyLoad):
            raise ValueError(f"option dummy_load: a biologic.DummyLoad, not {dummy!r}")
        virtual = bool(options.get("virtual_time", True))
        miscale = options.get("miscale")
        library = EmulatedEClib(
            list(cells or ()),
            dummy_load=dummy,
            miscale=None if miscale is None else str(miscale),
            seed=options.get("seed"),
            virtual_time=virtual,
            speed=float(options.get("speed", 1.0)),
            model=str(options.get("model", "VMP3")),
        )
        instrument = BioLogicInstrument(
            address, EClib(library), virtual_time=virtual, record_every_s=record_every_s
        )
    else:
        dll = _dll_path(options.get("eclib_path"))
        instrument = BioLogicInstrument(
            address,
            load_eclib(dll),
            record_every_s=record_every_s,
            ecc_dir=None if dll is None else str(Path(dll).parent),
        )
    instrument.connect()
    return instrument


def start_emulator(
    cells: Sequence[CellSummary], host: str, port: int, options: Mapping[str, Any]
) -> Emulator:
    raise NotImplementedError(
        "BioLogic instruments are driven through EClib64.dll, a library loaded in-process, "
        "not a network protocol, so there is no emulator to serve. The emulated library runs "
        "in-process: use --driver biologic --address emulated."
    )


def _dll_path(value: Any) -> str | None:
    if value is None:
        return None
    path = Path(os.fspath(value))
    return str(path / DLL_NAME if path.is_dir() else path)
