"""The notifier against real loopback servers: grouping, retries bounded, secrets hidden."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from cyclerctl.cli import main
from cyclerctl.notify import Notice, Notifier, NotifyTarget
from cyclerctl.notify.targets import shown

from .conftest import SMTP_PASSWORD, Mailbox, Webhook, closed_port_url

apprise = pytest.importorskip("apprise")

from cyclerctl.notify.send import AppriseSender  # noqa: E402 - after the skip


def _failed(channel: str, run_id: int) -> Notice:
    return Notice(
        "failed",
        "link lost",
        channel=channel,
        run_id=run_id,
        protocol="ncm622-cycling",
        cell="ncm622-coin",
        operator="ana",
        status="failed",
        end_reason="instrument:lost",
        V=3.71,
        I=-2e-3,
        T=298.15,
    )


def _until(what: str, check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_burst_is_one_message_per_target_with_its_own_channels(webhook: Webhook) -> None:
    targets = [
        NotifyTarget(webhook.url("/all"), on=("failed",)),
        NotifyTarget(webhook.url("/rack2"), on=("failed",), channels=("rack2:*",)),
        NotifyTarget(webhook.url("/safety"), on=("safety_stop",)),
    ]
    # a generous quiet time: the 20 notices below are queued within microseconds of each
    # other, so they are one burst however slow the machine is
    notifier = Notifier(targets, AppriseSender(), quiet_s=5.0, max_group_s=30.0).start()
    for n in range(1, 21):
        notifier.notify(_failed(f"rack{1 + n // 11}:{n}", n))
    notifier.close()  # sends the burst now
    assert sorted(webhook.paths) == ["/all", "/rack2"]
    by_path = dict(zip(webhook.paths, webhook.bodies, strict=True))
    assert by_path["/all"]["title"] == "cyclerctl: 20 events on 20 channel(s): run failed ×20"
    assert by_path["/rack2"]["title"].startswith("cyclerctl: 10 events on 10 channel(s)")
    assert "rack1:" not in by_path["/rack2"]["message"]
    assert len(notifier.sent) == 2 and not notifier.failures


def test_a_target_that_is_down_is_retried_with_backoff_then_given_up(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    down = closed_port_url()
    targets = [NotifyTarget(down, on=("failed",)), NotifyTarget(webhook.url(), on=("failed",))]
    notifier = Notifier(
        targets, AppriseSender(), quiet_s=0.01, retry_first_s=0.05, retry_max_s=0.2, attempts=3
    ).start()
    with caplog.at_level(logging.INFO, logger="cyclerctl.notify"):
        notifier.notify(_failed("sim:1", 7))
        _until("the down target to be given up", lambda: notifier.given_up)
        notifier.close()
    assert len(notifier.failures) == 3  # bounded: exactly `attempts` tries
    assert [s.attempt for s in notifier.given_up] == [3]
    assert len(webhook.bodies) == 1  # the working target was not held up
    tries = [r.getMessage() for r in caplog.records if "/3 failed" in r.getMessage()]
    assert [f"try {k}/3 failed" in m for k, m in enumerate(tries, 1)] == [True, True, True]
    assert "next try in" in tries[0] and any("gave up" in r.getMessage() for r in caplog.records)


def test_a_message_says_what_where_which_run_and_how_to_look(mailbox: Mailbox) -> None:
    notifier = Notifier([NotifyTarget(mailbox.url(), on=("failed",))], AppriseSender())
    notifier.start().notify(_failed("neware:3", 42))
    notifier.close()
    (mail,) = mailbox.mails
    text = mailbox.text(mail)
    assert mail["Subject"] == "cyclerctl: run failed on neware:3, run 42"
    for part in (
        "run failed on neware:3",
        "run 42: ncm622-cycling with cell ncm622-coin, started by ana",
        "status: failed, end reason: instrument:lost",
        "last: V 3.7100 V, I -2 mA, T 25.0 °C",
        "look: cyclerctl show 42",
    ):
        assert part in text


def test_secrets_are_shown_as_stars() -> None:
    url = f"mailto://tech:{SMTP_PASSWORD}@smtp.lab.example:587?to=a@b&token=abcdef123"
    assert shown(url) == "mailto://tech:***@smtp.lab.example:587?to=a@b&token=***"
    target = NotifyTarget("json://hooks.lab.example/x", password_env="X_PASSWORD")
    assert target.shown == "json://:***@hooks.lab.example/x"


def _config(tmp_path: Path, body: str, mode: int = 0o600) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(body)
    path.chmod(mode)
    return path


def test_notify_test_says_which_target_failed(
    tmp_path: Path, webhook: Webhook, mailbox: Mailbox, capsys: pytest.CaptureFixture[str]
) -> None:
    down = closed_port_url()
    config = _config(
        tmp_path,
        f'[[notify]]\nurl = "{mailbox.url()}"\n\n[[notify]]\nurl = "{webhook.url()}"\n'
        f'on = ["failed"]\n\n[[notify]]\nurl = "{down}"\n',
    )
    assert main(["notify", "test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert f"mailto://tech:***@127.0.0.1:{mailbox.port}" in out and SMTP_PASSWORD not in out
    assert f"{webhook.url()}: sent" in out
    assert f"{down}: FAILED: " in out and "1 of 3 target(s) failed" in out
    assert len(mailbox.mails) == 1 and len(webhook.bodies) == 1
    assert "test" in webhook.bodies[0]["title"] and "failed" in webhook.bodies[0]["message"]
    # the one that is down removed: every target took it, exit 0
    config = _config(tmp_path, f'[[notify]]\nurl = "{webhook.url()}"\n')
    assert main(["notify", "test", "--config", str(config)]) == 0


def test_a_password_in_a_config_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path, f'[[notify]]\nurl = "mailto://tech:{SMTP_PASSWORD}@h?to=a@b"\n', 0o644
    )
    assert main(["notify", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:2: notify[1].url: carries a secret" in err and "chmod 600" in err
    assert SMTP_PASSWORD not in err


def test_bad_notify_entries_name_the_line_and_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path,
        '[[notify]]\nurl = "ntfy://ntfy.lab.example/cyclers"\non = ["safety_stop", "fire"]\n'
        'colour = "red"\n\n[[notify]]\nurl = "not a url"\n',
    )
    assert main(["notify", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:3: notify[1].on[2]: unknown event 'fire'; the events are: safety_stop" in err
    assert f"{config}:4: notify[1].colour: unknown field" in err
    assert f"{config}:7: notify[2].url: an Apprise URL" in err


def test_a_password_file_must_be_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "smtp.password"
    secret.write_text(SMTP_PASSWORD)
    secret.chmod(0o644)
    config = _config(
        tmp_path,
        '[[notify]]\nurl = "mailto://tech@127.0.0.1:1?to=a@b"\npassword_file = "smtp.password"\n',
    )
    assert main(["notify", "test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "mailto://tech:***@127.0.0.1:1" in out and "chmod 600" in out
    assert SMTP_PASSWORD not in out


def test_without_apprise_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "apprise", None)  # import apprise fails
    config = _config(tmp_path, '[[notify]]\nurl = "ntfy://ntfy.lab.example/cyclers"\n')
    assert main(["notify", "test", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "notifications need Apprise: pip install 'cyclerctl[notify]' (or pip install apprise)\n"
    )
