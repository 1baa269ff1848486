"""The EClib binding: BioLogic's EC-Lab Development Package library, one method per call.

``EClib`` wraps a library object whose attributes are the ``BL_*`` entry points: on a lab
PC ``ctypes.WinDLL("EClib64.dll")`` (stdcall, guide §3.1), in tests the emulated library
(``emulated_eclib``). Each entry point gets the restype/argtypes the vendor header declares
(``eclib_types.PROTOTYPES``); every pointer argument is a ``ctypes.pointer`` to a structure
or array the caller owns, as in the vendor's examples. A negative return code (guide §5.4)
raises :class:`EClibError` naming the function, the code and the library's own message
(``BL_GetErrorMsg``).

Channels are 0-based here, as in the DLL (the vendor's Python wrapper ``kbio_api`` is
1-based; this binding is not).

Followed: EC-Lab Development Package User's Guide v6.11 (May 2024) §4 "Using the library",
§6 "Functions reference"; the vendor's Python examples (``kbio_api.py``, ``ex_tech_OCV.py``,
``ex_tech_CP.py``). Not run against a real unit or a real EClib64.dll.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import c_bool, c_char_p, c_float, c_int32, c_uint8, c_uint32
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import eclib_types as T

DLL_NAME = "EClib64.dll" if sys.maxsize > 2**32 else "EClib.dll"
CONNECT_TIMEOUT_S = 5  # the guide recommends 5 s
MESSAGE_CHARS = 255

ParamValue = bool | int | float


class EClibError(RuntimeError):
    """An EClib function returned a negative code."""

    def __init__(self, code: int, function: str, message: str) -> None:
        self.code = code
        self.function = function
        self.message = message
        super().__init__(f"{function} failed: {message} ({T.error_name(code)}, {code})")


@dataclass(frozen=True, slots=True)
class Param:
    """One technique parameter as BL_LoadTechnique receives it (index: ParamIndex)."""

    label: str
    value: ParamValue
    index: int = 0

    @property
    def type_name(self) -> str:
        if isinstance(self.value, bool):
            return "bool"
        return "int" if isinstance(self.value, int) else "single"


class DataRead(NamedTuple):
    """What one BL_GetData call returned."""

    words: npt.NDArray[np.uint32]  # NbRows × NbCols words, row by row
    infos: T.TDataInfos
    values: T.TCurrentValues


def load_eclib(path: str | os.PathLike[str] | None = None) -> EClib:
    """The vendor library at ``path`` (default: ``EClib64.dll`` on the DLL search path)."""
    if sys.platform != "win32":
        raise OSError(
            "EClib is a Windows DLL (stdcall); on this system use the emulated library "
            "(--driver biologic --address emulated)"
        )
    library = ctypes.WinDLL(str(path) if path is not None else DLL_NAME)
    return EClib(library)


class EClib:
    """The documented BL_* calls, raising EClibError on failure."""

    def __init__(self, library: Any) -> None:
        self._library = library
        self._functions: dict[str, Any] = {}
        for name, (restype, argtypes) in T.PROTOTYPES.items():
            function = getattr(library, name, None)
            if function is None:
                continue  # an older DLL without it; calling it raises below
            function.restype = restype
            function.argtypes = argtypes
            self._functions[name] = function

    def _call(self, name: str, *args: Any) -> int:
        function = self._functions.get(name)
        if function is None:
            raise EClibError(
                T.ERR_GEN_FUNCTIONFAILED, name, "the library does not export this function"
            )
        code = int(function(*args))
        if code < 0:
            raise EClibError(code, name, self._message(code))
        return code

    def _message(self, code: int) -> str:
        function = self._functions.get("BL_GetErrorMsg")
        if function is not None:
            buffer = ctypes.create_string_buffer(MESSAGE_CHARS + 1)
            size = c_uint32(MESSAGE_CHARS)
            if function(code, buffer, ctypes.pointer(size)) == 0 and buffer.value:
                return buffer.value.decode("latin-1")
        return T.error_text(code)

    # -- general and communication (guide §6.2, §6.3) --------------------------------------

    def get_lib_version(self) -> str:
        buffer = ctypes.create_string_buffer(MESSAGE_CHARS + 1)
        size = c_uint32(MESSAGE_CHARS)
        self._call("BL_GetLibVersion", buffer, ctypes.pointer(size))
        return buffer.value.decode("latin-1")

    def get_error_msg(self, code: int) -> str:
        return self._message(code)

    def connect(
        self, address: str, timeout_s: int = CONNECT_TIMEOUT_S
    ) -> tuple[int, T.TDeviceInfos]:
        device_id = c_int32(0)
        infos = T.TDeviceInfos()
        self._call(
            "BL_Connect",
            c_char_p(address.encode()),
            c_uint8(timeout_s),
            ctypes.pointer(device_id),
            ctypes.pointer(infos),
        )
        return device_id.value, infos

    def disconnect(self, device_id: int) -> None:
        self._call("BL_Disconnect", c_int32(device_id))

    # -- firmware and channel information (guide §6.4, §6.5) -------------------------------

    def get_channels_plugged(self, device_id: int) -> list[int]:
        plugged = (c_uint8 * T.MAX_CHANNELS)()
        self._call(
            "BL_GetChannelsPlugged",
            c_int32(device_id),
            ctypes.cast(plugged, T.P_UINT8),
            c_uint8(T.MAX_CHANNELS),
        )
        return [ch for ch in range(T.MAX_CHANNELS) if plugged[ch]]

    def get_channel_board_type(self, device_id: int, channel: int) -> int:
        board = c_uint32(0)
        self._call(
            "BL_GetChannelBoardType", c_int32(device_id), c_uint8(channel), ctypes.pointer(board)
        )
        return board.value

    def load_firmware(
        self,
        device_id: int,
        channels: list[int],
        *,
        force_reload: bool = False,
        bin_file: str | None = None,
        xlx_file: str | None = None,
    ) -> list[int]:
        """Load the kernel on ``channels``; None files mean the library's defaults (§6.4).

        Returns the per-channel result codes; a negative one raises for that channel.
        """
        selected = (c_uint8 * T.MAX_CHANNELS)()
        for ch in channels:
            selected[ch] = 1
        results = (c_int32 * T.MAX_CHANNELS)()
        self._call(
            "BL_LoadFirmware",
            c_int32(device_id),
            ctypes.cast(selected, T.P_UINT8),
            ctypes.cast(results, T.P_INT32),
            c_uint8(T.MAX_CHANNELS),
            c_bool(False),  # ShowGauge: no window on a headless PC
            c_bool(force_reload),
            None if bin_file is None else c_char_p(bin_file.encode()),
            None if xlx_file is None else c_char_p(xlx_file.encode()),
        )
        for ch in channels:
            if results[ch] < 0:
                raise EClibError(
                    results[ch], f"BL_LoadFirmware (channel {ch + 1})", self._message(results[ch])
                )
        return [results[ch] for ch in channels]

    def get_channel_infos(self, device_id: int, channel: int) -> T.TChannelInfos:
        infos = T.TChannelInfos()
        self._call(
            "BL_GetChannelInfos", c_int32(device_id), c_uint8(channel), ctypes.pointer(infos)
        )
        return infos

    # -- techniques (guide §6.6) -----------------------------------------------------------

    def define_parameters(
        self, params: list[Param] | tuple[Param, ...]
    ) -> ctypes.Array[T.TEccParam]:
        """A TEccParam array filled through BL_Define{Bool,Sgl,Int}Parameter."""
        array = (T.TEccParam * len(params))()
        for k, param in enumerate(params):
            label = c_char_p(param.label.encode())
            target = ctypes.pointer(array[k])
            if isinstance(param.value, bool):
                self._call(
                    "BL_DefineBoolParameter",
                    label,
                    c_bool(param.value),
                    c_int32(param.index),
                    target,
                )
            elif isinstance(param.value, int):
                self._call(
                    "BL_DefineIntParameter",
                    label,
                    c_int32(param.value),
                    c_int32(param.index),
                    target,
                )
            else:
                self._call(
                    "BL_DefineSglParameter",
                    label,
                    c_float(param.value),
                    c_int32(param.index),
                    target,
                )
        return array

    def load_technique(
        self,
        device_id: int,
        channel: int,
        ecc_file: str,
        params: list[Param] | tuple[Param, ...],
        *,
        first: bool,
        last: bool,
        display: bool = False,
    ) -> None:
        array = self.define_parameters(params)
        packed = T.TEccParams(len(params), ctypes.cast(array, ctypes.POINTER(T.TEccParam)))
        self._call(
            "BL_LoadTechnique",
            c_int32(device_id),
            c_uint8(channel),
            c_char_p(ecc_file.encode()),
            packed,
            c_bool(first),
            c_bool(last),
            c_bool(display),
        )

    # -- start/stop and data (guide §6.7, §6.8) --------------------------------------------

    def start_channel(self, device_id: int, channel: int) -> None:
        self._call("BL_StartChannel", c_int32(device_id), c_uint8(channel))

    def stop_channel(self, device_id: int, channel: int) -> None:
        self._call("BL_StopChannel", c_int32(device_id), c_uint8(channel))

    def get_current_values(self, device_id: int, channel: int) -> T.TCurrentValues:
        values = T.TCurrentValues()
        self._call(
            "BL_GetCurrentValues", c_int32(device_id), c_uint8(channel), ctypes.pointer(values)
        )
        return values

    def get_data(self, device_id: int, channel: int) -> DataRead:
        buffer = T.TDataBuffer()
        infos = T.TDataInfos()
        values = T.TCurrentValues()
        self._call(
            "BL_GetData",
            c_int32(device_id),
            c_uint8(channel),
            ctypes.pointer(buffer),
            ctypes.pointer(infos),
            ctypes.pointer(values),
        )
        size = max(0, infos.NbRows) * max(0, infos.NbCols)
        if size > T.DATA_BUFFER_WORDS:
            raise EClibError(-404, "BL_GetData", T.error_text(-404))
        words = np.ctypeslib.as_array(buffer.data)[:size].astype(np.uint32)
        return DataRead(words, infos, values)

    def convert_channel_numeric_into_single(self, word: int, board_type: int) -> float:
        value = c_float(0.0)
        self._call(
            "BL_ConvertChannelNumericIntoSingle",
            c_uint32(word),
            ctypes.pointer(value),
            c_uint32(board_type),
        )
        return float(value.value)
