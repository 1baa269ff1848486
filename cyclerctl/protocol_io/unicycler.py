"""aurora-unicycler protocol JSON → our protocol file.

The schema is aurora-unicycler's pydantic model (EmpaEconversion/aurora-unicycler,
``aurora_unicycler/_core.py``, MIT): ``sample`` (name, capacity_mAh), ``record`` (time_s,
voltage_V, current_mA), ``safety`` (max/min_voltage_V, max/min_current_mA,
max_capacity_mAh, delay_s) and ``method``, a list of steps: ``open_circuit_voltage``
(until_time_s), ``constant_current`` (rate_C or current_mA, signed; until_time_s,
until_voltage_V), ``constant_voltage`` (voltage_V; until_time_s, until_rate_C,
until_current_mA), ``impedance_spectroscopy`` (amplitude_V or amplitude_mA, start/end
frequency, points_per_decade, measures_per_point, drift_correction), ``voltage_scan``
(start/end voltage, scan_rate_mV_per_s), ``tag`` and ``loop`` (loop_to a tag or a 1-based
step number, cycle_count = the TOTAL number of passes). Numbers may be JSON strings.

The sample's capacity goes to the cell hints (C-rates need it). A safety capacity limit and
EIS drift correction have no equivalent here and are refused; so are loops that overlap.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from .draft import Draft, StepTable, amps, hertz, number, seconds, volts
from .eclab_import import Item, nest
from .errors import ProtocolIOError


def import_unicycler(data: bytes | str, source: str) -> Draft:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProtocolIOError(f"{source}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("method"), list):
        raise ProtocolIOError(f"{source}: not an aurora-unicycler protocol (no 'method' list)")
    method: list[dict[str, Any]] = doc["method"]
    tags = {
        step.get("tag"): k
        for k, step in enumerate(method)
        if isinstance(step, dict) and step.get("step") == "tag"
    }
    items: list[Item] = []
    for k, step in enumerate(method):
        where = f"{source}: method[{k}]"
        if not isinstance(step, dict):
            raise ProtocolIOError(f"{where}: expected an object")
        kind = step.get("step")
        if kind == "tag":
            items.append(Item(label=str(step.get("tag"))))
            continue
        if kind == "loop":
            target = step.get("loop_to", 1)
            if isinstance(target, str):
                if target not in tags:
                    raise ProtocolIOError(f"{where}: loop_to: no tag {target!r}")
                goto = tags[target]
            else:
                goto = int(target) - 1  # 1-based step number
            count = int(_number(step.get("cycle_count"), f"{where}: cycle_count") or 0)
            if count < 1:
                raise ProtocolIOError(f"{where}: cycle_count must be at least 1")
            items.append(Item(goto=goto, repeat=count - 1, label=f"loop {k + 1}"))
            continue
        items.append(Item([_step(step, kind, k, where)]))
    steps = nest(items, source, "method steps", first=1)
    name = str(doc.get("sample", {}).get("name") or PurePath(source).stem)
    draft = Draft(name=PurePath(source).stem, source=PurePath(source).name, steps=steps)
    draft.description = f"imported from aurora-unicycler protocol {PurePath(source).name}"
    draft.record = _record(doc.get("record") or {}, source)
    draft.safety = _safety(doc.get("safety") or {}, source)
    capacity = _number((doc.get("sample") or {}).get("capacity_mAh"), f"{source}: capacity_mAh")
    draft.cell_hints = _hints(name, capacity, PurePath(source).name)
    return draft


def _number(value: object, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProtocolIOError(f"{where}: expected a number, got {value!r}") from None


def _c_rate(rate: float) -> str:
    return f"{number(abs(rate))}C"


def _step(step: dict[str, Any], kind: object, k: int, where: str) -> StepTable:
    def get(key: str) -> float | None:
        return _number(step.get(key), f"{where}: {key}")

    name = str(step.get("id") or f"step {k + 1}")
    known = {"step", "id"}
    table: StepTable
    until: dict[str, str] = {}
    if kind == "open_circuit_voltage":
        known |= {"until_time_s"}
        time = get("until_time_s")
        if not time:
            raise ProtocolIOError(f"{where}: until_time_s: an OCV step needs a duration")
        table = {"type": "rest", "name": name, "until": {"time": seconds(time)}}
    elif kind == "constant_current":
        known |= {"rate_C", "current_mA", "until_time_s", "until_voltage_V"}
        rate, current = get("rate_C"), get("current_mA")
        if rate:
            sign, text = rate, _c_rate(rate)
        elif current:
            sign, text = current, amps(abs(current) * 1e-3)
        else:
            raise ProtocolIOError(f"{where}: rate_C or current_mA must be set and non-zero")
        direction = "charge" if sign > 0 else "discharge"
        voltage = get("until_voltage_V")
        if voltage:
            until["voltage_above" if sign > 0 else "voltage_below"] = volts(voltage)
        if get("until_time_s"):
            until["time"] = seconds(get("until_time_s") or 0.0)
        table = {"type": "cc", "name": name, "current": text, "direction": direction}
    elif kind == "constant_voltage":
        known |= {"voltage_V", "until_time_s", "until_rate_C", "until_current_mA"}
        voltage = get("voltage_V")
        if voltage is None:
            raise ProtocolIOError(f"{where}: voltage_V is required")
        rate, current = get("until_rate_C"), get("until_current_mA")
        if rate and current:
            raise ProtocolIOError(f"{where}: give until_rate_C or until_current_mA, not both")
        if rate:
            until["current_below"] = _c_rate(rate)
        elif current:
            until["current_below"] = amps(abs(current) * 1e-3)
        if get("until_time_s"):
            until["time"] = seconds(get("until_time_s") or 0.0)
        table = {"type": "cv", "name": name, "voltage": volts(voltage)}
    elif kind == "impedance_spectroscopy":
        known |= {
            "amplitude_V", "amplitude_mA", "start_frequency_Hz", "end_frequency_Hz",
            "points_per_decade", "measures_per_point", "drift_correction",
        }  # fmt: skip
        if step.get("drift_correction"):
            raise ProtocolIOError(f"{where}: drift_correction has no equivalent here")
        amplitude_V, amplitude_mA = get("amplitude_V"), get("amplitude_mA")
        f_start, f_stop = get("start_frequency_Hz"), get("end_frequency_Hz")
        if f_start is None or f_stop is None:
            raise ProtocolIOError(f"{where}: start_frequency_Hz and end_frequency_Hz are required")
        table = {
            "type": "eis",
            "name": name,
            "mode": "potentiostatic" if amplitude_V else "galvanostatic",
            "f_start": hertz(f_start),
            "f_stop": hertz(f_stop),
            "amplitude": volts(amplitude_V) if amplitude_V else amps((amplitude_mA or 0) * 1e-3),
            "points_per_decade": int(get("points_per_decade") or 10),
            "averages": int(get("measures_per_point") or 1),
        }
    elif kind == "voltage_scan":
        known |= {"start_voltage_V", "end_voltage_V", "scan_rate_mV_per_s"}
        start, end, rate = get("start_voltage_V"), get("end_voltage_V"), get("scan_rate_mV_per_s")
        if start is None or end is None or not rate:
            raise ProtocolIOError(f"{where}: start/end voltage and scan rate are required")
        table = {
            "type": "sweep",
            "name": name,
            "scan_rate": f"{number(rate)} mV/s",
            "from": volts(start),
            "to": volts(end),
        }
    else:
        raise ProtocolIOError(
            f"{where}: step {kind!r} cannot be imported (read: open_circuit_voltage, "
            "constant_current, constant_voltage, impedance_spectroscopy, voltage_scan, tag, loop)"
        )
    unknown = sorted(set(step) - known)
    if unknown:
        raise ProtocolIOError(f"{where}: unknown field(s) {', '.join(unknown)} for {kind}")
    if until:
        table["until"] = until
    return table


def _record(record: dict[str, Any], source: str) -> dict[str, str]:
    out: dict[str, str] = {}
    time = _number(record.get("time_s"), f"{source}: record.time_s")
    voltage = _number(record.get("voltage_V"), f"{source}: record.voltage_V")
    current = _number(record.get("current_mA"), f"{source}: record.current_mA")
    if time:
        out["every"] = seconds(time)
    if voltage:
        out["voltage_change"] = volts(voltage)
    if current:
        out["current_change"] = amps(current * 1e-3)
    return out


def _safety(safety: dict[str, Any], source: str) -> dict[str, Any]:
    def get(key: str) -> float | None:
        return _number(safety.get(key), f"{source}: safety.{key}")

    if get("max_capacity_mAh"):
        raise ProtocolIOError(f"{source}: safety.max_capacity_mAh has no equivalent here")
    out: dict[str, Any] = {}
    if get("max_voltage_V") is not None:
        out["voltage_max"] = volts(get("max_voltage_V") or 0.0)
    if get("min_voltage_V") is not None:
        out["voltage_min"] = volts(get("min_voltage_V") or 0.0)
    currents = [abs(v) for v in (get("max_current_mA"), get("min_current_mA")) if v is not None]
    if currents:
        out["current_max"] = amps(max(currents) * 1e-3)
    delay = get("delay_s")
    if delay:
        out = {k: {"value": v, "for": seconds(delay)} for k, v in out.items()}
    return out


def _hints(name: str, capacity_mAh: float | None, source: str) -> str:
    lines = [
        f"# Cell hints from {source} (aurora-unicycler sample). Fill in the electrode.",
        f"name = {json.dumps(name, ensure_ascii=False)}",
        'area = "1 cm^2"  # not in the file: measure it',
    ]
    if capacity_mAh:
        lines.append(f'nominal_capacity = "{number(capacity_mAh)} mAh"  # sample.capacity_mAh')
    else:
        lines.append("# nominal_capacity: the sample has no capacity; C-rates need one")
    return "\n".join(lines) + "\n"
