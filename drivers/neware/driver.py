"""Neware BTS cyclers through the BTS API (TCP, XML): one step file per step, records by seq.

A channel runs each step on board: ``start_step`` writes the step as a step file (see
``stepfile``) where the BTS client can read it and ``start``s it; ``read`` downloads the
records the cycler has buffered since the last sequence number the driver holds, so a lost
connection costs nothing: after the reconnect the next download starts where the last one
ended (no hole, no duplicate). When a download comes back short, ``getchlstatus`` says
whether the test has ended (finish / stop / protect); then a last download collects what
was recorded meanwhile.

The cycler does not say which limit ended a step. The driver knows the limits it wrote, so
it reads the end from the last record: time or charge reached (exact to a millisecond or a
part per million), else the voltage or current limit the last point lies closest to.

Records → SAMPLE_DTYPE: ``testtime`` (ms, from the step's start) → t (s, plus the elapsed
time of a resumed step), ``volt`` → V, ``curr`` → I (A, signed), ``cap`` (Ah, unsigned) →
Q = direction × cap (C, plus a resumed step's charge), ``auxtemp`` (°C, only with an
``auxid``) → T (K), NaN otherwise.

Not run against a real cycler; the wire shapes and what is unconfirmed are in ``messages``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from cyclerctl.plan import EndCondition, RecordCriteria, Step

from ..base import SAMPLE_DTYPE, Capabilities, Identity, Samples, StepProgress, empty_samples
from . import messages
from .link import Link
from .messages import ENDED_STATES, MAX_DOWNLOAD, ChannelAddress, ProtocolError
from .stepfile import (
    NATIVE_CONDITIONS,
    RECORD_STEPTYPE,
    STEP_KINDS,
    build_stepfile,
    direction,
    parse_stepfile,
    step_type,
    with_progress,
)

C_PER_AH = 3600.0
KELVIN_AT_0_C = 273.15
#: Tolerances for reading the end from the last record: testtime is whole milliseconds.
TIME_TOLERANCE_S = 2e-3
CHARGE_TOLERANCE = 1e-6
#: After ``stop``, how often to ask before starting the next step (≈ 15 s in all).
IDLE_POLLS = 20


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """What every channel of one instrument shares (from the driver options)."""

    virtual_time: bool = False
    record_interval_s: float = 1.0  # when a step names no record criterion
    stepfile_dir: Path | None = None  # None: a private temporary folder per instrument
    bts_stepfile_dir: str | None = None  # the same folder as the BTS client sees it
    barcode: str = "cyclerctl"
    auxid: int = 0  # >0: read the auxiliary temperature channel with this id
    current_max_A: float = 0.1
    voltage_range_V: tuple[float, float] = (-5.0, 5.0)

    @property
    def folder(self) -> Path:
        if self.stepfile_dir is None:
            raise RuntimeError("no step file folder set")
        return self.stepfile_dir

    def bts_path(self, name: str) -> str:
        if self.bts_stepfile_dir is None:
            return str(self.folder / name)
        folder = self.bts_stepfile_dir.rstrip("/\\")
        separator = "\\" if "\\" in folder else "/"  # a Windows path as the BTS PC sees it
        return folder + separator + name


@dataclass(slots=True)
class _Test:
    """The step running on the channel as one BTS test."""

    step: Step  # as the step file states it (its limits only; a resumed step's reduced)
    direction: float  # +1 charge, -1 discharge, 0 rest: the sign of Q
    t_offset: float
    q_offset: float
    testid: int = 0  # 0 (the latest test) until the first download names it
    next_seq: int = 1
    stop_sent: bool = False
    ended: bool = False
    end_reason: str | None = None
    last: tuple[float, float, float, float] | None = None  # t, V, I, cap (Ah) of the test


class NewareChannel:
    def __init__(
        self, instrument: NewareInstrument, address: ChannelAddress, settings: ChannelSettings
    ) -> None:
        self._instrument = instrument
        self.address = address
        self._settings = settings
        self._capabilities = Capabilities(
            voltage_range_V=settings.voltage_range_V,
            current_max_A=settings.current_max_A,
            step_kinds=STEP_KINDS,
            native_end_conditions=NATIVE_CONDITIONS,
            virtual_time=settings.virtual_time,
        )
        self._test: _Test | None = None
        self._last_V: float | None = None
        self._files = 0

    @property
    def name(self) -> str:
        return f"neware:{self.address.key}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def running(self) -> bool:
        """A step is on the channel that neither ended nor was told to stop."""
        test = self._test
        return test is not None and not test.ended and not test.stop_sent

    # -- Channel ---------------------------------------------------------------------------

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        if not step.is_bound:
            raise ValueError(f"step {step.name!r} still has loop references; bind it first")
        progress = progress or StepProgress()
        if self.running:
            self.stop()  # a new step ends the one before, as on any channel
        if self._test is not None and not self._test.ended:
            self._wait_until_idle(self._test)  # BTS starts nothing on a working channel
        cv_charge = None
        if step.kind == "cv" and isinstance(step.voltage_V, float | int):
            cv_charge = step.voltage_V >= self._present_voltage()
        text, code = self._stepfile(step, progress, cv_charge)
        self._files += 1
        file_name = f"cyclerctl-{self.address.key}-{self._files:05d}.xml"
        self._settings.folder.mkdir(parents=True, exist_ok=True)
        (self._settings.folder / file_name).write_text(text, encoding="utf-8")
        request = messages.start_request(
            self.address, self._settings.bts_path(file_name), self._settings.barcode
        )
        reconnects = self._instrument.link.reconnects
        (answer,) = messages.answers(
            self._instrument.transact(request), "start", "start", [self.address]
        )
        if answer != "ok":
            # lost answer: the first try may have started it before the link dropped
            state = self._status()
            if not (self._instrument.link.reconnects > reconnects and state == "working"):
                raise RuntimeError(
                    f"{self.name}: the cycler refused to start step {step.name!r} "
                    f"(answer {answer!r}, channel {state})"
                )
        # the limits as the file states them: what the end is read against
        limits = parse_stepfile(text).step
        self._test = _Test(limits, direction(code), progress.elapsed_s, progress.charge_C)

    def read(self) -> Samples:
        test = self._test
        if test is None:
            return Samples(ended=True)
        if test.ended:
            return Samples(ended=True, end_reason=test.end_reason)
        blocks = [self._download(test)]
        if len(blocks[0]) < MAX_DOWNLOAD:
            state = self._status()
            if state in ENDED_STATES:
                # the test is over: collect what was recorded since the download above
                while len(blocks[-1]) > 0:
                    blocks.append(self._download(test))
                test.ended = True
                test.end_reason = self._end_reason(test, state)
        records = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        return Samples(self._points(test, records), ended=test.ended, end_reason=test.end_reason)

    def reattach(self, step: Step, progress: StepProgress) -> bool:
        """Take over ``step`` if the channel's latest test is it (see ``engine.reattach``).

        The latest test is this step when its records are of the step's type and, unless the
        step had only just begun (``progress.elapsed_s`` 0), one of them lies exactly where
        the stored data ends: the same step time (to the millisecond) and charge. Reading
        then continues after that record; the engine drops anything at or before it again.
        A test still working that is not this step (an older one, or one started part-way
        through the step, whose offsets the cycler does not report) is stopped; the engine
        then restarts the step from its progress. An ended test is taken over only with a
        matching record (at the very start of a step an ended test may be the step before),
        and a stopped one never (the operator or a pause stopped it: restart from progress).
        """
        if not step.is_bound:
            raise ValueError(f"step {step.name!r} still has loop references; bind it first")
        self._test = None
        state = self._status()
        if state not in ("working", "finish", "protect"):
            return False
        probe = _Test(step, 0.0, 0.0, 0.0)
        found = self._find_record(probe, progress)
        if found is not None:
            records, index = found
            cv_charge = None
            if step.kind == "cv" and isinstance(step.voltage_V, float | int) and len(records):
                cv_charge = step.voltage_V >= float(records["V"][0])
            text, code = self._stepfile(step, StepProgress(), cv_charge)
            kinds = set(records["steptype"].tolist()) - {""}
            just_begun = state == "working" and progress.elapsed_s <= TIME_TOLERANCE_S
            if kinds <= {RECORD_STEPTYPE[code]} and (index is not None or just_begun):
                test = _Test(parse_stepfile(text).step, direction(code), 0.0, 0.0)
                test.testid = probe.testid
                test.next_seq = 1
                if index is not None:
                    r = records[index]
                    test.next_seq = int(r["seqid"]) + 1
                    test.last = (float(r["t"]), float(r["V"]), float(r["I"]), float(r["cap_Ah"]))
                    self._last_V = float(r["V"])
                self._test = test
                return True
        if state == "working":  # not this step: stop it, so that the step can be restarted
            self._instrument.transact(messages.stop_request([self.address]))
            probe.stop_sent = True
            self._wait_until_idle(probe)
        return False

    def stop(self) -> None:
        test = self._test
        if test is None or test.ended or test.stop_sent:
            return
        # "false" means it was no longer running (it ended meanwhile): read() will see that
        self._instrument.transact(messages.stop_request([self.address]))
        test.stop_sent = True

    # -- the wire ----------------------------------------------------------------------------

    def _stepfile(
        self, step: Step, progress: StepProgress, cv_charge: bool | None
    ) -> tuple[str, int]:
        """The step file for ``step`` entered at ``progress``, and its Step_Type."""
        written = with_progress(step, progress.elapsed_s, progress.charge_C)
        if not any(v is not None for v in dataclasses.astuple(written.record)):
            written = dataclasses.replace(
                written, record=RecordCriteria(every_s=self._settings.record_interval_s)
            )
        code = step_type(written, cv_charge=cv_charge)
        text = build_stepfile(
            written,
            created=datetime.now(),
            cv_charge=cv_charge,
            cv_current_limit_A=self._settings.current_max_A,
        )
        return text, code

    def _find_record(
        self, probe: _Test, progress: StepProgress
    ) -> tuple[np.ndarray, int | None] | None:
        """The latest test's records up to the one where ``progress`` ends, and its index.

        Index None: no record needed (the step had just begun). None: no record of the
        latest test matches ``progress`` (it is not this step, or not entered at 0).
        """
        blocks: list[np.ndarray] = []
        elapsed, charge = progress.elapsed_s, progress.charge_C
        while True:
            block = self._download(probe)
            blocks.append(block)
            if len(block) == 0 or float(block["t"][-1]) >= elapsed - TIME_TOLERANCE_S:
                break
        records = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        if elapsed <= TIME_TOLERANCE_S:
            return records, None
        near = np.flatnonzero(np.abs(records["t"] - elapsed) <= TIME_TOLERANCE_S)
        for index in near:
            cap_C = float(records["cap_Ah"][index]) * C_PER_AH
            if abs(cap_C - abs(charge)) <= CHARGE_TOLERANCE * max(abs(charge), 1.0):
                return records, int(index)
        return None

    def _wait_until_idle(self, test: _Test) -> None:
        delay = 0.05
        for _ in range(IDLE_POLLS):
            state = self._status()
            if state != "working":
                test.ended, test.end_reason = True, self._end_reason(test, state)
                return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise RuntimeError(f"{self.name}: still working {IDLE_POLLS} polls after stop")

    def _download(self, test: _Test) -> np.ndarray:
        request = messages.download_request(
            self.address,
            testid=test.testid,
            startpos=test.next_seq,
            count=MAX_DOWNLOAD,
            auxid=self._settings.auxid,
        )
        got = messages.download(self._instrument.transact(request))
        if test.testid == 0:
            test.testid = got.testid
        elif got.testid not in (0, test.testid):
            raise ProtocolError(f"{self.name}: asked for test {test.testid}, got {got.testid}")
        records = got.records[got.records["seqid"] >= test.next_seq]  # never twice
        expected = np.arange(test.next_seq, test.next_seq + len(records))
        if not np.array_equal(records["seqid"], expected):
            raise ProtocolError(
                f"{self.name}: records out of sequence after {test.next_seq - 1}: "
                f"{records['seqid'][:5].tolist()}…"
            )
        if len(records):
            test.next_seq += len(records)
            r = records[-1]
            test.last = (float(r["t"]), float(r["V"]), float(r["I"]), float(r["cap_Ah"]))
            self._last_V = float(r["V"])
        return records

    def _status(self) -> str:
        answer = self._instrument.transact(messages.getchlstatus_request([self.address]))
        (state,) = messages.answers(answer, "getchlstatus", "status", [self.address])
        return state

    def _present_voltage(self) -> float:
        if self._last_V is None:
            answer = self._instrument.transact(messages.inquire_request([self.address]))
            (self._last_V,) = messages.inquired_voltage(answer, [self.address])
        return self._last_V

    def _points(self, test: _Test, records: np.ndarray) -> np.ndarray:
        if len(records) == 0:
            return empty_samples()
        points = np.empty(len(records), dtype=SAMPLE_DTYPE)
        points["t"] = test.t_offset + records["t"]
        points["V"] = records["V"]
        points["I"] = records["I"]
        points["Q"] = test.q_offset + test.direction * records["cap_Ah"] * C_PER_AH
        points["T"] = records["T_C"] + KELVIN_AT_0_C  # NaN stays NaN
        return points

    def _end_reason(self, test: _Test, state: str) -> str | None:
        if state == "stop":
            return None if test.stop_sent else "instrument:stop"
        if state == "protect":
            return "instrument:protect"
        if test.last is None:
            return "instrument:finish"
        t, V, I, cap = test.last
        return end_reason_from_record(test.step, t=t, V=V, I=I, charge_C=cap * C_PER_AH)


def end_reason_from_record(step: Step, *, t: float, V: float, I: float, charge_C: float) -> str:
    """Which of the step file's limits the step's last record shows reached."""
    native = [c for c in step.ends if c.kind in NATIVE_CONDITIONS]
    for c in native:
        value = _si(c)
        if c.kind == "time" and t >= value - TIME_TOLERANCE_S:
            return c.reason
        if c.kind == "charge" and abs(charge_C) >= value * (1 - CHARGE_TOLERANCE):
            return c.reason
    # voltage and current: measured with noise, so the nearest in relative terms
    distances: list[tuple[float, EndCondition]] = []
    for c in native:
        value = _si(c)
        if c.kind in ("voltage_above", "voltage_below"):
            distances.append((abs(V - value) / max(abs(value), 0.1), c))
        elif c.kind == "current_below":
            distances.append((abs(abs(I) - value) / max(value, 1e-12), c))
    if not distances:
        return "instrument:finish"
    return min(distances, key=lambda d: d[0])[1].reason


class NewareInstrument:
    """A BTS server (the PC running BTS Client with the API activated) and its channels."""

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        username: str = "admin",
        password: str = "neware",
        timeout_s: float = 30.0,
        retries: int = 6,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        settings: ChannelSettings | None = None,
        only_channels: Sequence[str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.link = Link(
            host,
            port,
            username=username,
            password=password,
            timeout_s=timeout_s,
            retries=retries,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
        )
        settings = settings or ChannelSettings()
        self._own_dir: Path | None = None
        if settings.stepfile_dir is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="cyclerctl-neware-"))
            settings = dataclasses.replace(settings, stepfile_dir=self._own_dir)
        self._settings = settings
        self._only = None if only_channels is None else set(only_channels)
        self._on_close = on_close
        self._channels: tuple[NewareChannel, ...] = ()
        self._identity = self._make_identity("", "unknown")

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def channels(self) -> tuple[NewareChannel, ...]:
        return self._channels

    def transact(self, request: str) -> messages.Message:
        return self.link.transact(request)

    def connect(self) -> None:
        """Log in and list the channels (``getdevinfo``), in device/sub-device/channel order."""
        info = messages.devinfo(self.transact(messages.getdevinfo_request()))
        addresses = sorted(info.channels, key=lambda a: (a.devid, a.subdevid, a.chlid))
        if self._only is not None:
            addresses = [a for a in addresses if a.key in self._only]
        if not addresses:
            raise RuntimeError(f"neware {self.link.where}: the BTS server lists no channels")
        self._channels = tuple(NewareChannel(self, a, self._settings) for a in addresses)
        devtypes = sorted({a.devtype for a in addresses})
        self._identity = self._make_identity(
            "/".join(str(d) for d in devtypes), info.client_version or "unknown"
        )

    def close(self) -> None:
        """Leave every channel this driver started at rest, then let go of the link."""
        try:
            for channel in self._channels:
                if channel.running:
                    # closing an unreachable instrument must not raise
                    with contextlib.suppress(OSError, RuntimeError):
                        channel.stop()
        finally:
            self.link.close()
            if self._own_dir is not None:
                shutil.rmtree(self._own_dir, ignore_errors=True)
            if self._on_close is not None:
                self._on_close()

    def _make_identity(self, devtypes: str, firmware: str) -> Identity:
        return Identity(
            driver="neware",
            vendor="Neware",
            model=f"BTS (devtype {devtypes})" if devtypes else "BTS",
            serial=self.link.where,
            firmware=firmware,
        )


def _si(condition: EndCondition) -> float:
    if not isinstance(condition.value, float | int):
        raise ValueError(f"condition {condition.kind} is not bound")
    return float(condition.value)
