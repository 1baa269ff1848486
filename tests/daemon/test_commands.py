"""submit / status / pause / resume / stop from the CLI, with no daemon running (in-process)."""

from __future__ import annotations

import json

import pytest

from cyclerctl.cli import main

from .conftest import Lab, sim


def _runs(lab: Lab) -> int:
    store = lab.store()
    try:
        return len(store.list_runs())
    finally:
        store.close()


def test_submit_validates_before_queueing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.instruments = [sim("sim", 2)]
    config = str(lab.config())
    bad = ["submit", lab.protocol, "--cell", "ncm622-coin", "--config", config]
    assert main([*bad, "--channel", "sim:1", "--set", "cycles=0"]) == 2
    assert "cycles" in capsys.readouterr().err
    assert main([*bad, "--channel", "sim:9"]) == 2
    assert "'sim:9' is not a channel" in capsys.readouterr().err
    assert main(["submit", "no-such-protocol", "--cell", "ncm622-coin", "--channel", "sim:1",
                 "--config", config]) == 2  # fmt: skip
    assert _runs(lab) == 0  # nothing was queued
    run_id = lab.submit("sim:2", "--json")
    queued = json.loads(capsys.readouterr().out)
    assert queued["id"] == run_id and queued["status"] == "queued"
    assert queued["overrides"] == {"cycles": "2"} and queued["operator"] == "ana"


def test_status_lists_configured_channels_and_the_queue(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.instruments = [sim("sim", 2), sim("other", 1)]
    lab.submit("sim:2")
    lab.submit("sim:2")
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(lab.config())]) == 0
    shown = json.loads(capsys.readouterr().out)
    channels = {row["channel"]: row for row in shown["channels"]}
    assert list(channels) == ["other:1", "sim:1", "sim:2"]
    assert all(row["state"] == "idle" for row in channels.values())
    assert [row["queued"] for row in channels.values()] == [0, 0, 2]
    assert shown["daemons"] == []
    assert main(["status", "--config", str(lab.config())]) == 0
    table = capsys.readouterr().out
    assert "sim:2" in table and "no daemon has ever run" in table


def test_commands_on_queued_runs_and_without_a_daemon(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.instruments = [sim("sim", 2)]
    config = str(lab.config())
    first, second = lab.submit("sim:1"), lab.submit("sim:1")
    assert main(["pause", str(first), "--operator", "bob", "--config", config]) == 2
    assert "queued" in capsys.readouterr().err
    # stopping a queued run takes it out of the queue: the store answers at once
    assert main(["stop", str(second), "--operator", "bob", "--config", config]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert lab.run(second).status == "stopped"
    # a running run whose daemon is gone: the command is recorded, not acknowledged
    store = lab.store()
    try:
        claimed = store.claim_next(["sim:1"], "gone-daemon")
    finally:
        store.close()
    assert claimed is not None and claimed.id == first
    code = main(["pause", str(first), "--operator", "bob", "--wait", "0.3", "--config", config])
    assert code == 1
    assert "not acknowledged within 0.3 s" in capsys.readouterr().out
    assert main(["stop", "999", "--operator", "bob", "--config", config]) == 2
