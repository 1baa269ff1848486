"""An emulated EClib: the vendor's entry points, their C types, their error codes, the physics
of cyclerctl's simulator.

Every documented function the driver calls (``eclib_types.PROTOTYPES``) is a ctypes
``CFUNCTYPE`` object with the vendor's restype and argtypes: the binding hands it the same
pointers and by-value structures it would hand EClib64.dll, and it fills the same
TDeviceInfos / TChannelInfos / TEccParam / TDataBuffer / TDataInfos / TCurrentValues. It
answers with the documented codes: any call needing an instrument before BL_Connect (or with
another ID) → ERR_GEN_NOTCONNECTED (−1); a channel that is not there →
ERR_GEN_CHANNELNOTPLUGGED (−3); a technique before BL_LoadFirmware →
ERR_FIRM_FIRMWARENOTLOADED (−308); an unknown .ecc → ERR_TECH_ECCFILENOTEXISTS (−400); a
file of the other board family (ocv4.ecc on a VMP-3 board) → ERR_TECH_INCOMPATIBLEECC
(−401); a parameter label the technique does not have, or of the wrong type →
ERR_GEN_INVALIDPARAMETERS (−4; the guide says only that the call "will issue an error");
loading or starting a running channel → ERR_GEN_CHANNEL_RUNNING (−13). A fault inside the
emulator itself (:class:`emulated_channel.NotEmulated`) returns ERR_GEN_FUNCTIONFAILED (−6)
and BL_GetErrorMsg(−6) then explains it, since an exception cannot cross a C callback.

Names the vendor does not document are not exported (``AttributeError``, as ctypes says of
a missing DLL symbol), and documented ones this emulator does not implement are not either.

``calls`` records every call in order, arguments decoded (strings, numbers, parameter
lists as :class:`eclib.Param`), with the code returned: the exchange a binding test replays.

Each channel holds a ``SimChannel`` of ``SimInstrument`` (same cell files, same seeds), so
a run here and a run on the simulator directly see the same cell. With ``dummy_load`` the
channels hold a :class:`~dummy_load.DummyLoad` instead (a resistor, or R in series with
R‖C: what a technician commissions an instrument on), ``dummy_channels`` of them.

Rows are written in the layout of the model's board family (``decoding``): VMP3, VSP,
SP-50 and SP-150 are VMP3-family boards (``name.ecc``), SP-300, VSP-300 and VMP-300
SP-300-family ones (``name4.ecc``). ``miscale="phase_degrees"`` writes Phase_Zwe and
Phase_Zce in the other unit than ``decoding.PHASE_ZWE_UNIT`` (degrees where the decoder
reads radians): a deliberately broken emulator for the commissioning check to catch.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from cyclerctl.plan import CellSummary

from ..sim import SimChannel, SimInstrument
from . import ecc_catalog as C
from . import eclib_types as T
from .dummy_load import DummyLoad
from .eclib import Param
from .emulated_channel import (
    MISCALES,
    Chunk,
    EmulatedChannel,
    EmulatorRefusal,
    LoadedTechnique,
)

LIB_VERSION = "6.11 (cyclerctl emulation)"
DEVICE_ID = 1
FIRMWARE_VERSION = 1142  # communication firmware, shown /100 by the vendor's examples
KERNEL_FILES = {
    T.BOARD_ESSENTIAL: "kernel.bin",
    T.BOARD_PREMIUM: "kernel4.bin",
    T.BOARD_PREMIUM_P: "kernel5.bin",
}

#: model name → (TDeviceInfos.DeviceCode, board type, slots)
MODELS: dict[str, tuple[int, int, int]] = {
    "VMP3": (5, T.BOARD_ESSENTIAL, 16),
    "VSP": (6, T.BOARD_ESSENTIAL, 8),
    "SP-50": (13, T.BOARD_ESSENTIAL, 1),
    "SP-150": (14, T.BOARD_ESSENTIAL, 1),
    "SP-300": (16, T.BOARD_PREMIUM, 2),
    "VSP-300": (20, T.BOARD_PREMIUM, 6),
    "VMP-300": (12, T.BOARD_PREMIUM, 16),
}
MAX_I_RANGE = 9  # 100 mA: the simulated channel's ±0.1 A


class EClibCall(NamedTuple):
    name: str
    args: tuple[Any, ...]
    code: int = 0


class EmulatedEClib:
    """EClib64.dll as far as the driver uses it, in-process, on simulated cells."""

    def __init__(
        self,
        cells: Sequence[CellSummary],
        *,
        seed: int | None = None,
        virtual_time: bool = True,
        speed: float = 1.0,
        model: str = "VMP3",
        sample_interval_s: float = 1.0,
        dummy_load: DummyLoad | None = None,
        dummy_channels: int = 1,
        miscale: str | None = None,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"emulated model {model!r}: one of {', '.join(MODELS)}")
        if miscale is not None and miscale not in MISCALES:
            raise ValueError(f"miscale {miscale!r}: one of {', '.join(MISCALES)}, or None")
        self.model = model
        self.miscale = miscale
        self.device_code, self.board_type, slots = MODELS[model]
        count = len(cells) if dummy_load is None else dummy_channels
        if dummy_load is not None and cells:
            raise ValueError("an emulated BioLogic holds cells or a dummy load, not both")
        if not 1 <= count <= slots:
            raise ValueError(f"an emulated {model} holds 1 to {slots} cells, not {count}")
        if dummy_load is None:
            self.simulator: SimInstrument | None = SimInstrument(
                cells,
                seed=seed,
                realtime=not virtual_time,
                speed=speed,
                sample_interval_s=sample_interval_s,
                name="biologic",
            )
            sims = list(self.simulator.channels)
        else:
            self.simulator = None
            base = dummy_load.seed if seed is None else seed
            sims = [
                SimChannel(
                    dummy_load.copy(),
                    name=f"biologic:{k + 1}",
                    rng=np.random.default_rng([base, k]),
                    sample_interval_s=sample_interval_s,
                    realtime=not virtual_time,
                    speed=speed,
                    model_name="dummy load",
                )
                for k in range(count)
            ]
        self.channels = [
            EmulatedChannel(sim, k, self.board_type, serial=24_000 + k, miscale=miscale)
            for k, sim in enumerate(sims)
        ]
        self.calls: list[EClibCall] = []
        self.connected = False
        self._fault = ""
        for name, (restype, argtypes) in T.PROTOTYPES.items():
            handler = getattr(self, "_" + name[3:])
            prototype = ctypes.CFUNCTYPE(restype, *argtypes)
            setattr(self, name, prototype(self._guarded(name, handler)))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("BL_"):
            raise AttributeError(f"function '{name}' not found in the emulated EClib")
        raise AttributeError(name)

    # -- recording and guarding -------------------------------------------------------------

    def _guarded(self, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            position = len(self.calls)
            try:
                result = handler(*args)
            except EmulatorRefusal as refusal:
                result = refusal.code
            except Exception as exc:  # no exception may cross the C boundary
                self._fault = f"{name}: {type(exc).__name__}: {exc}"
                result = T.ERR_GEN_FUNCTIONFAILED
            if position < len(self.calls):
                code = int(result) if not isinstance(result, bool) else 0
                self.calls[position] = self.calls[position]._replace(code=code)
            return result

        return call

    def _log(self, name: str, *args: Any) -> None:
        self.calls.append(EClibCall(name, args))

    def take_calls(self) -> list[EClibCall]:
        """The calls recorded since the last take (a test asserts them and nothing more)."""
        calls, self.calls = self.calls, []
        return calls

    def _device(self, device_id: int) -> None:
        if not self.connected or device_id != DEVICE_ID:
            raise EmulatorRefusal(T.ERR_GEN_NOTCONNECTED)

    def _channel(self, device_id: int, channel: int) -> EmulatedChannel:
        self._device(device_id)
        if not 0 <= channel < len(self.channels):
            raise EmulatorRefusal(T.ERR_GEN_CHANNELNOTPLUGGED)
        return self.channels[channel]

    # -- general and communication ----------------------------------------------------------

    def _GetLibVersion(self, text: Any, size: Any) -> int:
        self._log("BL_GetLibVersion")
        _write_text(text, size, LIB_VERSION)
        return 0

    def _GetErrorMsg(self, code: int, text: Any, size: Any) -> int:
        self._log("BL_GetErrorMsg", code)
        message = T.error_text(code)
        if code == T.ERR_GEN_FUNCTIONFAILED and self._fault:
            message = f"{message} (emulator: {self._fault})"
        _write_text(text, size, message)
        return 0

    def _Connect(self, address: bytes | None, timeout: int, device_id: Any, infos: Any) -> int:
        self._log("BL_Connect", (address or b"").decode(), timeout)
        if not address:
            return T.ERR_COMM_INVALIDIPADDRESS
        self.connected = True
        device_id.contents.value = DEVICE_ID
        info = infos.contents
        info.DeviceCode = self.device_code
        info.RAMSize = 64
        info.NumberOfChannels = len(self.channels)
        info.NumberOfSlots = MODELS[self.model][2]
        info.FirmwareVersion = FIRMWARE_VERSION
        info.FirmwareDate_yyyy, info.FirmwareDate_mm, info.FirmwareDate_dd = 2024, 5, 1
        info.NbOfConnectedPC = 1
        return 0

    def _Disconnect(self, device_id: int) -> int:
        self._log("BL_Disconnect", device_id)
        self._device(device_id)
        self.connected = False
        return 0

    def _TestConnection(self, device_id: int) -> int:
        self._log("BL_TestConnection", device_id)
        self._device(device_id)
        return 0

    # -- channel information and firmware -----------------------------------------------------

    def _GetChannelsPlugged(self, device_id: int, plugged: Any, size: int) -> int:
        self._log("BL_GetChannelsPlugged", device_id, size)
        self._device(device_id)
        for k in range(size):
            plugged[k] = 1 if k < len(self.channels) else 0
        return 0

    def _IsChannelPlugged(self, device_id: int, channel: int) -> bool:
        self._log("BL_IsChannelPlugged", device_id, channel)
        return self.connected and device_id == DEVICE_ID and 0 <= channel < len(self.channels)

    def _GetChannelBoardType(self, device_id: int, channel: int, board: Any) -> int:
        self._log("BL_GetChannelBoardType", device_id, channel)
        self._channel(device_id, channel)
        board.contents.value = self.board_type
        return 0

    def _LoadFirmware(
        self,
        device_id: int,
        selected: Any,
        results: Any,
        length: int,
        gauge: bool,
        force: bool,
        bin_file: bytes | None,
        xlx_file: bytes | None,
    ) -> int:
        chosen = [k for k in range(length) if selected[k]]
        self._log(
            "BL_LoadFirmware",
            device_id,
            tuple(chosen),
            length,
            gauge,
            force,
            None if bin_file is None else bin_file.decode(),
            None if xlx_file is None else xlx_file.decode(),
        )
        self._device(device_id)
        for k in range(length):
            results[k] = 0
        for k in chosen:
            if k >= len(self.channels):
                results[k] = T.ERR_GEN_CHANNELNOTPLUGGED
            elif bin_file is not None and bin_file.decode() != KERNEL_FILES[self.board_type]:
                results[k] = -300  # ERR_FIRM_FIRMFILENOTEXISTS: not this board's kernel
            else:
                self.channels[k].firmware_loaded = True
        return 0

    def _GetChannelInfos(self, device_id: int, channel: int, infos: Any) -> int:
        self._log("BL_GetChannelInfos", device_id, channel)
        ch = self._channel(device_id, channel)
        info = infos.contents
        info.Channel = channel
        info.BoardVersion = 11
        info.BoardSerialNumber = ch.serial
        info.FirmwareCode = T.FIRMWARE_KERNEL if ch.firmware_loaded else T.FIRMWARE_NONE
        info.FirmwareVersion = 6110 if ch.firmware_loaded else 0
        info.XilinxVersion = 0x0437
        info.Zboard = 1
        info.MemSize = 4 * 1024 * 1024
        info.MemFilled = ch.memory_bytes()
        info.State = ch.state
        info.MaxIRange, info.MinIRange = MAX_I_RANGE, T.IRANGE_1nA
        info.MaxBandwidth = 7 if self.board_type == T.BOARD_ESSENTIAL else 9
        info.NbOfTechniques = len(ch.loaded)
        info.FloatFormat = 1  # IEEE
        if not ch.firmware_loaded:
            return T.ERR_FIRM_FIRMWARENOTLOADED  # the structure is still filled
        return 0

    def _GetMessage(self, device_id: int, channel: int, text: Any, size: Any) -> int:
        self._log("BL_GetMessage", device_id, channel)
        self._channel(device_id, channel)
        _write_text(text, size, "")
        return 0

    # -- techniques ---------------------------------------------------------------------------

    def _define(
        self,
        name: str,
        label: bytes | None,
        kind: int,
        raw: int,
        value: Any,
        index: int,
        target: Any,
    ) -> int:
        text = (label or b"").decode()
        self._log(name, text, value, index)
        if not text or len(label or b"") >= T.PARAM_LABEL_CHARS or index < 0:
            return T.ERR_GEN_INVALIDPARAMETERS
        param = target.contents
        param.ParamStr = label
        param.ParamType = kind
        param.ParamVal = raw
        param.ParamIndex = index
        return 0

    def _DefineBoolParameter(
        self, label: bytes | None, value: bool, index: int, target: Any
    ) -> int:
        return self._define(
            "BL_DefineBoolParameter",
            label,
            T.PARAM_BOOLEAN,
            int(bool(value)),
            bool(value),
            index,
            target,
        )

    def _DefineSglParameter(
        self, label: bytes | None, value: float, index: int, target: Any
    ) -> int:
        raw = int(np.array([value], dtype=np.float32).view(np.int32)[0])
        return self._define(
            "BL_DefineSglParameter",
            label,
            T.PARAM_SINGLE,
            raw,
            float(np.float32(value)),
            index,
            target,
        )

    def _DefineIntParameter(self, label: bytes | None, value: int, index: int, target: Any) -> int:
        return self._define(
            "BL_DefineIntParameter", label, T.PARAM_INT32, int(value), int(value), index, target
        )

    def _LoadTechnique(
        self,
        device_id: int,
        channel: int,
        file_name: bytes | None,
        params: T.TEccParams,
        first: bool,
        last: bool,
        display: bool,
    ) -> int:
        name = (file_name or b"").decode()
        decoded = _decode_params(params)
        self._log("BL_LoadTechnique", device_id, channel, name, decoded, first, last, display)
        ch = self._channel(device_id, channel)
        if not ch.firmware_loaded:
            return T.ERR_FIRM_FIRMWARENOTLOADED
        ecc = _ecc_file(name, self.board_type)
        technique = LoadedTechnique(ecc, name, {})
        for param in decoded:
            kind = ecc.params.get(param.label) or C.HARDWARE.get(param.label)
            limit = ecc.array_length if param.label in ecc.per_step else 1
            if kind is None or kind != param.type_name or not 0 <= param.index < limit:
                return T.ERR_GEN_INVALIDPARAMETERS
            technique.params.setdefault(param.label, {})[param.index] = param.value
        ch.load(technique, first=first, last=last)
        return 0

    def _StartChannel(self, device_id: int, channel: int) -> int:
        self._log("BL_StartChannel", device_id, channel)
        self._channel(device_id, channel).start()
        return 0

    def _StopChannel(self, device_id: int, channel: int) -> int:
        self._log("BL_StopChannel", device_id, channel)
        self._channel(device_id, channel).stop()
        return 0

    # -- data ---------------------------------------------------------------------------------

    def _GetCurrentValues(self, device_id: int, channel: int, values: Any) -> int:
        self._log("BL_GetCurrentValues", device_id, channel)
        ch = self._channel(device_id, channel)
        _fill_values(values.contents, ch, ch.current_technique()[2])
        return 0

    def _GetData(self, device_id: int, channel: int, buffer: Any, infos: Any, values: Any) -> int:
        self._log("BL_GetData", device_id, channel)
        ch = self._channel(device_id, channel)
        chunk = ch.take()
        info = infos.contents
        if chunk is None:
            index, technique_id, timebase = ch.current_technique()
            info.NbRows = info.NbCols = 0
            info.TechniqueIndex, info.TechniqueID = index, technique_id
        else:
            _fill_buffer(buffer.contents, info, chunk)
            timebase = chunk.timebase_s
        _fill_values(values.contents, ch, timebase)
        return 0

    def _ConvertNumericIntoSingle(self, word: int, single: Any) -> int:
        self._log("BL_ConvertNumericIntoSingle", word)
        single.contents.value = float(np.array([word], dtype=np.uint32).view(np.float32)[0])
        return 0

    def _ConvertChannelNumericIntoSingle(self, word: int, single: Any, board: int) -> int:
        self._log("BL_ConvertChannelNumericIntoSingle", word, board)
        if board not in T.ECC_SUFFIX:
            return T.ERR_GEN_INVALIDPARAMETERS
        single.contents.value = float(np.array([word], dtype=np.uint32).view(np.float32)[0])
        return 0


# -- helpers ----------------------------------------------------------------------------------


def _ecc_file(name: str, board_type: int) -> C.EccFile:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if not base.endswith(".ecc"):
        raise EmulatorRefusal(T.ERR_TECH_ECCFILENOTEXISTS)
    stem = base[:-4]
    suffix = stem[-1] if stem[-1:] in ("4", "5") else ""
    stem = stem[: len(stem) - len(suffix)]
    if stem not in C.BY_STEM and stem not in C.OTHER_DOCUMENTED_STEMS:
        raise EmulatorRefusal(T.ERR_TECH_ECCFILENOTEXISTS)
    if suffix != T.ECC_SUFFIX[board_type]:
        raise EmulatorRefusal(T.ERR_TECH_INCOMPATIBLEECC)
    if stem not in C.BY_STEM:
        raise NotImplementedError(f"{base} is a documented technique this emulator does not run")
    return C.BY_STEM[stem]


def _decode_params(params: T.TEccParams) -> tuple[Param, ...]:
    out = []
    for k in range(params.len):
        p = params.pParams[k]
        raw = int(p.ParamVal)
        value: bool | int | float
        if p.ParamType == T.PARAM_BOOLEAN:
            value = raw != 0
        elif p.ParamType == T.PARAM_SINGLE:
            value = float(np.array([raw], dtype=np.int32).view(np.float32)[0])
        else:
            value = raw
        out.append(Param(p.ParamStr.decode(), value, int(p.ParamIndex)))
    return tuple(out)


def _fill_buffer(buffer: T.TDataBuffer, info: T.TDataInfos, chunk: Chunk) -> None:
    words = np.ascontiguousarray(chunk.rows, dtype=np.uint32).ravel()
    ctypes.memmove(ctypes.addressof(buffer.data), words.ctypes.data, 4 * words.size)
    info.IRQskipped = 0
    info.NbRows, info.NbCols = chunk.rows.shape
    info.TechniqueIndex = chunk.technique_index
    info.TechniqueID = chunk.technique_id
    info.ProcessIndex = chunk.process
    info.loop = 0
    info.StartTime = chunk.start_s
    info.MuxPad = 0


def _fill_values(values: T.TCurrentValues, ch: EmulatedChannel, timebase_s: float) -> None:
    values.State = ch.state
    values.MemFilled = ch.memory_bytes()
    values.TimeBase = timebase_s
    values.Ewe, values.I = ch.last_V, ch.last_I
    values.EweRangeMin, values.EweRangeMax = -10.0, 10.0
    values.IRange = MAX_I_RANGE
    values.ElapsedTime = ch.elapsed_s()
    values.Freq = ch.last_f


def _write_text(text: Any, size: Any, message: str) -> None:
    data = message.encode("latin-1", "replace")
    room = int(size.contents.value)
    data = data[: max(0, room - 1)]
    ctypes.memmove(text, data + b"\0", len(data) + 1)
    size.contents.value = len(data)
