"""WitMotion BLE 5.0: golden vectors, commands, resynchronising stream decoder, emulator."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import witmotion as wm
from firmware_protocol._common import GRAVITY_M_S2, BytesDropped, Reply, Samples
from firmware_protocol.errors import MalformedPacketError, ProtocolError, TruncatedPacketError

# Hand-built from the documented layout (manual §6.1.1, sensor-protocols.md §1.2):
# acc (-0.5 g, 0, +1 g) = (-1024, 0, 2048); gyro (0, 250 °/s, -2000 °/s) = (0, 4096, -32768);
# angle (0, 45°, -90°) = (0, 8192, -16384).
GOLDEN_61 = bytes.fromhex("5561 00FC 0000 0008 0000 0010 0080 0000 0020 00C0".replace(" ", ""))

# Worked example from the WT901BLECL 5.0 manual §6.1 [W7]: request FF AA 27 3A 00, reply
# 55 71 3A 00 68 01 69 00 7A 00 ... → Hx=360, Hy=105, Hz=122. The manual elides the remaining
# 10 bytes; we fill them with zeros.
MANUAL_READ_REQUEST = bytes.fromhex("FFAA273A00")
MANUAL_71 = bytes.fromhex("55713A00680169007A00") + bytes(10)


def test_golden_imu_frame_raw_and_physical() -> None:
    f = wm.decode_frame(GOLDEN_61)
    assert isinstance(f, wm.WitImuFrame)
    assert f.acc_raw == (-1024, 0, 2048)
    assert f.gyr_raw == (0, 4096, -32768)
    assert f.angle_raw == (0, 8192, -16384)
    s = wm.frame_to_samples(f)
    np.testing.assert_allclose(s.acc_m_s2[0], [-0.5 * GRAVITY_M_S2, 0.0, GRAVITY_M_S2])
    np.testing.assert_allclose(s.gyr_dps[0], [0.0, 250.0, -2000.0])
    assert wm.euler_deg(f) == (0.0, 45.0, -90.0)
    assert s.counter is None
    assert s.t_dev_s is None
    assert s.quat_wxyz is None
    assert wm.encode_frame(f) == GOLDEN_61


def test_manual_register_read_example() -> None:
    assert wm.read_register_command(0x3A) == MANUAL_READ_REQUEST
    r = wm.decode_frame(MANUAL_71)
    assert isinstance(r, wm.WitRegisterReply)
    assert r.start_register == 0x3A
    assert r.values[:3] == (360, 105, 122)
    assert r.register(0x3B) == 105
    assert r.register(0x42) is None
    assert wm.encode_frame(r) == MANUAL_71


def test_commands_match_vendor_bytes() -> None:
    # Vendor C# example (Form1.cs): unlock, 10 Hz = code 06, 50 Hz = code 08, read reg 03.
    assert wm.UNLOCK_COMMAND == bytes.fromhex("FFAA6988B5")
    assert wm.set_rate_command(10) == bytes.fromhex("FFAA030600")
    assert wm.set_rate_command(50) == bytes.fromhex("FFAA030800")
    assert wm.set_rate_command(100) == bytes.fromhex("FFAA030900")
    assert wm.read_register_command(0x03) == bytes.fromhex("FFAA270300")
    assert wm.SAVE_COMMAND == bytes.fromhex("FFAA000000")
    with pytest.raises(ProtocolError):
        wm.set_rate_command(33)
    assert wm.decode_command(bytes.fromhex("FFAA030900")) == wm.WitCommand(register=3, value=9)


@pytest.mark.parametrize(
    ("data", "exc", "attrs"),
    [
        (GOLDEN_61[:19], TruncatedPacketError, {"needed": 20, "available": 19}),
        (b"\x54" + GOLDEN_61[1:], MalformedPacketError, {"offset": 0, "actual": 0x54}),
        (b"\x55\x62" + GOLDEN_61[2:], MalformedPacketError, {"offset": 1, "actual": 0x62}),
        (GOLDEN_61 + b"\x00", MalformedPacketError, {"offset": 20}),
    ],
)
def test_decode_errors_carry_where_and_what(data: bytes, exc: type, attrs: dict) -> None:
    with pytest.raises(exc) as info:
        wm.decode_frame(data)
    for k, v in attrs.items():
        assert getattr(info.value, k) == v


def _rows(events: list) -> np.ndarray:
    return np.concatenate([e.acc_m_s2 for e in events if isinstance(e, Samples)])


def test_stream_resyncs_on_garbage_and_interleaved_reply() -> None:
    dec = wm.WitDecoder()
    stream = b"\x01\x02\x55" + GOLDEN_61 + MANUAL_71 + b"\x55\x00" + GOLDEN_61 + b"\x55"
    events = dec.feed(stream)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["BytesDropped", "Samples", "Reply", "BytesDropped", "Samples"]
    assert events[0] == BytesDropped(n_bytes=3, reason=events[0].reason)
    assert events[3].n_bytes == 2
    assert isinstance(events[2], Reply)
    assert events[2].packet.values[0] == 360
    assert dec.stats.packets == 3
    assert dec.stats.samples == 2
    assert dec.stats.replies == 1
    assert dec.stats.bytes_dropped == 5
    # the trailing 0x55 is kept: it may start the next header
    assert dec.feed(GOLDEN_61[1:])
    assert dec.stats.samples == 3


def test_stream_frame_straddling_notifications() -> None:
    dec = wm.WitDecoder()
    assert dec.feed(GOLDEN_61[:7]) == []
    ev = dec.feed(GOLDEN_61[7:] + GOLDEN_61[:1])
    assert len(ev) == 1
    assert isinstance(ev[0], Samples)
    ev = dec.feed(GOLDEN_61[1:])
    assert len(ev) == 1
    assert dec.stats.bytes_dropped == 0


def test_stream_ignores_other_characteristics() -> None:
    dec = wm.WitDecoder()
    ev = dec.feed(GOLDEN_61, char_uuid="00002a19-0000-1000-8000-00805f9b34fb")
    assert isinstance(ev[0], BytesDropped)
    assert dec.stats.samples == 0
    ev = dec.feed(GOLDEN_61, char_uuid=wm.NOTIFY_CHAR_UUID.upper())
    assert isinstance(ev[0], Samples)


def test_encoder_decoder_round_trip_within_one_lsb() -> None:
    rng = np.random.default_rng(3)
    acc = rng.uniform(-150, 150, (50, 3))
    gyr = rng.uniform(-1999, 1999, (50, 3))
    enc = wm.FAMILY.new_encoder(100.0)
    frames = enc.encode(acc, gyr)
    assert len(frames) == 50
    assert all(len(f) == 20 for f in frames)
    ev = wm.FAMILY.new_decoder().feed(b"".join(frames))
    acc2 = _rows(ev)
    gyr2 = np.concatenate([e.gyr_dps for e in ev])
    assert np.max(np.abs(acc2 - acc)) <= 0.5 * wm.ACC_G_PER_LSB * GRAVITY_M_S2 + 1e-12
    assert np.max(np.abs(gyr2 - gyr)) <= 0.5 * wm.GYR_DPS_PER_LSB + 1e-12


def test_encoder_saturates_like_the_sensor() -> None:
    enc = wm.WitEncoder()
    (frame,) = enc.encode([[20 * GRAVITY_M_S2, -20 * GRAVITY_M_S2, 0]], [[3000, 0, 0]])
    f = wm.decode_frame(frame)
    assert f.acc_raw[:2] == (32767, -32768)
    assert f.gyr_raw[0] == 32767


def test_encoder_euler_from_quaternion() -> None:
    half = np.radians(30.0) / 2  # 30° about z → yaw 30°
    q = [[np.cos(half), 0, 0, np.sin(half)]]
    (frame,) = wm.WitEncoder().encode([[0, 0, 9.8]], [[0, 0, 0]], q)
    roll, pitch, yaw = wm.euler_deg(wm.decode_frame(frame))
    assert abs(roll) < 0.01
    assert abs(pitch) < 0.01
    assert abs(yaw - 30.0) < 0.01


def test_emulator_answers_register_reads_and_applies_unlocked_writes() -> None:
    enc = wm.FAMILY.new_encoder(50.0)
    replies = []
    for _uuid, cmd in wm.FAMILY.start_commands(100.0):
        replies += enc.respond(cmd)
    assert enc.rate_hz == 100.0
    ((uuid, payload),) = replies
    assert uuid == wm.NOTIFY_CHAR_UUID
    r = wm.decode_frame(payload)
    assert isinstance(r, wm.WitRegisterReply)
    assert r.register(0x03) == 0x09
    # battery register 0x64 in volts × 100
    (_, bat) = enc.respond(wm.read_register_command(wm.REG_BATTERY))[0]
    assert wm.decode_frame(bat).values[0] == 395
    # a write without unlock is ignored, as on the device
    enc.unlocked = False
    enc.respond(wm.set_rate_command(10))
    assert enc.rate_hz == 100.0


def test_rate_codes_from_the_ble_datasheet_table() -> None:
    """Register 0x03 codes of the WT901BLECL datasheet (v23-0420) as transcribed in
    rubenmuehlhans/esphome-witmotion ``witmotion_struct.h``: 0x06 = 10 Hz … 0x09 = 100 Hz,
    0x0A = 200 Hz (the serial modules' tables put 125 Hz there and 200 Hz at 0x0B)."""
    assert wm.set_rate_command(10.0) == bytes.fromhex("FF AA 03 06 00")  # vendor C# example
    assert wm.set_rate_command(50.0) == bytes.fromhex("FF AA 03 08 00")  # vendor C# example
    assert wm.set_rate_command(100.0) == bytes.fromhex("FF AA 03 09 00")
    assert wm.set_rate_command(200.0) == bytes.fromhex("FF AA 03 0A 00")
    enc = wm.WitEncoder(10.0)
    for code in (0x0A, 0x0B):  # a device that follows the serial table still reads as 200 Hz
        enc.respond(wm.UNLOCK_COMMAND)
        enc.respond(bytes((0xFF, 0xAA, 0x03, code, 0x00)))
        assert enc.rate_hz == 200.0
