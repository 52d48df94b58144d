"""MetaMotion: vendor SDK test vectors (mbientlab/MetaWear-SDK-Cpp test/*.py), pairing, emulator."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import metamotion as mm
from firmware_protocol._common import GRAVITY_M_S2, BytesDropped, Reply, Samples, SequenceGap
from firmware_protocol.errors import MalformedPacketError, TruncatedPacketError

H = bytes.fromhex

# test_accelerometer_bmi160.py: TestBmi160AccelerationData (±4 g) and HighFreq (packed, ±8 g)
ACC = H("03 04 16 C4 94 A2 2A D0")
ACC_G_4G = (-1.872, -2.919, -1.495)
ACC_PACKED = H("03 1c 62 b7 53 0d e9 fd 16 d0 4d 0e 57 02 8a ff a1 05 0a 01")
ACC_PACKED_G_8G = [(-4.539, 0.833, -0.131), (-2.995, 0.894, 0.146), (-0.029, 0.352, 0.065)]
# test_gyro_bmi160.py: ±500 °/s single and ±1000 °/s packed
GYR = H("13 05 3e 43 ff 7f 00 80")
GYR_DPS_500 = (262.409, 499.497, -499.512)
GYR_PACKED = H("13 07 09 15 ad 26 08 de 8a 1a 0d 26 65 e4 8d 20 ac 27 73 ec")
GYR_PACKED_DPS_1000 = [
    (164.177, 301.860, -265.122),
    (207.134, 296.982, -215.457),
    (254.055, 309.634, -152.591),
]
# test_sensor_fusion.py
QUAT = H("19 07 1b 9b 70 3f 8c 5e 4d bd 07 7f 1d be 78 02 9a be")
QUAT_WXYZ = (0.940, -0.050, -0.154, -0.301)
CORR_ACC = H("19 04 20 3e 53 c5 0c fe 79 46 0c fe 79 c6 00")
CORR_ACC_G = (-3.3799, 15.9995, -15.9995)
CORR_GYR = H("19 05 7a 56 91 42 b4 62 60 c2 73 34 04 44 00")
CORR_GYR_DPS = (72.669, -56.096, 528.820)
# test_settings.py battery: 99 %, 4148 mV
BATTERY = H("11 8C 63 34 10")


def test_vendor_acc_vectors() -> None:
    p = mm.decode_notification(ACC)
    assert isinstance(p, mm.MetaRaw)
    np.testing.assert_allclose(np.array(p.samples[0]) / (32768 / 4), ACC_G_4G, atol=5e-4)
    dec = mm.MetaDecoder(acc_range_g=4.0)
    dec.feed(ACC)
    (s,) = dec.feed(H("13 05 00 00 00 00 00 00"))
    np.testing.assert_allclose(s.acc_m_s2[0] / GRAVITY_M_S2, ACC_G_4G, atol=5e-4)
    p = mm.decode_notification(ACC_PACKED)
    assert len(p.samples) == 3
    np.testing.assert_allclose(np.array(p.samples) / 4096, ACC_PACKED_G_8G, atol=5e-4)
    assert mm.encode_notification(p) == ACC_PACKED


def test_vendor_gyro_vectors() -> None:
    dec = mm.MetaDecoder(gyr_range_dps=500.0)
    assert dec.feed(GYR) == []  # waiting for its acc partner
    (s,) = dec.feed(H("03 04 00 00 00 00 00 08"))
    np.testing.assert_allclose(s.gyr_dps[0], GYR_DPS_500, atol=5e-4)
    np.testing.assert_allclose(s.acc_m_s2[0], [0, 0, 2048 / 4096 * GRAVITY_M_S2])
    dec = mm.MetaDecoder(gyr_range_dps=1000.0)
    dec.feed(GYR_PACKED)
    (s,) = dec.feed(ACC_PACKED)
    np.testing.assert_allclose(s.gyr_dps, GYR_PACKED_DPS_1000, atol=5e-4)
    np.testing.assert_allclose(s.acc_m_s2 / GRAVITY_M_S2, ACC_PACKED_G_8G, atol=5e-4)


def test_vendor_fusion_vectors() -> None:
    q = mm.decode_notification(QUAT)
    np.testing.assert_allclose(q.wxyz, QUAT_WXYZ, atol=5e-4)
    a = mm.decode_notification(CORR_ACC)
    np.testing.assert_allclose(np.array(a.xyz) / 1000, CORR_ACC_G, atol=5e-4)  # mg on the wire
    assert a.accuracy == 0
    dec = mm.MetaDecoder(fusion=True)
    assert dec.feed(CORR_ACC) + dec.feed(CORR_GYR) == []
    (s,) = dec.feed(QUAT)
    np.testing.assert_allclose(s.acc_m_s2[0] / GRAVITY_M_S2, CORR_ACC_G, atol=5e-4)
    np.testing.assert_allclose(s.gyr_dps[0], CORR_GYR_DPS, atol=5e-4)
    np.testing.assert_allclose(s.quat_wxyz[0], QUAT_WXYZ, atol=5e-4)
    for raw in (QUAT, CORR_ACC, CORR_GYR):
        assert mm.encode_notification(mm.decode_notification(raw)) == raw


def test_battery_reply() -> None:
    dec = mm.MetaDecoder()
    (r,) = dec.feed(BATTERY)
    assert isinstance(r, Reply)
    assert r.packet == mm.MetaBattery(charge_pct=99, voltage_mv=4148)
    assert mm.BATTERY_READ_COMMAND == H("11 CC")


def test_commands_match_sdk_test_vectors() -> None:
    cmds = mm.raw_start_commands(200.0, acc_range_g=8.0, gyr_range_dps=2000.0)
    assert cmds[0] == H("03 03 29 08")  # test_set_odr_and_range
    assert cmds[1] == H("13 03 29 00")  # test_mbl_mw_gyro_bmi160_set_odr
    assert cmds[2:] == [
        H("03 1c 01"),
        H("13 07 01"),
        H("03 02 01 00"),
        H("13 02 01 00"),
        H("03 01 01"),
        H("13 01 01"),
    ]
    assert mm.raw_start_commands(50.0, gyr_range_dps=125.0)[1] == H("13 03 27 04")
    assert mm.raw_stop_commands()[2:4] == [H("03 02 00 01"), H("13 02 00 01")]
    with pytest.raises(mm.UnsupportedSettingError):
        mm.raw_start_commands(60.0)


@pytest.mark.parametrize(
    ("data", "exc"),
    [
        (H("03"), TruncatedPacketError),
        (ACC[:7], TruncatedPacketError),
        (ACC + b"\x00", MalformedPacketError),
        (H("05 04 00 00 00 00 00 00"), MalformedPacketError),
        (H("11 8C 65 00 00"), MalformedPacketError),
        (H("19 07 00 00 c0 7f") + bytes(12), MalformedPacketError),  # NaN
    ],
)
def test_decode_errors(data: bytes, exc: type) -> None:
    with pytest.raises(exc):
        mm.decode_notification(data)


@pytest.mark.parametrize("lost", [2, 3, 11])
def test_pairing_survives_a_lost_notification(lost: int) -> None:
    """Sample i carries i in both streams; after a loss every emitted row must still match."""
    idx = np.arange(30, dtype=float)
    acc = np.stack([idx * 0.1, np.zeros(30), np.zeros(30)], axis=1) * GRAVITY_M_S2
    gyr = np.stack([idx, np.zeros(30), np.zeros(30)], axis=1)
    pk = mm.MetaEncoder(100.0).encode(acc, gyr)
    assert len(pk) == 20
    del pk[lost]
    dec = mm.MetaDecoder()
    ev = [e for p in pk for e in dec.feed(p)]
    assert [e.n_bytes for e in ev if isinstance(e, BytesDropped)] == [20]
    rows_acc = np.concatenate([e.acc_m_s2 for e in ev if isinstance(e, Samples)])
    rows_gyr = np.concatenate([e.gyr_dps for e in ev if isinstance(e, Samples)])
    assert len(rows_acc) == 27
    np.testing.assert_allclose(rows_acc[:, 0] / GRAVITY_M_S2 * 10, rows_gyr[:, 0], atol=0.05)
    assert dec.stats.samples == 27


def test_emulator_round_trip_and_battery() -> None:
    fam = mm.FAMILY
    enc = fam.new_encoder(100.0)
    for _, c in fam.start_commands(100.0):
        enc.respond(c)
    acc = np.array([[0.0, 0.0, GRAVITY_M_S2]] * 6)
    gyr = np.array([[10.0, -20.0, 30.0]] * 6)
    pk = enc.encode(acc, gyr)
    assert [len(p) for p in pk] == [19] * 6  # one time-stamped fused sample per notification
    dec = fam.new_decoder()
    s = [e for p in pk for e in dec.feed(p)]
    got_acc = np.concatenate([e.acc_m_s2 for e in s])
    np.testing.assert_allclose(got_acc, acc, atol=0.5 * 8 / 32768 * GRAVITY_M_S2)
    np.testing.assert_allclose(np.concatenate([e.gyr_dps for e in s]), gyr, atol=0.5 / 32.8)
    ((uuid, b),) = enc.respond(mm.BATTERY_READ_COMMAND)
    assert uuid == mm.NOTIFY_CHAR_UUID
    assert b == BATTERY


# test_accelerometer_bmi270.py (MetaMotion S): same samples as the BMI160 vector, register 05
ACC_PACKED_BMI270 = H("03 05 62 b7 53 0d e9 fd 16 d0 4d 0e 57 02 8a ff a1 05 0a 01")


def test_bmi270_vectors_and_commands() -> None:
    p = mm.decode_notification(ACC_PACKED_BMI270)
    assert isinstance(p, mm.MetaRaw)
    np.testing.assert_allclose(np.array(p.samples) / 4096, ACC_PACKED_G_8G, atol=5e-4)
    cmds = mm.raw_start_commands(200.0, acc_range_g=8.0, imu="bmi270")
    assert cmds[0] == H("03 03 A9 02")  # test_set_odr_and_range (BMI270)
    assert cmds[2] == H("03 05 01")  # packed acc subscribe (BMI270)
    assert cmds[3] == H("13 05 01")  # GyroBmi270Register::PACKED_GYRO_DATA = 5
    assert mm.raw_start_commands(100.0, acc_range_g=16.0, imu="bmi270")[0] == H("03 03 A8 03")
    assert mm.raw_stop_commands(imu="bmi270")[4:] == [H("03 05 00"), H("13 05 00")]
    # 13 05 is a single BMI160 gyro sample at 8 bytes and a packed BMI270 one at 20 bytes
    assert len(mm.decode_notification(GYR).samples) == 1
    assert len(mm.decode_notification(H("13 05") + GYR_PACKED[2:]).samples) == 3
    with pytest.raises(TruncatedPacketError):
        mm.decode_notification(H("13 05 00 00"))
    with pytest.raises(MalformedPacketError):
        mm.decode_notification(GYR + b"\x00")


@pytest.mark.parametrize("imu", ["bmi160", "bmi270"])
def test_probe_then_start_with_the_reported_imu(imu: str) -> None:
    fam = mm.FAMILY
    enc = fam.new_encoder(100.0, imu=imu)
    dec = fam.new_decoder()
    ((uuid, cmd),) = fam.probe_commands()
    assert uuid == mm.WRITE_CHAR_UUID
    ((notify_uuid, answer),) = enc.respond(cmd)
    assert notify_uuid == mm.NOTIFY_CHAR_UUID
    (reply,) = dec.feed(answer, notify_uuid)
    assert isinstance(reply, Reply)
    assert reply.packet.imu == imu
    assert enc.acc_range_g == mm.DEFAULT_ACC_RANGE_G
    acc = np.array([[1.0, -2.0, GRAVITY_M_S2]] * 3)
    created = []
    for _, c in fam.start_commands(100.0, imu=reply.packet.imu):
        created += [dec.feed(b, u)[0].packet for u, b in enc.respond(c)]
    # the board numbers the processors 0, 1, 2 after "remove all", as the commands assume
    assert created == [mm.MetaProcessorCreated(processor_id=i) for i in range(3)]
    s = [e for b in enc.encode(acc, acc * 10) for e in dec.feed(b)]
    assert len(s) == 3
    np.testing.assert_allclose(np.concatenate([e.acc_m_s2 for e in s]), acc, atol=2e-3)


def test_fusion_stream_groups_and_survives_a_lost_quaternion() -> None:
    enc = mm.MetaEncoder(100.0, fusion=True)
    acc = np.array([[0.0, 0.0, GRAVITY_M_S2 * (1 + i / 100)] for i in range(5)])
    gyr = np.array([[float(i), 0.0, 0.0] for i in range(5)])
    q = np.array([[np.cos(i / 10), np.sin(i / 10), 0.0, 0.0] for i in range(5)])
    notes = enc.encode(acc, gyr, q)
    assert len(notes) == 15  # corrected acc, corrected gyro, quaternion per sample
    del notes[5]  # the quaternion of sample 1
    dec = mm.MetaDecoder(fusion=True)
    ev = [e for b in notes for e in dec.feed(b)]
    s = [e for e in ev if isinstance(e, Samples)]
    got_gyr_x = np.concatenate([e.gyr_dps[:, 0] for e in s])
    np.testing.assert_array_equal(got_gyr_x, [0.0, 2.0, 3.0, 4.0])  # sample 1 is unpairable
    got_q = np.concatenate([e.quat_wxyz for e in s])
    np.testing.assert_allclose(got_q, q[[0, 2, 3, 4]], atol=1e-7)
    assert [e.n_bytes for e in ev if isinstance(e, BytesDropped)] == [30]


# test_dataprocessor.py TestFuserAccounter / TestFuser (MetaWear-SDK-Cpp): fused acc + gyro, the
# accounter's 4-byte tick (0x21e = 542) in front; the same acc and gyro as the single-sample
# vectors 03 04 f4 0d 3c 39 99 11 and 13 05 01 80 d6 91 d3 67.
ACCOUNTED = H("09 03 04 1e 02 00 00 f4 0d 3c 39 99 11 01 80 d6 91 d3 67")
FUSED = H("09 03 02 f4 0d 3c 39 99 11 01 80 d6 91 d3 67")
# The SDK's command bytes: buffer on gyro, fuser (acc + buffer 0), accounter (time) on a
# processor's output, subscribe; tear-down 09 08 (TestTearDown in test_metawearboard.py).
SDK_BUFFER = H("09 02 13 05 ff a0 0f 05")
SDK_FUSER = H("09 02 03 04 ff a0 1b 01 00 00 00 00 00 00 00 00 00 00 00 00")
SDK_ACCOUNTER_TIME_ON_2 = H("09 02 09 03 02 60 11 31 03")


def test_vendor_fused_and_accounted_vectors() -> None:
    p = mm.decode_notification(ACCOUNTED)
    assert p == mm.MetaAccounted(
        processor_id=4, tick=542, acc=(3572, 14652, 4505), gyr=(-32767, -28202, 26579)
    )
    assert mm.encode_notification(p) == ACCOUNTED
    f = mm.decode_notification(FUSED)
    assert f == mm.MetaFused(processor_id=2, acc=p.acc, gyr=p.gyr)
    assert mm.encode_notification(f) == FUSED
    # the same values as the SDK's own single-sample notifications
    assert mm.decode_notification(H("03 04 f4 0d 3c 39 99 11")).samples == (p.acc,)
    assert mm.decode_notification(H("13 05 01 80 d6 91 d3 67")).samples == (p.gyr,)
    dec = mm.MetaDecoder(acc_range_g=8.0, gyr_range_dps=1000.0)
    (s,) = dec.feed(ACCOUNTED)
    np.testing.assert_allclose(s.acc_m_s2[0], np.array(p.acc) / 4096 * GRAVITY_M_S2)
    np.testing.assert_allclose(s.gyr_dps[0], np.array(p.gyr) / 32.8)
    assert s.t_dev_s[0] == 542 * 48 / 32768


def test_stream_commands_are_the_sdk_bytes() -> None:
    cmds = mm.stream_start_commands(100.0)
    assert cmds[0] == H("09 08")
    assert cmds[1:3] == [H("03 03 28 08"), H("13 03 28 01")]
    assert cmds[3] == SDK_BUFFER
    assert cmds[4] == SDK_FUSER
    # the SDK example creates it on processor 2; ours sits on the fuser, id 1
    assert (
        cmds[5] == SDK_ACCOUNTER_TIME_ON_2[:4] + bytes((mm.FUSER_ID,)) + SDK_ACCOUNTER_TIME_ON_2[5:]
    )
    assert cmds[6:8] == [H("09 07 02 01"), H("09 03 01")]
    assert cmds[-1] == H("03 01 01")
    assert mm.stream_start_commands(100.0, imu="bmi270")[3] == H("09 02 13 04 ff a0 0f 05")
    assert mm.stream_stop_commands()[-1] == H("09 08")


def test_tick_time_gaps_wrap_repeat_and_reset() -> None:
    """Java SDK TestAccounter ticks (0x000d33a6, +7, +7, +6, +7, +7: ~10 ms apart) and its
    rollback vector (0xffffffff → 0x00000006), plus a lost sample, a repeat and a reset."""
    acc = H("c1 00 b1 24 19 cd")

    def note(tick: int) -> bytes:
        return H("09 03 02") + tick.to_bytes(4, "little") + acc + bytes(6)

    dec = mm.MetaDecoder(rate_hz=100.0)
    ticks = [0x000D33A6, 0x000D33AD, 0x000D33B4, 0x000D33BA, 0x000D33C1, 0x000D33C8]
    t = [e.t_dev_s[0] for k in ticks for e in dec.feed(note(k))]
    np.testing.assert_allclose(np.diff(t) * 1000, [10.25, 10.25, 8.79, 10.25, 10.25], atol=0.01)
    assert dec.stats.gaps == 0
    (gap, s) = dec.feed(note(0x000D33C8 + 14))  # one sample (7 ticks) lost
    assert isinstance(gap, SequenceGap)
    assert gap.n_missing == 1
    (dup,) = dec.feed(note(0x000D33C8 + 14))
    assert isinstance(dup, BytesDropped)
    (reset, s2) = dec.feed(note(5))  # the board restarted: time goes on, marked
    assert reset.reason == "clock_reset"
    assert s2.t_dev_s[0] > s.t_dev_s[0]
    dec = mm.MetaDecoder(rate_hz=100.0)
    t = [e.t_dev_s[0] for k in (0xFFFFFFFF, 0x00000006) for e in dec.feed(note(k))]
    assert t[1] - t[0] == 7 * mm.TICK_S
