"""The daemon tells the lab: a safety stop by mail and webhook, a burst in one message,
a target that is down costs a log line and nothing else.

Real servers on loopback (tests/notify/conftest.py), a real daemon subprocess on the
simulator (tests/daemon/conftest.py), talking only through the database and the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import PROTOCOL, DaemonProcess, Lab, daemons, lab, sim, wait_for

from .conftest import SMTP_PASSWORD, Mailbox, Webhook, closed_port_url

pytest.importorskip("apprise")

__all__ = ["daemons", "lab"]  # the daemon fixtures, used here

Start = Callable[[Path], DaemonProcess]

#: the sim cell's first charge passes 3.6 V within minutes: a safety stop, not a completion
SAFETY_PROTOCOL = PROTOCOL.replace('voltage_max = "4.4 V"', 'voltage_max = "3.6 V"')


def _notify(url: str, *, on: str, extra: str = "") -> str:
    return f'[[notify]]\nurl = "{url}"\non = [{on}]\n{extra}'


def test_a_safety_stop_reaches_the_mailbox_and_the_webhook(
    lab: Lab, daemons: Start, mailbox: Mailbox, webhook: Webhook
) -> None:
    Path(lab.protocol).write_text(SAFETY_PROTOCOL)
    password = lab.folder / "smtp.password"
    password.write_text(SMTP_PASSWORD + "\n")
    password.chmod(0o600)
    lab.instruments = [
        sim("sim", 2),
        _notify(
            mailbox.url(password=False),
            on='"safety_stop", "failed"',
            extra='password_file = "smtp.password"\n',
        ),
        _notify(webhook.url(), on='"safety_stop"', extra='channels = ["sim:*"]\n'),
    ]
    run_id = lab.submit("sim:1", cycles=1, operator="ana")
    daemon = daemons(lab.config())
    wait_for("the safety stop", lambda: lab.run(run_id).status == "safety_stop", timeout=30)
    wait_for("the mail", lambda: mailbox.mails, timeout=30)
    wait_for("the webhook", lambda: webhook.bodies, timeout=30)
    assert daemon.terminate() == 0
    run = lab.run(run_id)
    (mail,) = mailbox.mails
    text = mailbox.text(mail)
    (body,) = webhook.bodies
    print("--- mail ---", f"Subject: {mail['Subject']}", text, sep="\n")
    print("--- webhook ---", body, sep="\n")
    for message in (text, body["message"]):
        assert "safety stop on sim:1" in message
        assert f"run {run_id}: daemon-test with cell {run.cell_name}, started by ana" in message
        assert "voltage_max 3.6 V breached: measured 3.6" in message  # the alarm's own words
        assert f"end reason: {run.end_reason}" in message and run.end_reason == "safety:voltage_max"
        assert "last: V 3.6" in message and " mA" in message and "°C" in message
        assert f"look: cyclerctl show {run_id}" in message
    assert mail["Subject"] == body["title"] == f"cyclerctl: safety stop on sim:1, run {run_id}"
    assert mailbox.logins == [("tech", SMTP_PASSWORD)]
    log = daemon.text()
    assert SMTP_PASSWORD not in log
    assert "mailto://tech:***@127.0.0.1" in log  # the password file's secret shown as ***


def test_twenty_channels_failing_at_once_are_one_message(
    lab: Lab, daemons: Start, webhook: Webhook
) -> None:
    lab.instruments = [
        sim("rack", 20, speed=50, extra='options = { fault_after = "1 s" }\n'),
        _notify(webhook.url(), on='"failed", "safety_stop", "instrument_lost"'),
    ]
    runs = [lab.submit(f"rack:{n}", cycles=1) for n in range(1, 21)]
    daemon = daemons(lab.config())
    wait_for(
        "the 20 runs to fail",
        lambda: all(lab.run(r).status == "failed" for r in runs),
        timeout=60,
    )
    wait_for("the message", lambda: webhook.bodies, timeout=30)
    assert daemon.terminate() == 0  # the notifier sends what it holds on the way out
    (body,) = webhook.bodies
    print("--- grouped webhook ---", body["title"], body["message"], sep="\n")
    assert body["title"] == "cyclerctl: 20 events on 20 channel(s): run failed ×20"
    lines = [line for line in body["message"].splitlines() if line.startswith("  rack:")]
    assert [line.split(" | ")[0].strip() for line in lines] == [f"rack:{n}" for n in range(1, 21)]
    for run_id in runs:
        assert f"cyclerctl show {run_id}" in body["message"]
    assert all("reason error:ConnectionError" in line for line in lines)


def test_a_target_that_is_down_is_logged_and_the_run_completes(
    lab: Lab, daemons: Start, webhook: Webhook
) -> None:
    down = closed_port_url()
    lab.instruments = [
        sim("sim", 1),
        _notify(down, on='"completed"'),
        _notify(webhook.url(), on='"completed"'),
    ]
    run_id = lab.submit("sim:1", cycles=1)
    daemon = daemons(lab.config())
    wait_for("the run to complete", lambda: lab.run(run_id).status == "completed", timeout=30)
    wait_for("the working target's message", lambda: webhook.bodies, timeout=30)
    log_line = f"notify {down}: try 1/6 failed"
    wait_for("the failure in the log", lambda: log_line in daemon.text(), timeout=30)
    assert daemon.terminate() == 0
    assert lab.run(run_id).status == "completed"
    log = daemon.text()
    # the stop gives up on the retry not yet due, and says so: bounded, never hanging
    assert f"notify {down}: gave up on" in log
    assert webhook.bodies[0]["title"] == f"cyclerctl: run completed on sim:1, run {run_id}"


def test_without_notify_the_daemon_says_nothing_about_it(lab: Lab, daemons: Start) -> None:
    lab.instruments = [sim("sim", 1)]
    run_id = lab.submit("sim:1", cycles=1)
    daemon = daemons(lab.config())
    wait_for("the run to complete", lambda: lab.run(run_id).status == "completed", timeout=30)
    assert daemon.terminate() == 0
    log = daemon.text()
    assert "notifications:" not in log and "INFO notify " not in log


def test_a_lost_instrument_is_told_while_the_run_waits_for_it(
    lab: Lab, daemons: Start, webhook: Webhook
) -> None:
    lab.instruments = [
        sim("cyc", 1, speed=100, extra='options = { drop_after = "1 s", drop_for = "2 s" }\n'),
        _notify(webhook.url(), on='"instrument_lost"'),
    ]
    run_id = lab.submit("cyc:1", cycles=1, operator="ben")
    daemon = daemons(lab.config())
    wait_for("the message", lambda: webhook.bodies, timeout=60)
    wait_for("the run to end", lambda: lab.run(run_id).is_completed, timeout=120)
    assert daemon.terminate() == 0
    body = webhook.bodies[0]
    print("--- instrument lost ---", body["title"], body["message"], sep="\n")
    assert body["title"] == f"cyclerctl: instrument lost on cyc:1, run {run_id}"
    assert "link down (drill: drop_after = 1 s" in body["message"]
    assert f"run {run_id}: daemon-test with cell" in body["message"] and "by ben" in body["message"]
    # the link came back: the run went on to its end (no failure to tell)
    assert lab.run(run_id).status == "completed"


class _Lock:
    """Another connection holding the SQLite file's write lock until released."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        self.connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def test_a_database_outage_is_told_and_its_end_too(
    lab: Lab, daemons: Start, webhook: Webhook
) -> None:
    """The file locked past the writer's 10 s busy timeout while a run goes on: one message
    when it has been unwritable for store_outage_alarm, one when it is writable again."""
    lab.daemon_extra = 'store_outage_alarm = "1 s"'
    lab.instruments = [sim("cyc", 1, speed=100), _notify(webhook.url(), on='"store_outage"')]
    run_id = lab.submit("cyc:1", cycles=2)
    daemon = daemons(lab.config())
    store = lab.store()
    try:
        wait_for("the run to log", lambda: store.last_seq(run_id) > 5, timeout=60)
    finally:
        store.close()
    lock = _Lock(lab.folder / "lab.db")
    try:
        wait_for("the outage message", lambda: webhook.bodies, timeout=60)
    finally:
        lock.release()
    wait_for("the all-clear", lambda: len(webhook.bodies) >= 2, timeout=60)
    wait_for("the run to end", lambda: lab.run(run_id).is_completed, timeout=120)
    assert daemon.terminate() == 0
    down, back = webhook.bodies[:2]
    print("--- store outage ---", down["title"], down["message"], sep="\n")
    print("--- store back ---", back["title"], back["message"], sep="\n")
    assert down["title"] == "cyclerctl: database unwritable"
    assert back["title"] == "cyclerctl: database writable again"
    assert "cannot be written for" in down["message"] and "channels: cyc:1" in down["message"]
    assert "is writable again after" in back["message"]
    assert lab.run(run_id).status == "completed"
