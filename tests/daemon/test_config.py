"""The daemon's part of the config file: instruments, limits, chambers, file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclerctl.cli import main
from cyclerctl.config import ConfigError, load_config
from cyclerctl.engine.safety import combine
from cyclerctl.plan import SafetyLimit

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "lab.toml"
    path.write_text(text)
    return str(path)


def test_the_example_config_loads() -> None:
    config = load_config(str(REPO / "config.example.toml"))
    assert config.instruments and config.daemon.name
    assert all(":" in name for name in config.channel_names)


def test_instruments_channels_limits_and_daemon(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            """
            [database]
            url = "sqlite:///lab.db"
            daemon = { name = "lab-pc-1", heartbeat = "2 s", stale_after = "15 s" }

            [[instruments]]
            name = "sim"
            driver = "sim"
            cells = ["ncm622-coin", "lco-coin"]
            speed = 50

            [instruments.limits]
            voltage_max = "4.45 V"
            current_max = { value = "-20 mA", for = "100 ms" }
            temperature_max = "60 degC"

            [[instruments]]
            name = "bts"
            driver = "neware"
            address = "10.0.0.5:502"
            channels = [1, 3, 5]
            chamber = "espec"

            [[chambers]]
            name = "espec"
            address = "/dev/ttyUSB0"
            """,
        )
    )
    assert config.daemon.name == "lab-pc-1"
    assert (config.daemon.heartbeat_s, config.daemon.stale_after_s) == (2.0, 15.0)
    assert config.channel_names == ("sim:1", "sim:2", "bts:1", "bts:3", "bts:5")
    sim, bts = config.instruments
    assert sim.realtime and sim.speed == 50 and sim.cell_for(2) == "lco-coin"
    limits = {lim.quantity: (lim.value, lim.hold_s) for lim in sim.limits}
    assert limits == {
        "voltage_max": (4.45, 0.0),
        "current_max": (pytest.approx(0.02), pytest.approx(0.1)),
        "temperature_max": (pytest.approx(333.15), 0.0),
    }
    assert config.find_channel("bts:3") == (bts, 3) and config.find_channel("bts:2") is None
    chamber = config.chamber_of(bts)
    assert chamber is not None and chamber.name == "espec" and config.chamber_of(sim) is None
    # a protocol can only narrow a hard limit, never widen it
    protocol = (SafetyLimit("voltage_max", 4.6), SafetyLimit("voltage_min", 2.5))
    effective = {lim.quantity: lim.value for lim in combine(sim.limits, protocol)}
    assert effective["voltage_max"] == 4.45 and effective["voltage_min"] == 2.5


def test_every_error_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """[daemon]
heartbeat = "soon"

[[instruments]]
name = "a:b"
driver = "gamry"

[[instruments]]
name = "sim"
driver = "sim"
cells = ["no-such-cell"]
channels = 2
spead = 3

[instruments.limits]
voltage_max = "4.4"
current_max = "5 V"
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    expected = [
        f"{path}:2: daemon.heartbeat:",
        f"{path}:5: instruments[1].name:",
        f"{path}:6: instruments[1].driver: unknown driver 'gamry'",
        f"{path}:11: instruments[2].cells[1]:",
        f"{path}:11: instruments[2].cells: one cell per channel",
        f"{path}:13: instruments[2].spead: unknown field",
        f"{path}:16: instruments[2].limits.voltage_max:",
        f"{path}:17: instruments[2].limits.current_max:",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)


def test_the_daemon_command_exits_2_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, '[[instruments]]\nname = "x"\ndriver = "neware"\n')
    assert main(["daemon", "--config", path]) == 2
    assert f"{path}:1: instruments[1].address: is required" in capsys.readouterr().err
    empty = _write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n')
    assert main(["daemon", "--config", empty]) == 2
    assert "at least one [[instruments]]" in capsys.readouterr().err
    stale = _write(tmp_path, '[daemon]\nheartbeat = "10 s"\nstale_after = "15 s"\n')
    assert main(["daemon", "--config", stale]) == 2
    assert "daemon.stale_after: must be at least twice the heartbeat" in capsys.readouterr().err


def test_toml_syntax_errors_name_their_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[daemon]\nname = "pc-1"\nheartbeat = "2 s\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:3: TOML syntax: ")
    assert "(column" in str(caught.value)


@pytest.mark.parametrize("depth", [40, 5000])  # past the limit; past Python's stack
def test_absurdly_nested_values_are_refused_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int
) -> None:
    path = _write(tmp_path, '[daemon]\nname = "pc-1"\noptions = ' + "[" * depth + "]" * depth)
    assert main(["--config", path, "validate", "li-li-cycling", "--cell", "li-qse-li"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}")
    assert "nested" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_numbers_past_any_instrument_are_refused_not_a_crash(tmp_path: Path) -> None:
    """Found by tests/faults/test_bad_input.py: these raised MemoryError / OverflowError."""
    path = _write(
        tmp_path,
        f"""[daemon]
heartbeat = {10**400}
poll = nan

[[instruments]]
name = "sim"
driver = "sim"
channels = 4294967296
speed = inf

[[instruments]]
name = "sim2"
driver = "sim"
channels = [1, 99999999999999999999]
cells = ["{"9" * 300} V", "ncm622-coin"]
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    expected = [
        f"{path}:2: daemon.heartbeat: the number is out of range",
        f"{path}:3: daemon.poll: the number is out of range, got nan",
        f"{path}:8: instruments[1].channels: must be from 1 to 4096, got 4294967296",
        f"{path}:9: instruments[1].speed: must be a number > 0",
        f"{path}:15: instruments[2].cells[1]: ",
        f"{path}:14: instruments[2].channels[2]: a channel number from 1 to 4096",
        f"{path}:15: instruments[2].cells: one cell per channel: 1 channel(s) but 2",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert len(lines) == len(expected)


def test_outage_settings_reach_the_store_and_the_daemon(tmp_path: Path) -> None:
    text = (
        '[database]\nurl = "sqlite:///lab.db"\nbacklog_rows = 50000\nretry_max = "2 s"\n\n'
        '[daemon]\nname = "pc"\ninstrument_lost_after = "15 min"\n'
    )
    config = load_config(_write(tmp_path, text))
    assert config.database_backlog_rows == 50_000
    assert config.database_retry_max_s == 2.0
    assert config.daemon.instrument_lost_after_s == 900.0
    defaults = load_config(_write(tmp_path, '[database]\nurl = "sqlite:///lab.db"\n'))
    assert defaults.database_backlog_rows is None
    assert defaults.daemon.instrument_lost_after_s == 600.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("backlog_rows = 10", "database.backlog_rows: must be a whole number of points"),
        ('backlog_rows = "lots"', "database.backlog_rows: must be a whole number of points"),
        ('retry_max = "0 s"', "database.retry_max: must be longer than 0 s"),
    ],
)
def test_bad_outage_settings_name_their_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, f'[database]\nurl = "sqlite:///lab.db"\n{line}\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}:3: {message}")
