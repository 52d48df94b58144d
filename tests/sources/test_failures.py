"""Every failure a user can cause reads as one sentence with what to do next (issue 4).

No adapter / no BlueZ / no D-Bus / Bluetooth off, sensor not found, sensor lost, wrong
family: through the real bleak facade with the emulated radio (or a scanner backend that
fails like the platform would), and through ``companion scan`` / ``companion record``.
"""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
)

from companion.cli import main
from companion.sources.base import LinkState, LinkStateChanged
from companion.sources.ble import BleBackend, BleSource, SensorAssignment, scan
from companion.sources.emulated import (
    EmulatedRadio,
    EmulatedScannerBackend,
    FaultSpec,
    default_emulated_sensors,
)
from companion.sources.errors import (
    BluetoothUnavailableError,
    SensorLostError,
    WrongFamilyError,
)
from companion.sources.virtual_time import run_virtual


def assert_one_sentence(msg: str) -> None:
    """One sentence: ends with a full stop, no sentence break inside, says what to do."""
    assert msg.endswith("."), msg
    assert ". " not in msg, msg
    assert "\n" not in msg


PLATFORM_FAILURES = [
    (
        BleakBluetoothNotAvailableError(
            "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        ),
        "no_adapter",
        "Bluetooth Low Energy adapter",
    ),
    (
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []),
        "no_bluez",
        "systemctl start bluetooth",
    ),
    (FileNotFoundError(2, "No such file or directory"), "no_dbus", "D-Bus"),
    (
        BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
        "powered_off",
        "switch it on",
    ),
]


def _failing_scanner(exc: BaseException) -> type[EmulatedScannerBackend]:
    class Failing(EmulatedScannerBackend):
        async def start(self) -> None:
            raise exc

    return Failing


@pytest.mark.parametrize(("exc", "kind", "advice"), PLATFORM_FAILURES)
def test_unusable_bluetooth_through_bleak_is_one_sentence(exc, kind, advice) -> None:
    backend = BleBackend(scanner=_failing_scanner(exc))
    with pytest.raises(BluetoothUnavailableError) as err:
        run_virtual(scan(1.0, backend=backend))
    assert err.value.kind == kind
    assert advice in str(err.value)
    assert_one_sentence(str(err.value))


@pytest.mark.parametrize(("exc", "kind", "advice"), PLATFORM_FAILURES)
@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--timeout", "1"],
        ["record", "--shin", "AA:BB:CC:DD:EE:01", "--foot", "AA:BB:CC:DD:EE:02", "--duration", "1"],
    ],
)
def test_unusable_bluetooth_on_the_command_line(
    monkeypatch, tmp_path, capsys, exc, kind, advice, argv
) -> None:
    """``companion scan`` / ``record`` on the real bleak path: one line, exit code 2."""

    async def start(self):
        raise exc

    # every scan of the real facade (discover, find_device_by_address) starts a scanner
    monkeypatch.setattr(BleakScanner, "start", start)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    if argv[0] == "record":
        argv = [*argv, "--out", str(tmp_path / "s.calf")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"companion {argv[0]}: ")
    msg = err.split(": ", 1)[1]
    assert advice in msg
    assert_one_sentence(msg)
    assert not (tmp_path / "s.calf").exists()


async def _drain_until_error(source: BleSource, until_s: float) -> tuple[list, Exception | None]:
    items: list = []
    loop = asyncio.get_running_loop()
    try:
        async for item in source:
            items.append(item)
            if loop.time() - source.t0_host_s > until_s:
                await source.close()
    except (SensorLostError, WrongFamilyError) as exc:
        return items, exc
    return items, None


def test_sensor_lost_says_which_and_what_to_do() -> None:
    """Each sensor that stays away is given up with its own sentence; when none is left the
    session ends with one more."""
    specs = default_emulated_sensors(["calf"])
    radio = EmulatedRadio(specs, faults=FaultSpec.parse("disconnect_every=5,down_s=1000"))
    src = BleSource(
        [
            SensorAssignment(address=s.address, placement=s.placement, family=s.family)
            for s in specs
        ],
        backend=radio.backend,
        lost_timeout_s=20.0,
    )
    items, exc = run_virtual(_drain_until_error(src, 1000.0))
    failed = [i for i in items if isinstance(i, LinkStateChanged) and i.state == LinkState.FAILED]
    assert sorted(f.sensor_id for f in failed) == ["foot_left", "shin_left"]
    for f in failed:
        assert f.message.startswith(f"{f.sensor_id} (")
        assert "out of reach for 20 s" in f.message
        assert "check its battery and distance" in f.message
        assert_one_sentence(f.message)
    assert isinstance(exc, SensorLostError)
    assert_one_sentence(str(exc))


def test_wrong_family_at_connect_is_one_sentence() -> None:
    """A witmotion sensor given as a dot one: refused by name, with the real family."""
    specs = default_emulated_sensors(["witmotion"])
    radio = EmulatedRadio(specs)
    s = specs[0]
    src = BleSource(
        [SensorAssignment(address=s.address, placement=s.placement, family="dot")],
        backend=radio.backend,
        scan_timeout_s=2.0,
    )
    _, exc = run_virtual(_drain_until_error(src, 10.0))
    assert isinstance(exc, WrongFamilyError)
    assert str(exc).startswith(f"The device at {s.address} is a witmotion sensor, not a dot sensor")
    assert_one_sentence(str(exc))
