"""``companion scan`` / ``companion record`` on emulated sensors, and the per-user config."""

from __future__ import annotations

import json

import pytest

from companion.cli import main
from companion.commands.inspect import summarize
from companion.config import (
    ConfigError,
    KnownSensor,
    config_dir,
    forget_sensor,
    known_sensor,
    load_known_sensors,
    remember_sensors,
)
from companion.model import Placement
from companion.sources.ble import BleErrorKind, classify_ble_error
from companion.sources.emulated import FaultSpec
from companion.storage import load_session


@pytest.fixture(autouse=True)
def _config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_record_emulated_then_inspect_reports_the_injected_loss(tmp_path, capsys):
    out = tmp_path / "rec.calf"
    rc = main(
        [
            "record",
            "--emulate",
            "calf",
            "--rate",
            "50",
            "--duration",
            "3",
            "--faults",
            "drop=0.1,seed=4",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "shin_left" in text
    assert "Hz" in text
    session = load_session(out)
    assert session.source == "record:emulated"
    info = summarize(session)
    by_id = {s["sensor_id"]: s for s in info["sensors"]}
    assert set(by_id) == {"shin_left", "foot_left"}
    for s in by_id.values():
        assert s["family"] == "calf"
        assert s["effective_rate_hz"] == pytest.approx(50.0, rel=0.02)
        # 10 % of notifications lost (each carries 3 samples at 50 Hz): loss within 3..20 %
        assert 3.0 <= s["loss_pct"] <= 20.0
        assert s["gaps"] >= 1
        # 3 s from the first item, plus the connection phase (a busy machine adds more)
        assert 2.0 * 50 * 0.75 <= s["samples"] <= 8.0 * 50
    kinds = {a["kind"] for a in session.annotations}
    assert "link.state" in kinds


def test_record_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "x.calf"
    out.write_bytes(b"keep")
    rc = main(["record", "--emulate", "dot", "--duration", "1", "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "already exists" in err[0]
    assert out.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["record", "--faults", "drop=0.1", "--shin", "A", "--out", "{out}"], "--emulate"),
        (["record", "--out", "{out}"], "--shin ADDR --foot ADDR"),
        (["record", "--sensor", "AA:BB", "--out", "{out}"], "no remembered placement"),
        (["record", "--emulate", "nope", "--out", "{out}"], "unknown sensor family"),
        (["record", "--emulate", "dot", "--faults", "drop=2", "--out", "{out}"], "probability"),
        (["record", "--emulate", "dot", "--rate", "100", "--out", "{out}"], "cannot stream"),
    ],
)
def test_record_usage_errors_are_one_sentence(tmp_path, capsys, argv, needle):
    argv = [a.replace("{out}", str(tmp_path / "o.calf")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert needle in err[0]
    assert not (tmp_path / "o.calf").exists()


def test_scan_emulated_table_and_json(capsys):
    assert main(["scan", "--emulate", "movesense", "--timeout", "0.3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["FAMILY", "NAME", "ADDRESS"]
    assert len(lines) == 3
    assert all(line.startswith("movesense") for line in lines[1:])
    remember_sensors(
        [
            KnownSensor(
                address="EE:00:00:00:00:01",
                placement=Placement(segment="shin", side="left"),
                family="movesense",
            )
        ]
    )
    assert main(["scan", "--emulate", "movesense", "--timeout", "0.3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["placement"] for r in rows} == {"shin_left", None}


def test_config_roundtrip_and_placement_moves(tmp_path):
    assert config_dir() == tmp_path / "config" / "calf-companion"
    assert load_known_sensors() == {}
    a = KnownSensor(
        address="aa:bb:cc:dd:ee:01", placement=Placement(segment="shin", side="left"), family="dot"
    )
    b = KnownSensor(address="AA:BB:CC:DD:EE:02", placement=Placement(segment="foot", side="left"))
    remember_sensors([a, b])
    assert known_sensor("AA:BB:CC:DD:EE:01") == a
    assert (config_dir() / "sensors.json").is_file()
    # a new sensor on the shin takes the placement over
    c = KnownSensor(address="AA:BB:CC:DD:EE:03", placement=a.placement, family="calf")
    remember_sensors([c])
    known = load_known_sensors()
    assert set(known) == {"AA:BB:CC:DD:EE:02", "AA:BB:CC:DD:EE:03"}
    assert forget_sensor("aa:bb:cc:dd:ee:02")
    assert not forget_sensor("aa:bb:cc:dd:ee:02")
    assert set(load_known_sensors()) == {"AA:BB:CC:DD:EE:03"}


def test_corrupt_config_is_one_sentence():
    path = config_dir() / "sensors.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ConfigError) as err:
        load_known_sensors()
    assert str(err.value).startswith(str(path))
    assert "delete it" in str(err.value)


def test_fault_spec_parsing():
    f = FaultSpec.parse(
        "drop=0.02, dup=0.01,burst=0.05,malformed=0.001,disconnect_every=60,mute=shin"
    )
    assert (f.drop, f.dup, f.burst, f.malformed, f.disconnect_every) == (
        0.02,
        0.01,
        0.05,
        0.001,
        60.0,
    )
    assert f.mute == ("shin",)
    assert FaultSpec.parse("") == FaultSpec()
    for bad in ("drop", "drop=x", "loss=0.1", "dup=-1"):
        with pytest.raises(Exception, match="--faults"):
            FaultSpec.parse(bad)


def test_classify_ble_error_table():
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
    )

    table = [
        (FileNotFoundError(2, "No such file or directory"), BleErrorKind.NO_DBUS, True),
        (
            BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            ),
            BleErrorKind.NO_ADAPTER,
            True,
        ),
        (
            BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
            BleErrorKind.POWERED_OFF,
            True,
        ),
        (
            BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []),
            BleErrorKind.NO_BLUEZ,
            True,
        ),
        (BleakDBusError("org.bluez.Error.NotReady", []), BleErrorKind.POWERED_OFF, True),
        (BleakDBusError("org.bluez.Error.InProgress", []), BleErrorKind.BUSY, False),
        (BleakDeviceNotFoundError("AA", "not found"), BleErrorKind.NOT_FOUND, False),
        (BleakError("Not connected"), BleErrorKind.CONNECTION, False),
        (TimeoutError(), BleErrorKind.TIMEOUT, False),
    ]
    for exc, kind, fatal in table:
        c = classify_ble_error(exc)
        assert (c.kind, c.fatal) == (kind, fatal), exc
        assert c.advice.endswith(".")
        assert c.advice.count(". ") == 0  # one sentence
