"""BioLogic potentiostats (VMP3, VSP, SP-150, SP-300, VMP-300 …) through EClib.

Connecting follows the guide's §4 "Using the library": BL_Connect → BL_GetChannelsPlugged →
BL_GetChannelBoardType per channel (which .ecc family: name.ecc, name4.ecc, name5.ecc) →
BL_LoadFirmware on the plugged channels (default kernel and FPGA files, not forced) →
BL_GetChannelInfos per channel. A step is BL_LoadTechnique for each of its techniques
(``techniques``; first/last flags link them) and BL_StartChannel; reading is BL_GetData
until the memory is drained (TCurrentValues.MemFilled = 0); the step has ended when the
channel reports STOP with nothing left in memory (the loop of the guide's GetData example
and the vendor's ``ex_tech_*.py``). Stopping is BL_StopChannel.

Points: t = step time: where the step started (``StepProgress.elapsed_s``) plus the
technique's TDataInfos.StartTime plus the row's time since the technique started (the time
origin easy-biologic and pyeclab use, ``decoding``), V = Ewe, I (0 for OCV, which measures
no current), Q integrated from I (trapezoids; none of the techniques used records a charge
column), T = NaN. Impedance points (PEIS/GEIS process 1)
carry f, Z', Z'', V_dc = Ewe, t.

Why a step ended is inferred, since the device does not say: a technique that ran its whole
duration ended on time (or on charge, when the duration is |Q|/|I|); one that stopped
earlier ended on the limit its last point meets (or comes nearest to). Conditions the
techniques cannot hold (``TechniquePlan.watched``) are checked here on the points.

One lock per instrument: EClib is called from one thread at a time (the guide says its
functions are thread-safe; one lock keeps a read's GetData calls together).

Rows are decoded per board family (VMP3 family: VMP3, VSP, SP-50/150 …; SP-300 family:
SP-200/300, VSP-300, VMP-300 …), as easy-biologic, pyeclab and the vendor's kbio_tech
examples tell them apart; rows of a layout not known for the technique and the channel's
board raise ``decoding.UnknownRowLayout`` naming both, never a wrong number.

Phase_Zwe (PEIS/GEIS impedance rows) is read in radians (``decoding.PHASE_ZWE_UNIT``).
Radians: the guide (§3.5), easy-biologic's captured VSP-300 spectrum (phases within ±π
for WE and CE, and only radians agree with how its |Z| falls with frequency). Degrees:
MaxThePrisberry/battery-tester ``biologic_dll.c`` (multiplies by π/180) and a public
impedance.py fitting script, both of whose degree values come from EC-Lab data files
(Phase(Z)/deg), not from BL_GetData. ``decoding`` gives the details; what stays
unconfirmed without a unit is ``UNCONFIRMED``.

Followed: EC-Lab Development Package User's Guide v6.11 (May 2024); the vendor's Python
examples (kbio_api.py, kbio_tech.py, ex_tech_OCV.py, ex_tech_CP.py); easy-biologic
(bicarlsen/easy-biologic, ``lib/data_parser.py``); pyeclab (federicoscarpioni/pyeclab,
``channel/buffer_converters.py``). Not run against a real unit.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cyclerctl.plan import EndCondition, Ref, Step

from ..base import (
    IMPEDANCE_DTYPE,
    SAMPLE_DTYPE,
    Capabilities,
    Identity,
    Samples,
    StepProgress,
)
from . import decoding
from . import eclib_types as T
from .decoding import PHASE_ZWE_UNIT, Floats, Rows, Words, decode, family_of_board, ieee_singles
from .eclib import EClib
from .techniques import NATIVE_END_CONDITIONS, Settings, TechniquePlan, plan_step

#: Phase_Zwe's unit, as decoded (``decoding``): the commissioning check on an RC dummy tests it.
PHASE_UNIT = PHASE_ZWE_UNIT
#: What this driver assumes without having run on a unit (``cyclerctl probe`` lists it).
UNCONFIRMED: tuple[str, ...] = (
    *decoding.UNCONFIRMED,
    "Exit_Cond values (0 next step, 1 next technique, 2 stop) beyond the guide's table",
    "a limit test ends its technique at the point where it is met",
    "why a step ended is inferred from its last point: the device reports no end reason",
)

STEP_KINDS = frozenset({"rest", "cc", "cv", "cccv", "eis", "sweep"})
#: GetData calls one read may make while the channel memory still holds data.
MAX_CALLS_PER_READ = 256
#: GetData calls to drain a channel before a new step (after BL_StopChannel).
MAX_DRAIN_CALLS = 100_000
#: Ewe ranges ±10 V (KBIO_ERANGE_10) on both series.
VOLTAGE_RANGE_V = (-10.0, 10.0)
#: BioLogic's EIS frequency span for these series (datasheets, not the Development Package).
FREQUENCY_RANGE_HZ = (1e-5, 1e6)


class BioLogicInstrument:
    """One BioLogic instrument at ``address`` ("USB0", "192.168.0.2", …) through ``eclib``."""

    def __init__(
        self,
        address: str,
        eclib: EClib,
        *,
        name: str = "biologic",
        virtual_time: bool = False,
        record_every_s: float = 1.0,
        ecc_dir: str | None = None,
    ) -> None:
        self.address = address
        self.ecc_dir = ecc_dir  # where the .ecc files are; None: EClib finds them by name
        self.eclib = eclib
        self.lock = threading.Lock()
        self.name = name
        self.virtual_time = virtual_time
        self.record_every_s = record_every_s
        self.device_id: int | None = None
        self._channels: tuple[BioLogicChannel, ...] = ()
        self._identity = Identity("biologic", "BioLogic", "(not connected)", "", "")

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def channels(self) -> tuple[BioLogicChannel, ...]:
        return self._channels

    def connect(self) -> None:
        with self.lock:
            device_id, device = self.eclib.connect(self.address)
            self.device_id = device_id
            plugged = self.eclib.get_channels_plugged(device_id)
            if not plugged:
                raise RuntimeError(f"BioLogic at {self.address}: no channel plugged")
            boards = {ch: self.eclib.get_channel_board_type(device_id, ch) for ch in plugged}
            self.eclib.load_firmware(device_id, plugged)
            infos = {ch: self.eclib.get_channel_infos(device_id, ch) for ch in plugged}
        for ch, info in infos.items():
            if info.FirmwareCode != T.FIRMWARE_KERNEL:
                raise RuntimeError(
                    f"BioLogic at {self.address}, channel {ch + 1}: the library's kernel is "
                    f"not loaded (firmware code {info.FirmwareCode}); is EC-Lab using it?"
                )
        self._channels = tuple(BioLogicChannel(self, ch, boards[ch], infos[ch]) for ch in plugged)
        model = T.DEVICE_NAMES.get(device.DeviceCode, f"device code {device.DeviceCode}")
        serials = ",".join(str(infos[ch].BoardSerialNumber) for ch in plugged)
        self._identity = Identity(
            driver="biologic",
            vendor="BioLogic",
            model=model,
            serial=f"board {serials}" if len(plugged) == 1 else f"boards {serials}",
            firmware=(
                f"comm {device.FirmwareVersion / 100:.2f} "
                f"({device.FirmwareDate_yyyy}-{device.FirmwareDate_mm:02d}-"
                f"{device.FirmwareDate_dd:02d}), kernel {infos[plugged[0]].FirmwareVersion}"
            ),
        )

    def close(self) -> None:
        """Leave every cell at open circuit and release the instrument."""
        if self.device_id is None:
            return
        for channel in self._channels:
            channel.stop()
        with self.lock:
            self.eclib.disconnect(self.device_id)
        self.device_id = None


@dataclass(slots=True)
class _Run:
    plan: TechniquePlan
    t_last: float  # step time of the last point
    q_last: float  # step charge at it
    i_last: float | None = None
    v_last: float = math.nan
    technique: int = 0  # index of the technique the last rows came from
    origin: float = 0.0  # step time at BL_StartChannel (where a resumed step starts)
    offsets: dict[int, float] = field(default_factory=dict)  # technique → step time at its t=0
    stopping: bool = False  # BL_StopChannel sent; drain, then end without a reason
    ended: bool = False
    end_reason: str | None = None


class BioLogicChannel:
    def __init__(
        self, instrument: BioLogicInstrument, channel: int, board_type: int, infos: T.TChannelInfos
    ) -> None:
        self._instrument = instrument
        self.channel = channel
        self.board_type = board_type
        self.family = family_of_board(board_type)  # row layouts (None: none known)
        self.ieee = int(infos.FloatFormat) == 1
        self._name = f"{instrument.name}:{channel + 1}"
        self.settings = Settings(board_type=board_type, record_every_s=instrument.record_every_s)
        max_range = int(infos.MaxIRange)
        current_max = 10.0 ** (max_range - 10) if T.IRANGE_1nA <= max_range <= T.IRANGE_1A else 1.0
        eis = bool(infos.Zboard)
        self._capabilities = Capabilities(
            voltage_range_V=VOLTAGE_RANGE_V,
            current_max_A=current_max,
            step_kinds=STEP_KINDS if eis else STEP_KINDS - {"eis"},
            native_end_conditions=NATIVE_END_CONDITIONS,
            eis=eis,
            frequency_range_Hz=FREQUENCY_RANGE_HZ if eis else None,
            virtual_time=instrument.virtual_time,
        )
        self._run: _Run | None = None
        self._busy = False  # a technique may still run or hold data on the device

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- Channel ---------------------------------------------------------------------------

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        if step.kind not in self._capabilities.step_kinds:
            raise ValueError(f"step {step.name!r}: {self._name} cannot run {step.kind} steps")
        progress = progress or StepProgress()
        plan = plan_step(step, self.settings, progress.elapsed_s, progress.charge_C)
        eclib, device_id = self._instrument.eclib, self._device_id()
        with self._instrument.lock:
            self._settle()
            for k, technique in enumerate(plan.techniques):
                eclib.load_technique(
                    device_id,
                    self.channel,
                    self._ecc_path(technique.file_name(self.board_type)),
                    technique.params,
                    first=k == 0,
                    last=k == len(plan.techniques) - 1,
                )
            eclib.start_channel(device_id, self.channel)
            self._busy = True
        self._run = _Run(
            plan,
            progress.elapsed_s,
            progress.charge_C,
            origin=progress.elapsed_s,
            offsets={0: progress.elapsed_s},
        )

    def read(self) -> Samples:
        run = self._run
        if run is None:
            return Samples(ended=True)
        if run.ended:
            return Samples(ended=True, end_reason=run.end_reason, impedance=self._no_impedance())
        points: list[np.ndarray] = []
        impedance: list[np.ndarray] = []
        finished = False
        with self._instrument.lock:
            for _ in range(MAX_CALLS_PER_READ):
                data = self._instrument.eclib.get_data(self._device_id(), self.channel)
                rows = decode(data, self.board_type, self._to_single)
                if len(rows.t_s):
                    block, z = self._convert(run, rows)
                    points.append(block)
                    if z is not None:
                        impedance.append(z)
                memory = int(data.values.MemFilled)
                finished = int(data.values.State) != T.STATE_RUN and memory == 0
                if memory == 0:
                    break
        block = np.concatenate(points) if points else np.empty(0, dtype=SAMPLE_DTYPE)
        z_block = np.concatenate(impedance) if impedance else self._no_impedance()
        hit = self._watched_hit(run, block, z_block)
        if hit is not None:
            t_end, reason = hit
            block = block[block["t"] <= t_end]
            if z_block is not None:
                z_block = z_block[z_block["t"] <= t_end]
            run.ended, run.end_reason = True, reason
            if finished:
                self._busy = False
            else:
                self._stop_device(run)
        elif finished:
            self._busy = False
            run.ended = True
            run.end_reason = None if run.stopping else self._inferred_reason(run)
        return Samples(block, ended=run.ended, end_reason=run.end_reason, impedance=z_block)

    def stop(self) -> None:
        run = self._run
        if run is None or run.ended or run.stopping:
            return
        self._stop_device(run)

    # -- helpers -----------------------------------------------------------------------------

    def _ecc_path(self, file_name: str) -> str:
        folder = self._instrument.ecc_dir
        return file_name if folder is None else os.path.join(folder, file_name)

    def _device_id(self) -> int:
        if self._instrument.device_id is None:
            raise RuntimeError(f"{self._name}: the instrument is not connected")
        return self._instrument.device_id

    def _stop_device(self, run: _Run) -> None:
        run.stopping = True
        with self._instrument.lock:
            self._instrument.eclib.stop_channel(self._device_id(), self.channel)

    def _settle(self) -> None:
        """Before loading: the previous step's techniques stopped, its memory drained."""
        if not self._busy:
            return
        eclib, device_id = self._instrument.eclib, self._device_id()
        eclib.stop_channel(device_id, self.channel)
        for _ in range(MAX_DRAIN_CALLS):
            data = eclib.get_data(device_id, self.channel)
            if int(data.values.State) != T.STATE_RUN and int(data.values.MemFilled) == 0:
                break
        self._busy = False

    def _to_single(self, words: Words) -> Floats:
        if self.ieee:
            return ieee_singles(words)
        convert = self._instrument.eclib.convert_channel_numeric_into_single
        return np.array([convert(int(w), self.board_type) for w in words], dtype=np.float64)

    def _convert(self, run: _Run, rows: Rows) -> tuple[np.ndarray, np.ndarray | None]:
        offset = self._offset(run, rows)
        t = rows.t_s + offset
        out = np.empty(len(t), dtype=SAMPLE_DTYPE)
        out["t"], out["V"], out["I"], out["T"] = t, rows.Ewe, rows.I, np.nan
        # charge: trapezoids from the last point of the step
        t_prev = np.concatenate(([run.t_last], t[:-1]))
        i_prev = np.concatenate(([rows.I[0] if run.i_last is None else run.i_last], rows.I[:-1]))
        out["Q"] = run.q_last + np.cumsum(0.5 * (rows.I + i_prev) * np.maximum(t - t_prev, 0.0))
        run.t_last, run.q_last = float(t[-1]), float(out["Q"][-1])
        run.i_last, run.v_last = float(rows.I[-1]), float(rows.Ewe[-1])
        if rows.frequency_Hz is None or rows.Zre is None or rows.Zim is None:
            return out, None
        z = np.empty(len(t), dtype=IMPEDANCE_DTYPE)
        z["f"], z["Zre"], z["Zim"] = rows.frequency_Hz, rows.Zre, rows.Zim
        z["V_dc"], z["T"], z["t"] = rows.Ewe, np.nan, t
        return out, z

    def _offset(self, run: _Run, rows: Rows) -> float:
        """Step time at the technique's t = 0: the step's origin plus TDataInfos.StartTime."""
        run.offsets[rows.technique_index] = run.origin + rows.start_s
        run.technique = max(run.technique, rows.technique_index)
        return run.offsets[rows.technique_index]

    def _watched_hit(
        self, run: _Run, block: np.ndarray, z: np.ndarray | None
    ) -> tuple[float, str] | None:
        best: tuple[float, str] | None = None
        for condition in run.plan.watched:
            index = _first_met(condition, block)
            t_hit = None if index is None else float(block["t"][index])
            if condition.kind == "time" and z is not None and len(z):
                late = np.nonzero(z["t"] >= _value(condition))[0]
                if len(late):
                    t_z = float(z["t"][late[0]])
                    t_hit = t_z if t_hit is None else min(t_hit, t_z)
            if t_hit is not None and (best is None or t_hit < best[0]):
                best = (t_hit, condition.reason)
        return best

    def _inferred_reason(self, run: _Run) -> str | None:
        plan = run.plan
        last = len(plan.techniques) - 1
        if run.technique < last:
            return None  # stopped before its last technique
        if plan.done_reason is not None:
            return plan.done_reason
        technique = plan.techniques[last]
        ran = run.t_last - run.offsets.get(last, 0.0)
        duration = technique.duration_s
        if duration is not None and ran >= duration - 1e-3:
            return technique.duration_reason
        misses = [(_miss(c, run.v_last, run.i_last or 0.0), c) for c in technique.limits]
        met = [c for miss, c in misses if miss <= _tolerance(c)]
        if met:
            return met[0].reason
        if duration is not None and ran >= duration - self.settings.record_every_s - 1e-3:
            return technique.duration_reason
        if misses:
            return min(misses, key=lambda m: m[0])[1].reason
        return None

    def _no_impedance(self) -> np.ndarray | None:
        run = self._run
        if (
            run is not None
            and run.plan.done_reason is not None
            and run.plan.techniques[0].ecc.stem in ("peis", "geis")
        ):
            return np.empty(0, dtype=IMPEDANCE_DTYPE)
        return None


def _value(condition: EndCondition) -> float:
    if isinstance(condition.value, Ref):
        raise ValueError(f"{condition.kind}: the step was not bound to its loop variables")
    return float(condition.value)


def _first_met(condition: EndCondition, block: np.ndarray) -> int | None:
    if not len(block):
        return None
    value = _value(condition)
    tests: dict[str, Callable[[], np.ndarray]] = {
        "time": lambda: block["t"] >= value,
        "voltage_above": lambda: block["V"] >= value,
        "voltage_below": lambda: block["V"] <= value,
        "current_below": lambda: np.abs(block["I"]) < value,
    }
    mask = tests[condition.kind]()
    index = int(np.argmax(mask))
    return index if mask[index] else None


def _miss(condition: EndCondition, V: float, I: float) -> float:
    """How far the last point is from meeting ``condition`` (0: met)."""
    value = _value(condition)
    if condition.kind == "voltage_above":
        return max(0.0, value - V)
    if condition.kind == "voltage_below":
        return max(0.0, V - value)
    if condition.kind == "current_below":
        return max(0.0, abs(I) - value)
    return math.inf


def _tolerance(condition: EndCondition) -> float:
    """How near counts as met: the device compares before its point is recorded."""
    if condition.kind == "current_below":
        return 0.05 * abs(_value(condition))
    return 5e-3
