"""`cyclerctl emulate` and `cyclerctl probe`: a lab's first steps with an instrument.

``emulate`` serves a wire-level emulator (the simulator's cell physics behind the vendor's
protocol) so a dry run can use the real driver path end to end; it binds 127.0.0.1 unless
told otherwise. ``probe`` connects to an instrument and prints what it is and can do.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

from cyclerctl import host_os
from cyclerctl.drivers.base import Capabilities


class HardwareInputError(ValueError):
    """A bad driver name, address or option; the CLI prints it and exits 2."""


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise HardwareInputError(
            f"--listen: expected HOST:PORT such as 127.0.0.1:5025, got {text!r}"
        )
    return host or "127.0.0.1", int(port)


def emulate(
    driver_name: str,
    listen: str,
    cell_names: Sequence[str],
    *,
    virtual_time: bool,
    speed: float,
    seed: int | None,
    dummy: str | None = None,
    miscale: str | None = None,
) -> int:
    """Serve ``driver_name``'s emulator on ``listen`` (HOST:PORT), one channel per cell (or
    the ``dummy`` load, ``"R=1 kohm"``, on one channel), until Ctrl-C or SIGTERM; the exit
    code. ``miscale``: a deliberately mis-scaled instrument, for commissioning to catch."""
    from cyclerctl.drivers.registry import driver
    from cyclerctl.protocol import load_cell

    entry = _entry(driver_name)
    host, port = _listen(listen)
    if dummy is not None:
        if cell_names:
            raise HardwareInputError("--dummy and --cell: the channel holds one or the other")
        cells = [_dummy_cell(dummy)]
    else:
        cells = [load_cell(name) for name in (cell_names or ["ncm622-coin"])]
    options: dict[str, Any] = {"virtual_time": virtual_time, "speed": speed}
    if miscale is not None:
        options["miscale"] = miscale
    if seed is not None:
        options["seed"] = seed
    try:
        emulator = driver(entry).start_emulator(cells, host, port, options)
    except NotImplementedError as exc:
        raise HardwareInputError(f"{driver_name}: {exc}") from None
    print(f"{driver_name} emulator on {emulator.address} ({len(cells)} channel(s)); Ctrl-C stops")
    sys.stdout.flush()
    done = threading.Event()
    try:
        with host_os.calling_on_stop(lambda _name: done.set()):
            done.wait()
    finally:
        emulator.close()
    return 0


def _dummy_cell(text: str) -> Any:
    from cyclerctl.commission import DummyError, parse_dummy
    from cyclerctl.protocol.compiler import cell_from_text

    try:
        load = parse_dummy(text)
    except DummyError as exc:
        raise HardwareInputError(str(exc)) from None
    return cell_from_text(load.cell_toml(5.0, 0.1), "--dummy")


def probe(driver_name: str, address: str) -> dict[str, Any]:
    """What the instrument (or chamber) at ``address`` says it is and can do, JSON-friendly."""
    from cyclerctl.drivers.registry import driver

    entry = driver(_entry(driver_name))
    try:
        return _probe(entry, address)
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise ConnectionError(f"{driver_name} at {address}: {exc}") from exc


def _probe(entry: Any, address: str) -> dict[str, Any]:
    if entry.kind == "chamber":
        chamber = entry.open_chamber(address, {})
        try:
            reading = chamber.read()
            info: dict[str, Any] = {
                "identity": chamber.identity.as_dict(),
                "temperature_K": reading.temperature_K,
                "setpoint_K": reading.setpoint_K,
            }
        finally:
            chamber.close()
    else:
        instrument = entry.open_instrument(address, {})
        try:
            info = {
                "identity": instrument.identity.as_dict(),
                "channels": [
                    {"name": ch.name, **_capabilities(ch.capabilities)}
                    for ch in instrument.channels
                ],
                "notes": entry.probe_lines(instrument),
            }
        finally:
            instrument.close()
    return info


def _entry(name: str) -> str:
    from cyclerctl.drivers.registry import DRIVERS

    if name not in DRIVERS:
        raise HardwareInputError(
            f"--driver: unknown driver {name!r}; the drivers are: {', '.join(sorted(DRIVERS))}"
        )
    return name


def _capabilities(c: Capabilities) -> dict[str, Any]:
    return {
        "voltage_range_V": list(c.voltage_range_V),
        "current_max_A": c.current_max_A,
        "step_kinds": sorted(c.step_kinds),
        "native_end_conditions": sorted(c.native_end_conditions),
        "eis": c.eis,
        "frequency_range_Hz": list(c.frequency_range_Hz) if c.frequency_range_Hz else None,
    }


def print_probe(info: dict[str, Any]) -> None:
    """``probe``'s answer for a person: identity, then each channel's range and step kinds."""
    ident = info["identity"]
    print(
        f"{ident['vendor']} {ident['model']}  serial {ident['serial']}  "
        f"firmware {ident['firmware']}  (driver {ident['driver']})"
    )
    if "temperature_K" in info:
        sp = info["setpoint_K"]
        print(
            f"  temperature {info['temperature_K'] - 273.15:.2f} °C, set point "
            f"{'-' if sp is None else f'{sp - 273.15:.2f} °C'}"
        )
        return
    for ch in info["channels"]:
        low, high = ch["voltage_range_V"]
        eis = ""
        if ch["eis"] and ch["frequency_range_Hz"]:
            f_lo, f_hi = ch["frequency_range_Hz"]
            eis = f", EIS {f_lo:g}–{f_hi:g} Hz"
        print(f"  {ch['name']}: {low:g}…{high:g} V, ±{ch['current_max_A'] * 1e3:g} mA{eis}")
        print(
            f"    steps {', '.join(ch['step_kinds'])}; ends natively on "
            f"{', '.join(ch['native_end_conditions']) or 'nothing (host-sequenced)'}"
        )
    for line in info.get("notes", ()):
        print(f"  {line}")
