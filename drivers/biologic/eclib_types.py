"""EClib's structures, constants and error codes, as the vendor documents them.

Transcribed (not copied) from the EC-Lab Development Package User's Guide v6.11 (May 2024),
§5 "Structures and Constants", and BioLogic's C header ``BLStructs.h`` ("Bio-Logic Header
file for ECLib C/C++ interface"), which declares every structure under ``#pragma pack(4)``:
hence ``_pack_ = 4`` here (it matters for the ``double`` in TDataInfos and the pointer in
TEccParams on 64-bit). Function prototypes follow the header typedefs (``int __stdcall
BL_GetData(int ID, uint8 channel, TDataBuffer_t*, TDataInfos_t*, TCurrentValues_t*)`` … in
the package's dynamic-loading wrapper header), cross-checked
against the argument types the vendor's Python example ``kbio_api.py`` declares. Output
text buffers are declared ``POINTER(c_char)`` (C ``char*``), so the callee can write them.

TChannelInfos: the guide's table ends at ``NbOfTechniques``; the newer header adds
``FloatFormat`` (0 = TI, 1 = IEEE) and ``CPUCIE``. The larger layout is declared so an
older DLL, which writes fewer bytes, can never write past the structure.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int32,
    c_uint8,
    c_uint32,
)
from typing import Any

MAX_CHANNELS = 16  # channels of one instrument, 0..15 in every call
DATA_BUFFER_WORDS = 1000  # TDataBuffer: array[1..1000] of uint32
PARAM_LABEL_CHARS = 64  # TEccParam.ParamStr: array[1..64] of char


class TDeviceInfos(ctypes.Structure):
    """Filled by BL_Connect."""

    _pack_ = 4
    _fields_ = [
        ("DeviceCode", c_int32),
        ("RAMSize", c_int32),
        ("CPU", c_int32),
        ("NumberOfChannels", c_int32),
        ("NumberOfSlots", c_int32),
        ("FirmwareVersion", c_int32),
        ("FirmwareDate_yyyy", c_int32),
        ("FirmwareDate_mm", c_int32),
        ("FirmwareDate_dd", c_int32),
        ("HTdisplayOn", c_int32),
        ("NbOfConnectedPC", c_int32),
    ]


class TChannelInfos(ctypes.Structure):
    """Filled by BL_GetChannelInfos."""

    _pack_ = 4
    _fields_ = [
        ("Channel", c_int32),
        ("BoardVersion", c_int32),
        ("BoardSerialNumber", c_int32),
        ("FirmwareCode", c_int32),
        ("FirmwareVersion", c_int32),
        ("XilinxVersion", c_int32),
        ("AmpCode", c_int32),
        ("NbAmps", c_int32),
        ("Lcboard", c_int32),
        ("Zboard", c_int32),
        ("RESERVED", c_int32),
        ("RESERVED2", c_int32),
        ("MemSize", c_int32),
        ("MemFilled", c_int32),
        ("State", c_int32),
        ("MaxIRange", c_int32),
        ("MinIRange", c_int32),
        ("MaxBandwidth", c_int32),
        ("NbOfTechniques", c_int32),
        ("FloatFormat", c_int32),
        ("CPUCIE", c_int32),
    ]


class TCurrentValues(ctypes.Structure):
    """Filled by BL_GetCurrentValues and BL_GetData."""

    _pack_ = 4
    _fields_ = [
        ("State", c_int32),
        ("MemFilled", c_int32),
        ("TimeBase", c_float),
        ("Ewe", c_float),
        ("EweRangeMin", c_float),
        ("EweRangeMax", c_float),
        ("Ece", c_float),
        ("EceRangeMin", c_float),
        ("EceRangeMax", c_float),
        ("Eoverflow", c_int32),
        ("I", c_float),
        ("IRange", c_int32),
        ("Ioverflow", c_int32),
        ("ElapsedTime", c_float),
        ("Freq", c_float),
        ("Rcomp", c_float),
        ("Saturation", c_int32),
        ("OptErr", c_int32),
        ("OptPos", c_int32),
    ]


class TDataInfos(ctypes.Structure):
    """What BL_GetData put in the buffer: rows × columns of one technique and process."""

    _pack_ = 4
    _fields_ = [
        ("IRQskipped", c_int32),
        ("NbRows", c_int32),
        ("NbCols", c_int32),
        ("TechniqueIndex", c_int32),
        ("TechniqueID", c_int32),
        ("ProcessIndex", c_int32),
        ("loop", c_int32),
        ("StartTime", c_double),
        ("MuxPad", c_int32),
    ]


class TDataBuffer(ctypes.Structure):
    _pack_ = 4
    _fields_ = [("data", c_uint32 * DATA_BUFFER_WORDS)]


class TEccParam(ctypes.Structure):
    """One technique parameter, filled by BL_Define{Bool,Sgl,Int}Parameter."""

    _pack_ = 4
    _fields_ = [
        ("ParamStr", c_char * PARAM_LABEL_CHARS),
        ("ParamType", c_int32),
        ("ParamVal", c_int32),  # the value's 32 bits: int32, 0/1, or an IEEE single
        ("ParamIndex", c_int32),
    ]


class TEccParams(ctypes.Structure):
    """The parameter array BL_LoadTechnique takes (by value)."""

    _pack_ = 4
    _fields_ = [("len", c_int32), ("pParams", POINTER(TEccParam))]


# -- constants (guide §5.3) ---------------------------------------------------------------

PARAM_INT32, PARAM_BOOLEAN, PARAM_SINGLE = 0, 1, 2
PARAM_TYPE_NAMES = {PARAM_INT32: "int", PARAM_BOOLEAN: "bool", PARAM_SINGLE: "single"}

STATE_STOP, STATE_RUN, STATE_PAUSE = 0, 1, 2

FIRMWARE_NONE, FIRMWARE_INTERPR, FIRMWARE_KERNEL = 0, 1, 5

#: BL_GetChannelBoardType: which .ecc family the channel runs (guide §5.3, §7.1).
BOARD_UNKNOWN, BOARD_ESSENTIAL, BOARD_PREMIUM, BOARD_PREMIUM_P = 0, 1, 2, 3
#: "name.ecc" on VMP-3 series boards, "name4.ecc" on VMP-300, "name5.ecc" on VMP-300 P.
ECC_SUFFIX = {BOARD_ESSENTIAL: "", BOARD_PREMIUM: "4", BOARD_PREMIUM_P: "5"}

#: TDeviceInfos.DeviceCode → model name.
DEVICE_NAMES = {
    0: "VMP",
    1: "VMP2",
    2: "MPG",
    3: "BiStat",
    4: "MCS-200",
    5: "VMP3",
    6: "VSP",
    7: "HCP-803",
    8: "EPP-400",
    9: "EPP-4000",
    10: "BiStat2",
    11: "FCT-150S",
    12: "VMP-300",
    13: "SP-50",
    14: "SP-150",
    15: "FCT-50S",
    16: "SP-300",
    17: "CLB-500",
    18: "HCP-1005",
    19: "CLB-2000",
    20: "VSP-300",
    21: "SP-200",
    22: "MPG2",
    27: "SP-240",
    28: "MPG-205",
    29: "MPG-210",
    30: "MPG-220",
    31: "MPG-240",
    32: "BP-300",
    33: "VMP-3e",
    34: "VSP-3e",
    35: "SP-50e",
    36: "SP-150e",
    255: "unknown",
}

#: I ranges (TEccParam "I_Range"): value k in 1..10 is the range 10^(k−10) A (1 nA … 1 A).
IRANGE_1nA, IRANGE_1A, IRANGE_AUTO = 1, 10, 12
ERANGE_2_5, ERANGE_5, ERANGE_10, ERANGE_AUTO = 0, 1, 2, 3
BANDWIDTH_5 = 5

#: TDataInfos.TechniqueID
TECH_OCV, TECH_CA, TECH_CP, TECH_CV, TECH_PEIS, TECH_GEIS = 100, 101, 102, 103, 104, 107
TECH_PDYN, TECH_CPLIMIT, TECH_CALIMIT, TECH_PDYNLIMIT = 124, 155, 157, 158

# -- error codes (guide §5.4), with the guide's descriptions --------------------------------

ERR_NOERROR = 0
ERR_GEN_NOTCONNECTED = -1
ERR_GEN_CHANNELNOTPLUGGED = -3
ERR_GEN_INVALIDPARAMETERS = -4
ERR_GEN_FUNCTIONFAILED = -6
ERR_GEN_CHANNEL_RUNNING = -13
ERR_COMM_CONNECTIONFAILED = -201
ERR_COMM_INVALIDIPADDRESS = -203
ERR_FIRM_FIRMWARENOTLOADED = -308
ERR_TECH_ECCFILENOTEXISTS = -400
ERR_TECH_INCOMPATIBLEECC = -401
ERR_TECH_LOADTECHNIQUEFAILED = -403

ERRORS: dict[int, tuple[str, str]] = {
    0: ("ERR_NOERROR", "no error"),
    -1: ("ERR_GEN_NOTCONNECTED", "no instrument connected"),
    -2: ("ERR_GEN_CONNECTIONINPROGRESS", "connection in progress"),
    -3: ("ERR_GEN_CHANNELNOTPLUGGED", "selected channel(s) unplugged"),
    -4: ("ERR_GEN_INVALIDPARAMETERS", "invalid function parameters"),
    -5: ("ERR_GEN_FILENOTEXISTS", "selected file does not exist"),
    -6: ("ERR_GEN_FUNCTIONFAILED", "function failed"),
    -7: ("ERR_GEN_NOCHANNELSELECTED", "no channel selected"),
    -8: ("ERR_GEN_INVALIDCONF", "invalid instrument configuration"),
    -9: ("ERR_GEN_ECLAB_LOADED", "EC-Lab firmware loaded on the instrument"),
    -10: ("ERR_GEN_LIBNOTCORRECTLYLOADED", "library not correctly loaded in memory"),
    -11: ("ERR_GEN_USBLIBRARYERROR", "USB library not correctly loaded in memory"),
    -12: ("ERR_GEN_FUNCTIONINPROGRESS", "function of the library already in progress"),
    -13: ("ERR_GEN_CHANNEL_RUNNING", "selected channel(s) already used"),
    -14: ("ERR_GEN_DEVICE_NOTALLOWED", "device not allowed"),
    -15: ("ERR_GEN_UPDATEPARAMETERS", "invalid update function parameters"),
    -101: ("ERR_INSTR_VMEERROR", "internal instrument communication failed"),
    -102: ("ERR_INSTR_TOOMANYDATA", "too many data to transfer from the instrument"),
    -103: ("ERR_INSTR_RESPNOTPOSSIBLE", "selected channel(s) unplugged (device error)"),
    -104: ("ERR_INSTR_RESPERROR", "instrument response error"),
    -105: ("ERR_INSTR_MSGSIZEERROR", "invalid message size"),
    -200: ("ERR_COMM_COMMFAILED", "communication failed with the instrument"),
    -201: ("ERR_COMM_CONNECTIONFAILED", "cannot establish connection with the instrument"),
    -202: ("ERR_COMM_WAITINGACK", "waiting for the instrument response"),
    -203: ("ERR_COMM_INVALIDIPADDRESS", "invalid IP address"),
    -204: ("ERR_COMM_ALLOCMEMFAILED", "cannot allocate memory in the instrument"),
    -205: ("ERR_COMM_LOADFIRMWAREFAILED", "cannot load firmware on the selected channel(s)"),
    -206: ("ERR_COMM_INCOMPATIBLESERVER", "communication firmware not compatible with the library"),
    -207: ("ERR_COMM_MAXCONNREACHED", "maximum number of allowed connections reached"),
    -300: ("ERR_FIRM_FIRMFILENOTEXISTS", "cannot find kernel.bin file"),
    -301: ("ERR_FIRM_FIRMFILEACCESSFAILED", "cannot read kernel.bin file"),
    -302: ("ERR_FIRM_FIRMINVALIDFILE", "invalid kernel.bin file"),
    -303: ("ERR_FIRM_FIRMLOADINGFAILED", "cannot load kernel.bin on the selected channel(s)"),
    -304: ("ERR_FIRM_XILFILENOTEXISTS", "cannot find FPGA firmware file"),
    -305: ("ERR_FIRM_XILFILEACCESSFAILED", "cannot read FPGA firmware file"),
    -306: ("ERR_FIRM_XILINVALIDFILE", "invalid FPGA firmware file"),
    -307: (
        "ERR_FIRM_XILLOADINGFAILED",
        "cannot load FPGA firmware file on the selected channel(s)",
    ),
    -308: ("ERR_FIRM_FIRMWARENOTLOADED", "no firmware loaded on the selected channel(s)"),
    -309: ("ERR_FIRM_FIRMWAREINCOMPATIBLE", "loaded firmware not compatible with the library"),
    -400: ("ERR_TECH_ECCFILENOTEXISTS", "cannot find the selected ECC file"),
    -401: ("ERR_TECH_INCOMPATIBLEECC", "ECC file not compatible with the channel firmware"),
    -402: ("ERR_TECH_ECCFILECORRUPTED", "ECC file corrupted"),
    -403: ("ERR_TECH_LOADTECHNIQUEFAILED", "cannot load the ECC file"),
    -404: ("ERR_TECH_DATACORRUPTED", "data returned by the instrument are corrupted"),
    -405: ("ERR_TECH_MEMFULL", "cannot load techniques: full memory"),
}


def error_name(code: int) -> str:
    return ERRORS.get(code, ("ERR_UNKNOWN", ""))[0]


def error_text(code: int) -> str:
    return ERRORS.get(code, ("", f"unknown error {code}"))[1]


# -- the documented entry points ------------------------------------------------------------

P_CHAR = POINTER(c_char)  # an output text buffer the caller owns (char*)
P_UINT8 = POINTER(c_uint8)
P_INT32 = POINTER(c_int32)
P_UINT32 = POINTER(c_uint32)

#: name → (restype, argtypes): the functions this driver calls, as the header declares them.
PROTOTYPES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "BL_GetLibVersion": (c_int32, (P_CHAR, P_UINT32)),
    "BL_GetErrorMsg": (c_int32, (c_int32, P_CHAR, P_UINT32)),
    "BL_Connect": (c_int32, (c_char_p, c_uint8, P_INT32, POINTER(TDeviceInfos))),
    "BL_Disconnect": (c_int32, (c_int32,)),
    "BL_TestConnection": (c_int32, (c_int32,)),
    "BL_GetChannelsPlugged": (c_int32, (c_int32, P_UINT8, c_uint8)),
    "BL_IsChannelPlugged": (c_bool, (c_int32, c_uint8)),
    "BL_GetChannelBoardType": (c_int32, (c_int32, c_uint8, P_UINT32)),
    "BL_GetChannelInfos": (c_int32, (c_int32, c_uint8, POINTER(TChannelInfos))),
    "BL_GetMessage": (c_int32, (c_int32, c_uint8, P_CHAR, P_UINT32)),
    "BL_LoadFirmware": (
        c_int32,
        (c_int32, P_UINT8, P_INT32, c_uint8, c_bool, c_bool, c_char_p, c_char_p),
    ),
    "BL_LoadTechnique": (
        c_int32,
        (c_int32, c_uint8, c_char_p, TEccParams, c_bool, c_bool, c_bool),
    ),
    "BL_DefineBoolParameter": (c_int32, (c_char_p, c_bool, c_int32, POINTER(TEccParam))),
    "BL_DefineSglParameter": (c_int32, (c_char_p, c_float, c_int32, POINTER(TEccParam))),
    "BL_DefineIntParameter": (c_int32, (c_char_p, c_int32, c_int32, POINTER(TEccParam))),
    "BL_StartChannel": (c_int32, (c_int32, c_uint8)),
    "BL_StopChannel": (c_int32, (c_int32, c_uint8)),
    "BL_GetCurrentValues": (c_int32, (c_int32, c_uint8, POINTER(TCurrentValues))),
    "BL_GetData": (
        c_int32,
        (
            c_int32,
            c_uint8,
            POINTER(TDataBuffer),
            POINTER(TDataInfos),
            POINTER(TCurrentValues),
        ),
    ),
    "BL_ConvertNumericIntoSingle": (c_int32, (c_uint32, POINTER(c_float))),
    "BL_ConvertChannelNumericIntoSingle": (
        c_int32,
        (c_uint32, POINTER(c_float), c_uint32),
    ),
}
