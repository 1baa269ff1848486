"""EClib's negative return codes become EClibError, naming the function and the vendor's
message; the emulated library answers with the codes the guide documents."""

from __future__ import annotations

import pytest

from cyclerctl.drivers.biologic import EClib, EClibError, EmulatedEClib, start_emulator
from cyclerctl.drivers.biologic import eclib_types as T
from cyclerctl.drivers.biologic.eclib import Param
from cyclerctl.drivers.registry import driver
from cyclerctl.protocol import load_cell

OCV = (Param("Rest_time_T", 10.0), Param("Record_every_dT", 1.0), Param("E_Range", 3))


def connected(eclib: EClib) -> int:
    device_id, _ = eclib.connect("USB0")
    eclib.load_firmware(device_id, [0])
    return device_id


def test_a_call_before_bl_connect_is_not_connected(eclib: EClib) -> None:
    with pytest.raises(EClibError) as caught:
        eclib.get_channel_infos(1, 0)
    error = caught.value
    assert (error.code, error.function) == (-1, "BL_GetChannelInfos")
    assert error.message == "no instrument connected"  # the library's own text
    assert str(error) == (
        "BL_GetChannelInfos failed: no instrument connected (ERR_GEN_NOTCONNECTED, -1)"
    )


def test_a_channel_that_is_not_there_is_not_plugged(eclib: EClib) -> None:
    device_id = connected(eclib)
    with pytest.raises(EClibError, match="BL_StartChannel failed: selected channel") as caught:
        eclib.start_channel(device_id, 5)
    assert caught.value.code == T.ERR_GEN_CHANNELNOTPLUGGED


def test_a_technique_needs_the_kernel_first(eclib: EClib) -> None:
    device_id, _ = eclib.connect("USB0")
    with pytest.raises(EClibError) as caught:
        eclib.load_technique(device_id, 0, "ocv.ecc", OCV, first=True, last=True)
    assert (caught.value.code, caught.value.function) == (-308, "BL_LoadTechnique")


@pytest.mark.parametrize(
    ("file_name", "code"),
    [
        ("lsv.ecc", T.ERR_TECH_ECCFILENOTEXISTS),  # no such file in the package
        ("ocv4.ecc", T.ERR_TECH_INCOMPATIBLEECC),  # the VMP-300 file on a VMP-3 board
    ],
)
def test_technique_files_are_checked(eclib: EClib, file_name: str, code: int) -> None:
    device_id = connected(eclib)
    with pytest.raises(EClibError) as caught:
        eclib.load_technique(device_id, 0, file_name, OCV, first=True, last=True)
    assert caught.value.code == code
    assert caught.value.message == T.error_text(code)


@pytest.mark.parametrize(
    "param",
    [Param("Rest_time", 10.0), Param("Rest_time_T", 10)],  # unknown label; int, not single
)
def test_parameters_are_checked_against_the_technique(eclib: EClib, param: Param) -> None:
    device_id = connected(eclib)
    with pytest.raises(EClibError) as caught:
        eclib.load_technique(device_id, 0, "ocv.ecc", (param,), first=True, last=True)
    assert caught.value.code == T.ERR_GEN_INVALIDPARAMETERS


def test_a_running_channel_refuses_a_new_technique(eclib: EClib) -> None:
    device_id = connected(eclib)
    eclib.load_technique(device_id, 0, "ocv.ecc", OCV, first=True, last=True)
    eclib.start_channel(device_id, 0)
    with pytest.raises(EClibError) as caught:
        eclib.load_technique(device_id, 0, "ocv.ecc", OCV, first=True, last=True)
    assert caught.value.code == T.ERR_GEN_CHANNEL_RUNNING


def test_what_the_emulator_cannot_run_fails_loudly(eclib: EClib) -> None:
    device_id = connected(eclib)
    with pytest.raises(EClibError, match=r"emulator: .*cv\.ecc") as caught:
        eclib.load_technique(device_id, 0, "cv.ecc", (), first=True, last=True)
    assert caught.value.code == T.ERR_GEN_FUNCTIONFAILED


def test_functions_the_vendor_does_not_document_are_not_exported(
    library: EmulatedEClib,
) -> None:
    with pytest.raises(AttributeError, match="BL_RunProtocol"):
        library.BL_RunProtocol  # noqa: B018
    with pytest.raises(AttributeError, match="BL_UpdateParameters"):
        library.BL_UpdateParameters  # documented, not emulated: not exported either  # noqa: B018


def test_every_error_code_of_the_guide_has_its_text() -> None:
    codes = [*range(-1, -16, -1), *range(-101, -106, -1), *range(-200, -208, -1)]
    codes += [*range(-300, -310, -1), *range(-400, -406, -1)]
    assert all(T.error_name(c).startswith("ERR_") and T.error_text(c) for c in codes)


def test_the_dll_cannot_be_served_over_tcp() -> None:
    cell = load_cell("ncm622-coin")
    with pytest.raises(NotImplementedError, match="--driver biologic --address emulated"):
        start_emulator([cell], "127.0.0.1", 0, {})
    with pytest.raises(NotImplementedError, match="in-process"):
        driver("biologic").start_emulator([cell], "127.0.0.1", 0, {})


def test_the_registry_opens_the_emulated_instrument() -> None:
    cell = load_cell("ncm622-coin")
    instrument = driver("biologic").open_instrument("emulated", {"emulated_cells": [cell]})
    assert instrument.identity.model == "VMP3"
    assert instrument.channels[0].capabilities.virtual_time
    with pytest.raises(ValueError, match="emulated_cells"):
        driver("biologic").open_instrument("emulated", {})
