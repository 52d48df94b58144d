"""The BLE source end to end through bleak's own API, with only the radio emulated.

Sessions run on a virtual-time event loop, so minutes of streaming take seconds. The full
10-minute acceptance run per family is ``tools/ble_soak.py`` (same checks, longer).
"""

from __future__ import annotations

import asyncio

import pytest

from companion.model import Placement
from companion.sources.base import LinkState, LinkStateChanged
from companion.sources.ble import BleSource, SensorAssignment, resolve_assignments, scan
from companion.sources.emulated import EmulatedRadio, FaultSpec, default_emulated_sensors
from companion.sources.errors import (
    BluetoothUnavailableError,
    SensorLostError,
    SensorNotFoundError,
    WrongFamilyError,
)
from companion.sources.virtual_time import run_virtual

from .emulated_session import check_sensor, failed_states, run_session

FAULTS = "drop=0.02,dup=0.01,disconnect_every=15"
# (family, rate, connection interval): moderate rates and the intervals these devices get
# keep the suite fast; tools/ble_soak.py runs 10 minutes at the default rates
CASES = [
    ("calf", 100.0, 0.030),
    ("movesense", 52.0, 0.030),
    ("dot", 60.0, 0.015),
    ("witmotion", 50.0, 0.015),
    ("metamotion", 50.0, 0.015),
    ("polar", 52.0, 0.030),
    ("thingy52", 50.0, 0.015),
]


@pytest.mark.parametrize(("family", "rate_hz", "ci_s"), CASES)
def test_session_with_faults_matches_truth(family, rate_hz, ci_s):
    run = run_session(family, duration_s=40.0, faults=FAULTS, rate_hz=rate_hz, seed=3, ci_s=ci_s)
    assert failed_states(run) == []
    checks = [check_sensor(run, sid) for sid in ("shin_left", "foot_left")]
    for c in checks:
        T = c.period_s
        # two forced disconnects, each back within 5 s of the sensor advertising again
        assert len(c.reconnect_delays_s) == 2, c
        assert max(c.reconnect_delays_s) < 5.0
        assert c.matched, c  # every delivered sample exactly once, in order, same values
        # (except those still in flight when the session was closed)
        assert 0 <= c.delivered - c.recorded <= 0.3 / T
        # every drop a gap at the right place with the right size, for every family (the
        # families without device time too: their link here has one sample per connection
        # event, see docs/ble.md); across a disconnect the size is ±1 (host time)
        assert c.gap_mismatches == [], c.gap_mismatches[:5]
        assert abs(c.missing_reported - c.missing_expected) <= 2  # ±1 per disconnect
        assert c.gaps_found == c.gaps_expected
        assert c.time_err_spread_s < T, c
    # one session clock: the two sensors' time errors agree within a sample period
    agree_s = abs(checks[0].time_err_median_s - checks[1].time_err_median_s)
    assert agree_s < 0.5 * checks[0].period_s


def test_states_and_stats_are_reported():
    run = run_session("calf", duration_s=40.0, faults="drop=0.05,disconnect_every=15", ci_s=0.03)
    seen = {(s.sensor_id, s.state) for s in run.states}
    for sid in ("shin_left", "foot_left"):
        for state in (LinkState.SCANNING, LinkState.STREAMING, LinkState.RECONNECTING):
            assert (sid, state) in seen
    lost = [s for s in run.states if s.state == LinkState.RECONNECTING and s.message]
    assert all(s.message.endswith(".") and "reconnecting" in s.message for s in lost)
    last = {s.sensor_id: s for s in run.stats}
    for st in last.values():
        assert 90.0 <= st.effective_rate_hz <= 101.0
        # 5 % of notifications (5 samples each) plus two disconnects of ~2.3 s in 40 s
        assert 8.0 < st.loss_pct < 20.0
        assert st.last_packet_age_s < 0.2
        assert st.battery_pct == 80.0
        assert st.latency_s is not None
        assert 0.0 <= st.latency_s < 0.1


def _source(radio, specs, **kw):
    return BleSource(
        [
            SensorAssignment(address=s.address, placement=s.placement, family=s.family)
            for s in specs
        ],
        backend=radio.backend,
        **kw,
    )


async def _drain(source, until_s):
    items = []
    loop = asyncio.get_running_loop()
    async for item in source:
        items.append(item)
        if loop.time() - source.t0_host_s > until_s:
            await source.close()
    return items


def test_muted_sensor_fails_and_the_other_streams_on():
    specs = default_emulated_sensors(["witmotion"])
    radio = EmulatedRadio(specs, faults=FaultSpec.parse("mute=shin"))
    src = _source(radio, specs, rate_hz=50.0)
    items = run_virtual(_drain(src, 40.0))
    states = [i for i in items if isinstance(i, LinkStateChanged)]
    failed = [s for s in states if s.state == LinkState.FAILED]
    assert [s.sensor_id for s in failed] == ["shin_left"]
    assert "never sends data" in failed[0].message
    foot = check_sensor_from_items(items, "foot_left")
    assert foot > 0.95 * 40 * 50


def check_sensor_from_items(items, sid):
    from companion.model import ImuChunk

    return sum(len(i) for i in items if isinstance(i, ImuChunk) and i.sensor_id == sid)


def test_every_sensor_lost_ends_with_one_sentence():
    specs = default_emulated_sensors(["calf"])
    radio = EmulatedRadio(specs, faults=FaultSpec.parse("disconnect_every=5,down_s=1000"))
    src = _source(radio, specs, lost_timeout_s=20.0)
    with pytest.raises(SensorLostError) as err:
        run_virtual(_drain(src, 1000.0))
    assert str(err.value).count(".") == 1


def test_sensor_not_found_at_start():
    specs = default_emulated_sensors(["dot"])
    radio = EmulatedRadio(specs)
    src = BleSource(
        [
            SensorAssignment(
                address="AA:BB:CC:DD:EE:FF",
                placement=Placement(segment="shin", side="left"),
                family="dot",
            )
        ],
        backend=radio.backend,
        scan_timeout_s=2.0,
    )
    with pytest.raises(SensorNotFoundError) as err:
        run_virtual(_drain(src, 10.0))
    msg = str(err.value)
    assert "AA:BB:CC:DD:EE:FF" in msg
    assert "companion scan" in msg


def test_scan_lists_supported_sensors_with_battery():
    specs = default_emulated_sensors(["calf", "witmotion"])
    radio = EmulatedRadio(specs)
    found = run_virtual(scan(1.0, backend=radio.backend, read_battery=True))
    assert sorted(f.address for f in found) == sorted(s.address for s in specs)
    by_addr = {f.address: f for f in found}
    for s in specs:
        f = by_addr[s.address]
        assert f.family == s.family
        assert f.name == s.name
        assert f.rssi_dbm == s.rssi_dbm
    # calf reads the SIG battery level, WitMotion answers register 0x64 (3.95 V → ~73 %)
    assert by_addr[specs[0].address].battery_pct == 80.0
    assert 60.0 <= by_addr[specs[2].address].battery_pct <= 85.0
    only = run_virtual(scan(1.0, backend=radio.backend, families=["witmotion"]))
    assert {f.family for f in only} == {"witmotion"}


def test_bluetooth_off_is_one_sentence():
    radio = EmulatedRadio(default_emulated_sensors(["calf"]), available=False)
    with pytest.raises(BluetoothUnavailableError) as err:
        run_virtual(scan(1.0, backend=radio.backend))
    assert err.value.kind == "powered_off"
    assert "switched off" in str(err.value)


def test_no_dbus_file_not_found_is_one_sentence():
    from companion.sources.ble import BleBackend
    from companion.sources.emulated import EmulatedScannerBackend

    class NoDbus(EmulatedScannerBackend):
        async def start(self):
            raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(BluetoothUnavailableError) as err:
        run_virtual(scan(1.0, backend=BleBackend(scanner=NoDbus)))
    assert err.value.kind == "no_dbus"
    assert "D-Bus" in str(err.value)


def test_resolve_assignments_finds_family_and_rejects_wrong_one():
    specs = default_emulated_sensors(["movesense"])
    radio = EmulatedRadio(specs)
    asg = [SensorAssignment(address=s.address, placement=s.placement) for s in specs]
    out = run_virtual(resolve_assignments(asg, backend=radio.backend, timeout_s=2.0))
    assert [a.family for a in out] == ["movesense", "movesense"]
    assert out[0].name == specs[0].name
    wrong = [SensorAssignment(address=specs[0].address, placement=specs[0].placement, family="dot")]
    with pytest.raises(WrongFamilyError) as err:
        run_virtual(resolve_assignments(wrong, backend=radio.backend, timeout_s=2.0))
    assert "not a dot sensor" in str(err.value)
