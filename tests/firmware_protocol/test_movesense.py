"""Movesense GSP: hand-built IMU6 vectors, DATA_PART2 reassembly, commands, time gaps."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import movesense as ms
from firmware_protocol._common import BytesDropped, Reply, Samples, SequenceGap
from firmware_protocol.errors import MalformedPacketError, TruncatedPacketError

H = bytes.fromhex

# Hand-built from the GSP layout (sensor-protocols.md §2.4, vendor client offsets 6 + i*12,
# blocks of 8*12 bytes): type 2, ref 0x63, t = 100 000 ms, N = 2;
# acc (0,0,9.8125), (0.5,0,9.75) m/s²; gyro (1,2,3), (-1,-2,-3) °/s.
IMU6_N2 = H(
    "02 63 a0 86 01 00"
    "00 00 00 00 00 00 00 00 00 00 1d 41"
    "00 00 00 3f 00 00 00 00 00 00 1c 41"
    "00 00 80 3f 00 00 00 40 00 00 40 40"
    "00 00 80 bf 00 00 00 c0 00 00 40 c0"
)


def test_imu6_golden_blocks_not_interleaved() -> None:
    p = ms.decode_notification(IMU6_N2)
    assert isinstance(p, ms.MovesenseImuPacket)
    assert p.reference == 0x63
    assert p.timestamp_ms == 100_000
    assert p.acc == ((0.0, 0.0, 9.8125), (0.5, 0.0, 9.75))
    assert p.gyr == ((1.0, 2.0, 3.0), (-1.0, -2.0, -3.0))
    assert bytes((2, 0x63)) + ms.encode_imu_payload(p) == IMU6_N2


def test_commands_match_vendor_example() -> None:
    # vendor client: bytearray([1, 99]) + "/Meas/IMU9/104"; unsubscribe bytearray([2, 99])
    assert ms.subscribe_command("IMU9", 104) == bytes([1, 99]) + b"/Meas/IMU9/104"
    assert ms.subscribe_command("IMU6", 52) == H("01 63") + b"/Meas/IMU6/52"
    assert ms.unsubscribe_command() == H("02 63")
    with pytest.raises(ms.UnsupportedSettingError):
        ms.subscribe_command("IMU6", 100)


def test_part2_reassembly_at_any_split_point() -> None:
    whole_events = ms.MovesenseDecoder(104.0)
    ref = whole_events.feed(IMU6_N2) + whole_events.flush()
    (s_ref,) = [e for e in ref if isinstance(e, Samples)]
    for cut in range(3, len(IMU6_N2)):
        dec = ms.MovesenseDecoder(104.0)
        ev = dec.feed(IMU6_N2[:cut]) + dec.feed(H("03 63") + IMU6_N2[cut:]) + dec.flush()
        (s,) = ev
        assert s.equals(s_ref), cut


def test_orphan_part2_and_bad_packets_are_dropped() -> None:
    dec = ms.MovesenseDecoder()
    (d,) = dec.feed(H("03 63 00 00"))
    assert isinstance(d, BytesDropped)
    dec.feed(IMU6_N2[:-1])
    ev = dec.feed(H("01 63 00 c8"))  # pending DATA proves incomplete, then a command result
    assert isinstance(ev[0], BytesDropped)
    assert isinstance(ev[1], Reply)
    assert ev[1].packet.status == 200


@pytest.mark.parametrize(
    ("data", "exc"),
    [
        (H("02"), TruncatedPacketError),
        (IMU6_N2[:29], TruncatedPacketError),
        (IMU6_N2[:-1], TruncatedPacketError),
        (H("07 63") + IMU6_N2[2:], MalformedPacketError),
        (IMU6_N2[:6] + H("00 00 c0 7f") + IMU6_N2[10:], MalformedPacketError),
    ],
)
def test_decode_errors(data: bytes, exc: type) -> None:
    with pytest.raises(exc):
        ms.decode_notification(data)


def test_emulator_splits_at_small_mtu_and_gaps_are_counted() -> None:
    enc = ms.MovesenseEncoder(104.0, mtu=161)
    assert enc.samples_per_packet == 8
    rng = np.random.default_rng(2)
    acc = rng.normal(0, 3, (64, 3)).astype(np.float32).astype(float)
    pk = enc.encode(acc, acc * 10)
    assert len(pk) == 16  # 8 packets of 198 bytes, each DATA (158) + DATA_PART2
    assert {p[0] for p in pk} == {2, 3}
    dec = ms.MovesenseDecoder(104.0)
    ev = [e for i, p in enumerate(pk) if i not in (6, 7) for e in dec.feed(p)] + dec.flush()
    gaps = [e for e in ev if isinstance(e, SequenceGap)]
    assert [g.n_missing for g in gaps] == [8]
    got = np.concatenate([e.acc_m_s2 for e in ev if isinstance(e, Samples)])
    np.testing.assert_array_equal(got, np.concatenate([acc[:24], acc[32:]]))


def test_emulator_answers_subscribe() -> None:
    fam = ms.FAMILY
    enc = fam.new_encoder(104.0, mtu=247)
    assert enc.encode(np.zeros((8, 3)), np.zeros((8, 3))) == []
    ((_, c),) = fam.start_commands(52.0)
    ((uuid, r),) = enc.respond(c)
    assert uuid == ms.NOTIFY_CHAR_UUID
    assert r == H("01 63 00 c8")
    assert enc.rate_hz == 52.0
    assert len(enc.encode(np.zeros((4, 3)), np.zeros((4, 3)))) == 1
