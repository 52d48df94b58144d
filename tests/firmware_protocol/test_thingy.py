"""Nordic Thingy:52: vectors hand-built from the firmware's fixed-point formats (m_motion.c)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import thingy
from firmware_protocol._common import GRAVITY_M_S2, BytesDropped, Reply, Samples
from firmware_protocol.errors import MalformedPacketError, TruncatedPacketError

H = bytes.fromhex

# acc (0, -0.5, 1) g = (0, -512, 1024) in Q6.10; gyro (100, 0, -0.5) °/s = (3200, 0, -16) in
# Q11.5; compass (1, 2, 3) µT = (16, 32, 48) in Q12.4.
RAW = H("0000 00FE 0004 800C 0000 F0FF 1000 2000 3000".replace(" ", ""))
# quaternion (1, 0, 0, 0) in Q2.30
QUAT = H("00000040 00000000 00000000 00000000".replace(" ", ""))


def test_raw_golden() -> None:
    p = thingy.decode_raw(RAW)
    assert p.acc_raw == (0, -512, 1024)
    assert p.gyr_raw == (3200, 0, -16)
    assert p.compass_raw == (16, 32, 48)
    s = thingy.raw_to_samples(p)
    np.testing.assert_allclose(s.acc_m_s2, [[0, -0.5 * GRAVITY_M_S2, GRAVITY_M_S2]])
    np.testing.assert_allclose(s.gyr_dps, [[100.0, 0.0, -0.5]])
    assert thingy.encode_raw(p) == RAW
    w, x, y, z = thingy.decode_quaternion(QUAT)
    assert (w * thingy.QUAT_PER_LSB, x, y, z) == (1.0, 0, 0, 0)


def test_config_golden_and_start_command() -> None:
    ((uuid, cmd),) = thingy.FAMILY.start_commands(100.0)
    assert uuid == thingy.CONFIG_CHAR_UUID
    # u16 1000, u16 1000, u16 500, u16 100 Hz, u8 wake-on-motion
    assert cmd == H("E803 E803 F401 6400 01".replace(" ", ""))
    assert thingy.decode_config(cmd).motion_freq_hz == 100


@pytest.mark.parametrize(
    ("data", "exc"),
    [
        (RAW[:17], TruncatedPacketError),
        (RAW + b"\x00", MalformedPacketError),
        (H("E803E803F401C80001")[:-1], TruncatedPacketError),
        (H("E803E803F401C90001"), MalformedPacketError),  # 201 Hz
        (H("E803E803F401040001"), MalformedPacketError),  # 4 Hz
    ],
)
def test_decode_errors(data: bytes, exc: type) -> None:
    decode = thingy.decode_config if len(data) in (8, 9) else thingy.decode_raw
    with pytest.raises(exc):
        decode(data)


def test_emulator_saturates_like_the_firmware() -> None:
    enc = thingy.FAMILY.new_encoder(50.0)
    (b,) = enc.encode([[40 * GRAVITY_M_S2, -40 * GRAVITY_M_S2, 0]], [[1500, -1500, 0]])
    p = thingy.decode_raw(b)
    assert p.acc_raw[:2] == (31 << 10, -32768)
    assert p.gyr_raw[:2] == (1023 << 5, -32768)


def test_stream_and_config_reply() -> None:
    dec = thingy.FAMILY.new_decoder()
    (s,) = dec.feed(RAW, thingy.RAW_CHAR_UUID)
    assert isinstance(s, Samples)
    (r,) = dec.feed(H("E803E803F4016400 01".replace(" ", "")), thingy.CONFIG_CHAR_UUID)
    assert isinstance(r, Reply)
    (d,) = dec.feed(QUAT, thingy.QUAT_CHAR_UUID)
    assert isinstance(d, BytesDropped)
