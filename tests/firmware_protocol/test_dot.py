"""Movella DOT: hand-built vectors from XD0506P rev C tables 13–17, commands, time gaps."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import dot
from firmware_protocol._common import BytesDropped, Reply, Samples, SequenceGap
from firmware_protocol.errors import MalformedPacketError, TruncatedPacketError

H = bytes.fromhex

# Mode 26 (custom mode 5), 44 bytes: timestamp 0x01020304 µs, quat (1,0,0,0),
# acc (0.5, -0.25, 9.8125) m/s², gyro (1.5, -2.25, 0) °/s; float32 LE (Table 17).
MODE26 = H(
    "04 03 02 01"
    "00 00 80 3f 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 3f 00 00 80 be 00 00 1d 41"
    "00 00 c0 3f 00 00 10 c0 00 00 00 00"
)
# Mode 21 (rate quantities), 28 bytes: timestamp 1 000 000 µs, same acc and gyro.
MODE21 = H("40 42 0f 00 00 00 00 3f 00 00 80 be 00 00 1d 41 00 00 c0 3f 00 00 10 c0 00 00 00 00")


def test_mode26_golden() -> None:
    p = dot.decode_payload(MODE26, dot.MODE_CUSTOM5)
    assert p.timestamp_us == 0x01020304
    assert p.quat == (1.0, 0.0, 0.0, 0.0)
    assert p.acc == (0.5, -0.25, 9.8125)
    assert p.gyr == (1.5, -2.25, 0.0)
    assert dot.encode_payload(p, pad=False) == MODE26
    # the characteristic is 63 bytes; trailing bytes are 0x00 (spec §3.2)
    padded = dot.encode_payload(p)
    assert padded == MODE26 + bytes(19)
    assert dot.decode_payload(padded) == p


def test_mode21_golden() -> None:
    p = dot.decode_payload(MODE21, dot.MODE_RATE_QUANTITIES)
    assert p.timestamp_us == 1_000_000
    assert p.quat is None
    assert p.acc == (0.5, -0.25, 9.8125)
    dec = dot.DotDecoder(60.0, mode=dot.MODE_RATE_QUANTITIES)
    (s,) = dec.feed(MODE21 + bytes(12), char_uuid=dot.MEDIUM_PAYLOAD_CHAR_UUID)
    np.testing.assert_array_equal(s.gyr_dps, [[1.5, -2.25, 0.0]])
    np.testing.assert_array_equal(s.t_dev_s, [1.0])


def test_commands() -> None:
    assert dot.start_command(26) == H("01 01 1a")  # decimal 26, not 0x26
    assert dot.stop_command(26) == H("01 00 1a")
    cmd = dot.set_output_rate_command(60)
    assert len(cmd) == 32
    assert cmd[0] == 0x10
    assert cmd[24:26] == H("3c 00")
    assert not any(cmd[1:24] + cmd[26:])
    with pytest.raises(dot.UnsupportedSettingError):
        dot.set_output_rate_command(120)  # recording only
    assert dot.SERVICE_UUID == "15172000-4947-11e9-8646-d663bd873d93"
    assert dot.FAMILY.matches("Xsens DOT", [], {})
    assert dot.FAMILY.matches(None, [], {2182: b"\x00"})


@pytest.mark.parametrize(
    ("data", "exc"),
    [
        (MODE26[:43], TruncatedPacketError),
        (MODE26 + bytes(20), MalformedPacketError),
        (MODE26 + b"\x01" + bytes(18), MalformedPacketError),
        (MODE26[:4] + H("00 00 c0 7f") + MODE26[8:], MalformedPacketError),  # NaN
    ],
)
def test_decode_errors(data: bytes, exc: type) -> None:
    with pytest.raises(exc):
        dot.decode_payload(data)


def test_stream_gap_and_clock_wrap() -> None:
    enc = dot.DotEncoder(60.0, 247, t0_us=(1 << 32) - 40_000)
    pk = enc.encode(np.zeros((10, 3)), np.zeros((10, 3)))
    dec = dot.DotDecoder(60.0)
    ev = [e for i, p in enumerate(pk) if i not in (4, 5, 6) for e in dec.feed(p)]
    gaps = [e for e in ev if isinstance(e, SequenceGap)]
    assert len(gaps) == 1
    assert gaps[0].n_missing == 3
    t = np.concatenate([e.t_dev_s for e in ev if isinstance(e, Samples)])
    assert np.all(np.diff(t) > 0)  # unwrapped across 2^32 µs
    np.testing.assert_allclose(t[-1] - t[0], 9 / 60, atol=1e-6)
    assert isinstance(dec.feed(pk[-1])[0], BytesDropped)  # repeated time stamp


def test_battery_and_foreign_characteristics() -> None:
    dec = dot.FAMILY.new_decoder()
    (r,) = dec.feed(H("57 01"), char_uuid=dot.BATTERY_CHAR_UUID)
    assert isinstance(r, Reply)
    assert r.packet == dot.DotBattery(level_pct=87, charging=True)
    (d,) = dec.feed(MODE26, char_uuid=dot.SHORT_PAYLOAD_CHAR_UUID)
    assert isinstance(d, BytesDropped)


def test_emulator_follows_start_sequence() -> None:
    fam = dot.FAMILY
    enc = fam.new_encoder(60.0, mtu=247)
    assert enc.encode(np.zeros((1, 3)), np.zeros((1, 3))) == []
    for _, c in fam.start_commands(30.0):
        enc.respond(c)
    assert enc.rate_hz == 30.0
    q = np.array([[np.cos(0.1), np.sin(0.1), 0, 0]])
    (p,) = enc.encode([[0, 0, 9.81]], [[1, 2, 3]], q)
    assert len(p) == 63
    (s,) = fam.new_decoder(30.0).feed(p, char_uuid=dot.LONG_PAYLOAD_CHAR_UUID)
    np.testing.assert_allclose(s.quat_wxyz, q.astype(np.float32), rtol=0, atol=0)


@pytest.mark.parametrize("hint", [None, 60.0, 10.0])
def test_wrong_or_missing_rate_never_invents_gaps(hint: float | None) -> None:
    """The sensor runs at 30 Hz; told 10 Hz or nothing, the decoder counts exactly the 2
    samples removed. Told 60 Hz it cannot tell the first intervals from 50 % loss, but it
    stops after HINT_REFUTED_AFTER intervals instead of reporting every sample as a gap."""
    enc = dot.DotEncoder(30.0, 247)
    pk = enc.encode(np.zeros((20, 3)), np.zeros((20, 3)))
    dec = dot.DotDecoder(hint)
    for i, p in enumerate(pk):
        if i not in (10, 11):
            dec.feed(p)
    if hint == 60.0:
        false_gaps = dot.DotDecoder.HINT_REFUTED_AFTER - 1
        assert dec.stats.samples_missing == 2 + false_gaps
        assert dec.stats.gaps == 1 + false_gaps
    else:
        assert dec.stats.samples_missing == 2
        assert dec.stats.gaps == 1
