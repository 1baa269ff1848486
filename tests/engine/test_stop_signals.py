"""Stop signals in the engine's loop only (issue 18 part 3): a signal that arrives while the
run is being set up or its end recorded is held and acted on at the loop, never cutting the
recording of the end in half. Real signals sent to this process (POSIX)."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import execute_run
from cyclerctl.host_os import StopSignal, interruptible, stop_on_signals
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_signal_outside_the_loop_is_held_until_the_loop_is_entered() -> None:
    with stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)  # handled at once: held, nothing raised
        with pytest.raises(StopSignal) as raised, interruptible():
            pass
        assert raised.value.signal_name == "SIGTERM"
        os.kill(os.getpid(), signal.SIGHUP)  # the stop is under way: ignored
        with interruptible():
            pass
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_a_signal_before_the_run_starts_stops_it_at_its_first_step(db_url: str) -> None:
    plan = load_plan("li-cu-ce", "li-qse-cu")
    instrument = SimInstrument([plan.cell])
    store = Store.open(db_url)
    try:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)  # while the run is being created
            identity = instrument.identity.as_dict()
            report = execute_run(
                store, plan, instrument.channels[0], instrument=identity, operator="t"
            )
        assert (report.run.status, report.run.end_reason) == ("stopped", "operator:SIGTERM")
        assert store.last_seq(report.run.id) == 0  # nothing measured: stopped at once
    finally:
        store.close()


def test_other_threads_are_never_interrupted() -> None:
    seen: list[BaseException] = []

    def other() -> None:
        try:
            with interruptible():
                pass
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            seen.append(exc)

    with stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert seen == []
        with pytest.raises(StopSignal), interruptible():
            pass
