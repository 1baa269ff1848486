"""A Keithley Series 2400 SourceMeter as a cyclerctl instrument: one host-sequenced channel.

The command set is in :mod:`.keithley` (Series 2400 SCPI, 2400S-900-01 Rev. K; a 2450 works
after ``*LANG SCPI2400``). The instrument is reached through pyvisa with the pure-Python
pyvisa-py backend (``ResourceManager("@py")``): ``GPIB0::24::INSTR``, ``ASRL/dev/ttyUSB0::INSTR``,
or ``TCPIP::host::port::SOCKET`` for a 2450 on its LAN socket (5025 is the usual raw-socket
port; not confirmed in its manual) or a 2400 behind a GPIB/serial-to-LAN bridge; both
terminations ``\\n`` (a 2400 on RS-232 must be set to the LF terminator).

The channel ``smu:1`` is host-sequenced: ``capabilities.native_end_conditions`` is empty. A
SourceMeter sources and measures; it ends nothing by itself, so the engine evaluates every
end condition, the step time included, on the streamed points and calls :meth:`stop`.

- rest: current source at 0 A, output on (the cell is at open circuit and its voltage is
  measured); cc: current source with a voltage compliance; cv: voltage source with a
  current compliance (|the step's current| when it gives one, else ``current_limit_A``).
- cccv: the CC phase is a current source whose voltage compliance is the CV voltage itself,
  so the instrument never lets V pass it; when a reading shows V at the set point (within
  ``cv_switch_tolerance_V``) or the compliance bit, the channel switches the instrument to a
  voltage source at the set point with the CC current as its current compliance, and reports
  it (log, :attr:`SourceMeterChannel.cv_switch_s`). A switch a little early does no harm: a
  voltage source held back by its current compliance *is* the CC phase until V gets there.
- Voltage compliance of rest/cc: ``voltage_limit_V`` (the plan's safety window edge, max of
  |voltage_min| and |voltage_max|, is what a run should pass), else the instrument's maximum
  but at most 21 V (the 2400's 20 V range): a lead that falls off a cell must not put 210 V
  on the bench for the half second until the engine's safety check stops it.
- :meth:`read` takes one :READ? of ``points_per_read`` readings (1 in real time; a burst of
  10 with ``virtual_time``) of V, I, the instrument's timestamp (reset at the step's start with
  :SYSTem:TIME:RESet) and the status word; Q is integrated on the host (trapezoid; from the
  step's start to its first reading at that reading's current), T is NaN. A reading not
  newer than the last one is dropped. The timestamp starts over at 0 after 99 999.999 s
  (27.8 h); :mod:`.timestamp` unwraps it, so a step of any length keeps a monotonic step
  time — assuming two consecutive reads of a step are less than 13.9 h of instrument time
  apart (see there why the driver never breaks that). ``timestamp_scale`` (default 1)
  multiplies the instrument's time, for a timer that a commissioning run finds off.
- :meth:`stop`: output off, in the high-impedance off-state (the relay opens).

Faults: every way a command goes wrong leaves the channel as an
:class:`~cyclerctl.drivers.base.InstrumentFault` naming the instrument and the command. A
refusal (:class:`.keithley.InstrumentError`) or a garbled reply leaves the link up
(``link_lost`` False: the instrument answered and holds its state). A closed socket, a
vanished port, or a command that gets no answer while ``:SYST:ERR?`` gets none either,
drops the link (``link_lost`` True): the resource is closed, so a late reply can never be
taken for the next command's. The next call reconnects — at most one attempt per call, the
attempts spaced by a backoff that doubles from ``reconnect_backoff_s`` (0.2 s) up to
``reconnect_backoff_max_s`` (5 s), so a call never blocks for more than one VISA timeout —
checks that the same instrument (serial) answers, and configures it again with the output
off: a link that comes back leaves the cell at open circuit, and the engine decides whether
the step goes on.

Not run against a real SourceMeter: the byte sequences follow the manual and are checked
against the emulator in :mod:`.emulator`, scripted exchanges, and the manual's command
headers and examples and PyMeasure's spellings of the same commands (tests/drivers/scpi/
test_manual_syntax.py). What stays unconfirmed without hardware is :data:`UNCONFIRMED`
(``cyclerctl probe`` lists it):

- the timestamp's wrap at 99 999.999 s is read in the same :FORMat:ELEMents entry of the
  6430 and 2500 manuals (and issue 14 quotes the 2400's); not seen on a 2400;
- the timestamp's rate: a 1999 Keithley note says it counts 1024 ticks a second as
  milliseconds, 2.4 % off (fast by the mechanism it describes, though it words it "loses
  24 ms for every second"); not corrected by default (``timestamp_scale``), a commissioning
  time-base check settles it;
- bit 3 of the status word as "in real compliance" (keithley.py says where it is from);
- the list form ``:SENS:FUNC:ON "VOLT","CURR"`` (the manual shows one quoted name,
  ``FUNC "RES"``; code driving real 2400s sends the list);
- that ``:READ?`` with the output off is refused with +803 and gets no answer;
- whether the source function may change while the output is on (the driver sets limit and
  level first, so either way is safe);
- the 2450's raw-socket port (5025 is the usual one).
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pyvisa
from pyvisa.resources import MessageBasedResource

from cyclerctl.plan import Step

from ..base import (
    SAMPLE_DTYPE,
    Capabilities,
    Identity,
    InstrumentFault,
    Samples,
    StepProgress,
    check_runnable,
)
from .keithley import (
    MAX_TRIGGER_COUNT,
    MODEL_RANGES,
    STATUS_COMPLIANCE,
    GarbledReply,
    InstrumentError,
    Keithley2400,
)
from .link import (
    LINK_ERRORS,
    RECONNECT_BACKOFF_MAX_S,
    RECONNECT_BACKOFF_S,
    Link,
    Wire,
    describe,
)
from .timestamp import Timestamps

log = logging.getLogger(__name__)

STEP_KINDS = frozenset({"rest", "cc", "cv", "cccv"})
CHANNEL_NAME = "smu:1"
#: A burst per :READ? in virtual time: the cell lives past a host-decided end for at most
#: this many readings, as with the simulator standing in for a polled instrument.
VIRTUAL_TIME_POINTS = 10
#: Default |V| compliance when the caller gives none (the 2400's 20 V source range).
SAFE_VOLTAGE_LIMIT_V = 21.0
DEFAULT_TIMEOUT_MS = 5000
DEFAULT_SWITCH_TOLERANCE_V = 0.002

#: What the driver assumes without having seen it on a real SourceMeter, one line each
#: (what, and why it is open); ``cyclerctl probe`` prints them as "unconfirmed".
UNCONFIRMED: tuple[str, ...] = (
    "TIME element wraps to 0 after 99 999.999 s: read in the 6430/2500 manuals' identical "
    ":FORMat:ELEMents entry, not observed on a 2400 (the driver unwraps it either way)",
    "TIME element rate: a 1999 Keithley note says the 2400 counts 1024 ticks/s as "
    "milliseconds, 2.4 % off (fast by its mechanism, though it words it 'loses 24 ms every "
    "second'); not corrected unless timestamp_scale is set; a commissioning time-base "
    "check on the instrument settles it",
    "status word bit 3 = in real compliance: from a 2400-compatible unit's manual (GW Instek "
    "GSM-20H10) and the 2400 manual's example word, not from the 2400's bit list",
    ':SENS:FUNC:ON "VOLT","CURR" as a list: the manual shows one quoted name (FUNC "RES"), '
    "code driving real 2400s sends the list",
    ":READ? with the output off is refused with +803 and gets no answer: from the error "
    "list, not observed (the driver reads the error queue after a timeout either way)",
    "changing :SOUR:FUNC while the output is on: the manual is silent; the driver sets the "
    "limit and level first, so either answer is safe",
    "2450 raw-socket port 5025: the usual port, not found in its manual",
)


class SourceMeterChannel:
    """The one source-measure channel of a SourceMeter (``smu:1``)."""

    def __init__(
        self,
        smu: Keithley2400,
        lock: threading.RLock,
        capabilities: Capabilities,
        *,
        voltage_limit_V: float,
        current_limit_A: float,
        cv_switch_tolerance_V: float = DEFAULT_SWITCH_TOLERANCE_V,
        name: str = CHANNEL_NAME,
        link: Link | None = None,
        drop: Callable[[], None] | None = None,
        timestamp_scale: float = 1.0,
    ) -> None:
        if not timestamp_scale > 0:
            raise ValueError(f"timestamp_scale = {timestamp_scale}: a factor > 0")
        self._smu = smu
        self._link = link
        self._drop = drop  # closes the resource: nothing late is read as a reply
        self._lock = lock
        self._capabilities = capabilities
        self._voltage_limit = voltage_limit_V
        self._current_limit = current_limit_A
        self._tolerance = cv_switch_tolerance_V
        self._name = name
        self._step: Step | None = None
        self._running = False  # a step is under way: read() asks the instrument
        self._output_may_be_on = False  # stop() switches it off unless known to be off
        self._t0 = 0.0  # step time at the (re)start: the timestamp counts from here
        self._last: tuple[float, float, float] | None = None  # t, I, Q of the last point
        self._q0 = 0.0
        # cccv in its CC phase: (V_set, I, whether the compliance bit means "at V_set")
        self._cv_pending: tuple[float, float, bool] | None = None
        self.cv_switch_s: float | None = None  # step time of the CC→CV switch, once made
        self._timestamps = Timestamps()  # the instrument's TIME, unwrapped
        self._timestamp_scale = timestamp_scale

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- Channel -----------------------------------------------------------------------------

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        check_runnable(step, STEP_KINDS, who=f"{self._name} (a SourceMeter)")
        progress = progress or StepProgress()
        with self._lock, self._guard("start_step"):
            self._running = False
            self.cv_switch_s = None
            self._cv_pending = None
            if step.kind == "cv":
                voltage = _required(step, "voltage_V")
                limit = abs(_required(step, "current_A")) if step.current_A else self._current_limit
                self._source_voltage(voltage, limit)
            else:
                current = 0.0 if step.kind == "rest" else _required(step, "current_A")
                compliance = self._voltage_limit
                if step.kind == "cccv":
                    voltage = _required(step, "voltage_V")
                    # charging towards +V (or discharging towards -V): the compliance can be the
                    # set point itself, and the instrument holds V there until the switch
                    at_set_point = current * voltage > 0 and abs(voltage) <= self._voltage_limit
                    if at_set_point:
                        compliance = abs(voltage)
                    self._cv_pending = (voltage, current, at_set_point)
                self._source_current(current, compliance)
            self._smu.reset_timestamp()
            self._timestamps.reset()
            self._output_may_be_on = True
            self._smu.output(True)
            self._step = step
            self._t0 = progress.elapsed_s
            self._q0 = progress.charge_C
            self._last = None
            self._running = True

    def read(self) -> Samples:
        with self._lock, self._guard(":READ?"):
            if not self._running:
                return Samples(ended=True)
            rows = self._read_rows()
            # seconds since the step's :SYST:TIME:RES, monotonic across the timer's wrap
            rows[:, 2] = self._timestamps.unwrap(rows[:, 2]) * self._timestamp_scale
            rows = rows[self._t0 + rows[:, 2] > self._last_t()]  # a reading seen before: drop
            points = self._points(rows)
            if self._cv_pending is not None and len(points):
                self._maybe_switch_to_cv(points, rows[:, 3])
        return Samples(points)

    def stop(self) -> None:
        with self._lock, self._guard(":OUTP OFF"):
            self._running = False
            self._cv_pending = None
            if self._output_may_be_on:  # also after a step that failed half-configured
                self._smu.output(False)
                self._output_may_be_on = False

    @property
    def link_lost(self) -> bool:
        return self._link is not None and self._link.lost

    # -- faults ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Reconnect first if the link is down; turn whatever goes wrong on the wire into an
        :class:`InstrumentFault` naming the instrument and the command."""
        if self._link is not None and self._link.lost:
            self._running = False  # the step was cut off when the link went
            self._smu = self._link.restore(self._smu.name)
            self._output_may_be_on = False  # reconfigured with the output off
        try:
            yield
        except InstrumentFault:
            raise
        except (GarbledReply, UnicodeDecodeError) as exc:  # line noise is not ASCII
            raise InstrumentFault(
                self._smu.name, self._command(what), f"garbled reply: {exc}"
            ) from exc
        except LINK_ERRORS as exc:
            command = self._command(what)
            self._lose_link(f"{command}: {describe(exc)}")
            raise InstrumentFault(
                self._smu.name, command, f"link lost: {describe(exc)}", link_lost=True
            ) from exc

    def _command(self, fallback: str) -> str:
        wire = self._smu.transport
        return wire.command if isinstance(wire, Wire) and wire.command else fallback

    def _name_command(self, command: str) -> None:
        wire = self._smu.transport
        if isinstance(wire, Wire):
            wire.command = command

    def _lose_link(self, cause: str) -> None:
        self._running = False
        if self._link is None:
            return
        log.warning("%s: link lost (%s)", self._smu.name, cause)
        self._link.lose(cause)
        if self._drop is not None:
            with contextlib.suppress(Exception):
                self._drop()

    # -- sourcing ----------------------------------------------------------------------------

    def _source_current(self, current_A: float, compliance_V: float) -> None:
        # limit, then level, then function: safe whether or not the output is already on
        self._smu.voltage_compliance(compliance_V)
        self._smu.source_current(current_A)
        self._smu.source_function("CURR")

    def _source_voltage(self, voltage_V: float, compliance_A: float) -> None:
        self._smu.current_compliance(compliance_A)
        self._smu.source_voltage(voltage_V)
        self._smu.source_function("VOLT")

    def _maybe_switch_to_cv(self, points: np.ndarray, status: np.ndarray) -> None:
        assert self._cv_pending is not None
        voltage, current, compliance_at_set_point = self._cv_pending
        sign = 1.0 if current >= 0 else -1.0  # charging: V rises to the set point
        reached = sign * (points["V"] - voltage) >= -self._tolerance
        if compliance_at_set_point:
            reached |= (status.astype(np.int64) & STATUS_COMPLIANCE) != 0
        if not reached.any():
            return
        index = int(np.argmax(reached))
        self._source_voltage(voltage, abs(current))
        self._cv_pending = None
        self.cv_switch_s = float(points["t"][index])
        log.info(
            "%s: CC→CV at %.1f s of the step (V = %.4f V, set point %.4f V)",
            self._name,
            self.cv_switch_s,
            float(points["V"][index]),
            voltage,
        )

    # -- reading -----------------------------------------------------------------------------

    def _read_rows(self) -> np.ndarray:
        try:
            return self._smu.read()
        except pyvisa.errors.VisaIOError as exc:
            # no answer: a refusal (the instrument says why in its error queue), or a link
            # that is gone (then :SYST:ERR? gets no answer either, and the guard drops it)
            try:
                errors = self._smu.drain_errors()
            except LINK_ERRORS:
                self._name_command(":READ?")  # what went unanswered first
                raise
            if errors:
                raise InstrumentError(self._smu.name, ":READ?", errors) from exc
            raise InstrumentFault(
                self._smu.name, ":READ?", f"no answer ({describe(exc)}), and no error queued"
            ) from exc

    def _last_t(self) -> float:
        return -math.inf if self._last is None else self._last[0]

    def _points(self, rows: np.ndarray) -> np.ndarray:
        t = self._t0 + rows[:, 2]
        points = np.empty(len(rows), dtype=SAMPLE_DTYPE)
        if not len(rows):
            return points
        current = rows[:, 1]
        # the first reading of a step comes a little after the output went on (the timestamp
        # was reset just before): count the charge since then at the first reading's current
        t_prev, i_prev, q_prev = (
            (self._t0, float(current[0]), self._q0) if self._last is None else self._last
        )
        t_all = np.concatenate(([t_prev], t))
        i_all = np.concatenate(([i_prev], current))
        steps = 0.5 * (i_all[1:] + i_all[:-1]) * np.diff(t_all)
        points["t"] = t
        points["V"] = rows[:, 0]
        points["I"] = current
        points["Q"] = q_prev + np.cumsum(np.nan_to_num(steps))
        points["T"] = math.nan
        self._last = (float(t[-1]), float(current[-1]), float(points["Q"][-1]))
        return points


class SourceMeterInstrument:
    """A Series 2400 SourceMeter over VISA (pyvisa-py), with its one channel ``smu:1``.

    ``options``: ``virtual_time`` (the emulator advances per :READ?; the engine never
    sleeps), ``points_per_read`` (readings per :READ?, default 10 in virtual time else 1),
    ``voltage_limit_V`` (compliance of rest/cc steps), ``current_limit_A`` (compliance of cv
    steps without a current), ``remote_sense`` (4-wire, :SYST:RSEN), ``reset`` (send *RST
    on connect, default True), ``cv_switch_tolerance_V``, ``reconnect_backoff_s`` and
    ``reconnect_backoff_max_s`` (the spacing of reconnection attempts after a lost link),
    ``timestamp_scale`` (seconds per unit of the instrument's TIME element, default 1).
    """

    def __init__(
        self,
        resource_name: str,
        *,
        rm: pyvisa.ResourceManager | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.resource_name = resource_name
        self._rm = rm
        self._own_rm = rm is None
        self._timeout_ms = timeout_ms
        self._options = dict(options or {})
        self._lock = threading.RLock()
        self._resource: MessageBasedResource | None = None
        self._identity: Identity | None = None
        self._channel: SourceMeterChannel | None = None
        self.owned: list[Any] = []  # things closed with the instrument (an in-process emulator)

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise RuntimeError(f"{self.resource_name}: not connected")
        return self._identity

    @property
    def channels(self) -> tuple[SourceMeterChannel, ...]:
        return () if self._channel is None else (self._channel,)

    def connect(self) -> None:
        if self._resource is not None:
            return
        resource = self._open_resource()
        try:
            with self._lock:
                self._setup(resource)
        except BaseException:
            self.close()
            raise

    def _open_resource(self) -> MessageBasedResource:
        if self._rm is None:
            self._rm = pyvisa.ResourceManager("@py")
        resource = self._rm.open_resource(
            self.resource_name,
            read_termination="\n",
            write_termination="\n",
            timeout=self._timeout_ms,
        )
        if not isinstance(resource, MessageBasedResource):
            resource.close()
            raise ConnectionError(f"{self.resource_name}: not a message-based VISA resource")
        self._resource = resource
        _no_nagle(resource)
        return resource

    def _drop(self) -> None:
        """Close the resource after a lost link (the channel reconnects through
        :meth:`_reopen`)."""
        resource, self._resource = self._resource, None
        if resource is not None:
            with contextlib.suppress(Exception):
                resource.close()

    def _reopen(self) -> Keithley2400:
        """Connect again after a lost link: the same instrument, configured as on connect
        (without *RST), output off."""
        assert self._identity is not None
        self._drop()
        resource = self._open_resource()
        try:
            smu = Keithley2400(Wire(resource), self.resource_name)
            idn = smu.identify()
            if idn.serial != self._identity.serial or idn.model != self._identity.model:
                raise ConnectionError(
                    f"{self.resource_name}: MODEL {idn.model} #{idn.serial} answers, not "
                    f"MODEL {self._identity.model} #{self._identity.serial}"
                )
            smu.name = self._smu_name(idn.vendor, idn.model, idn.serial)
            self._configure(smu, reset=False)
        except BaseException:
            self._drop()
            raise
        return smu

    def _smu_name(self, vendor: str, model: str, serial: str) -> str:
        return f"{vendor} MODEL {model} #{serial} at {self.resource_name}"

    def _points_per_read(self) -> int:
        virtual = bool(self._options.get("virtual_time", False))
        per_read = int(self._options.get("points_per_read", VIRTUAL_TIME_POINTS if virtual else 1))
        if not 1 <= per_read <= MAX_TRIGGER_COUNT:
            raise ValueError(f"points_per_read = {per_read}: 1 to {MAX_TRIGGER_COUNT}")
        return per_read

    def _configure(self, smu: Keithley2400, *, reset: bool) -> None:
        """Output off, readings of V, I, time and status, ``points_per_read`` per :READ?."""
        # *CLS first: *RST leaves old errors queued, and the first check would report them
        smu.clear_status()
        if reset:
            smu.reset()
        smu.output_off_high_impedance()
        smu.output(False)
        smu.concurrent_measurements(True)
        smu.measure_voltage_and_current()
        smu.sense_voltage_autorange()
        smu.sense_current_autorange()
        smu.source_current_autorange()
        smu.source_voltage_autorange()
        smu.data_elements()
        smu.trigger_count(self._points_per_read())
        if "remote_sense" in self._options:
            smu.remote_sense(bool(self._options["remote_sense"]))

    def _setup(self, resource: MessageBasedResource) -> None:
        smu = Keithley2400(Wire(resource), self.resource_name)
        idn = smu.identify()
        self._identity = Identity(
            driver="scpi",
            vendor=idn.vendor,
            model=idn.model,
            serial=idn.serial,
            firmware=idn.firmware,
        )
        smu.name = self._smu_name(idn.vendor, idn.model, idn.serial)
        options = self._options
        virtual = bool(options.get("virtual_time", False))
        self._points_per_read()
        ranges = MODEL_RANGES.get(idn.model)
        if ranges is None:
            log.warning("%s: model %s not in the table; assuming 2400 ranges", smu.name, idn.model)
            ranges = MODEL_RANGES["2400"]
        v_max, i_max = ranges
        voltage_limit = float(options.get("voltage_limit_V", min(v_max, SAFE_VOLTAGE_LIMIT_V)))
        current_limit = float(options.get("current_limit_A", i_max))
        if not 0 < voltage_limit <= v_max or not 0 < current_limit <= i_max:
            raise ValueError(
                f"{smu.name}: voltage_limit_V {voltage_limit:g} / current_limit_A "
                f"{current_limit:g} must be > 0 and within ±{v_max:g} V / ±{i_max:g} A"
            )
        self._configure(smu, reset=bool(options.get("reset", True)))
        capabilities = Capabilities(
            voltage_range_V=(-v_max, v_max),
            current_max_A=i_max,
            step_kinds=STEP_KINDS,
            native_end_conditions=frozenset(),
            virtual_time=virtual,
        )
        self._channel = SourceMeterChannel(
            smu,
            self._lock,
            capabilities,
            voltage_limit_V=voltage_limit,
            current_limit_A=current_limit,
            cv_switch_tolerance_V=float(
                options.get("cv_switch_tolerance_V", DEFAULT_SWITCH_TOLERANCE_V)
            ),
            link=Link(
                self._reopen,
                backoff_s=float(options.get("reconnect_backoff_s", RECONNECT_BACKOFF_S)),
                backoff_max_s=float(
                    options.get("reconnect_backoff_max_s", RECONNECT_BACKOFF_MAX_S)
                ),
            ),
            drop=self._drop,
            timestamp_scale=float(options.get("timestamp_scale", 1.0)),
        )

    def close(self) -> None:
        """Output off (the cell left at open circuit), then release the resource."""
        try:
            if self._channel is not None and self._resource is not None:
                try:
                    self._channel.stop()
                except Exception as exc:  # closing anyway; say why the output may be on
                    log.warning("%s: could not switch the output off: %s", self.resource_name, exc)
        finally:
            self._channel = None
            if self._resource is not None:
                self._resource.close()
                self._resource = None
            if self._own_rm and self._rm is not None:
                self._rm.close()
                self._rm = None
            for thing in reversed(self.owned):
                thing.close()
            self.owned.clear()


def _no_nagle(resource: MessageBasedResource) -> None:
    """Send each command at once on a raw socket. VISA's default for VI_ATTR_TCPIP_NODELAY is
    true (NI-VISA), but pyvisa-py 0.8 leaves Nagle on and cannot set the attribute (its setter
    raises UnknownAttribute), so a command written right after another waits for the first
    one's delayed ACK: 40 ms per checked configuration. The socket is reached directly."""
    if not resource.resource_name.upper().endswith("::SOCKET"):
        return
    try:
        resource.set_visa_attribute(
            pyvisa.constants.ResourceAttribute.tcpip_nodelay, pyvisa.constants.VI_TRUE
        )
        return
    except Exception as exc:  # pyvisa-py's UnknownAttribute is no VisaIOError
        log.debug("%s: VI_ATTR_TCPIP_NODELAY not settable (%s)", resource.resource_name, exc)
    sessions = getattr(resource.visalib, "sessions", {})
    session = sessions.get(resource.session) if isinstance(sessions, dict) else None
    sock = getattr(session, "interface", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _required(step: Step, field: str) -> float:
    value = getattr(step, field)
    if value is None:
        what = "a current" if field == "current_A" else "a voltage"
        raise ValueError(f"step {step.name!r}: a {step.kind} step needs {what}")
    return float(value)
