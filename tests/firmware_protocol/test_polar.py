"""Polar PMD: the vendor SDK's own unit-test vectors (polar-ble-sdk, Android
``pmd/model/AccDataTest.kt`` and ``GyrDataTest.kt``), delta codec, pairing by time, emulator."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import polar
from firmware_protocol._common import GRAVITY_M_S2, BytesDropped, Reply, Samples, SequenceGap
from firmware_protocol.errors import MalformedPacketError, ProtocolError, TruncatedPacketError

H = bytes.fromhex

# GyrDataTest "process gyro compressed data type 0": factor 1.0
GYR0 = H("05 FF FF FF FF FF FF FF 7F 80") + H("EA FF 08 00 0D 00 03 01 DF 00")
# GyrDataTest "process gyro compressed data type 1": float32 patterns, 28-bit deltas
GYR1 = H("05 00 94 35 77 00 00 00 00 81") + H(
    "00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D"
)
# AccDataTest "process acc raw data frame type 1" (mG)
ACC_RAW1 = H("02 00 94 35 77 00 00 00 00 01") + H(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF "
    "E6 03 F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF "
    "FF FF E7 03 FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 "
    "F9 FF FE FF E7 03 F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF "
    "E5 03 F9 FF FF FF E5 03 FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF "
    "FF FF E5 03 F9 FF FF FF E6 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 "
    "F9 FF FF FF E5 03 F8 FF FE FF E6 03 F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 "
    "E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03 F7 FF FE FF E6 03 "
)
# AccDataTest "process acc compressed data type 0" (factor 2.44e-4 g)
ACC_COMP0 = H("02 00 94 35 77 00 00 00 00 80") + H(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F "
    "92 BF EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E "
    "7B 2F 8B E3 CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC "
    "18 FE 3B 2F 84 03 BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 "
    "F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 "
    "92 F7 F3 B8 E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC "
    "D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F "
    "4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F 1F CB DA E3 C7 A2 76 F9 "
)


def _f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits % (1 << 32)))[0]


def test_vendor_gyro_type0() -> None:
    f = polar.decode_frame(GYR0)
    assert (f.measurement_type, f.timestamp_ns, f.frame_type, f.compressed) == (
        5,
        9223372036854775807,
        0,
        True,
    )
    np.testing.assert_array_equal(polar.frame_values(f, 1.0), [[-22, 8, 13], [-23, 11, 16]])
    assert polar.encode_frame(f) == GYR0


def test_vendor_gyro_type1_float_patterns() -> None:
    f = polar.decode_frame(GYR1)
    assert f.timestamp_ns == 2_000_000_000
    want = [
        [1.0, 10.0, 20.0],
        [_f32(0x3F800000 + 0x1A00000), _f32(0x41200000 + 0x0800000), _f32(0x41A00000 + 0xFDECCCCD)],
    ]
    np.testing.assert_array_equal(polar.frame_values(f, 1.0), want)
    np.testing.assert_array_equal(polar.frame_values(f, 0.5), np.array(want) * 0.5)


def test_vendor_acc_raw_type1() -> None:
    v = polar.frame_values(polar.decode_frame(ACC_RAW1), None)  # raw frames need no factor
    assert v.shape == (36, 3)
    np.testing.assert_array_equal(v[:2] * 1000, [[-9, -1, 999], [-8, -2, 997]])


def test_vendor_acc_compressed_type0() -> None:
    factor = float(np.float32(2.44e-4))
    v = polar.frame_values(polar.decode_frame(ACC_COMP0), factor)
    assert v.shape == (57, 3)
    s0 = np.array([1905, 27376, -29282])
    s1 = s0 + np.array([190, -105, -85])
    # the SDK truncates to integer mG; we keep g as a float
    np.testing.assert_array_equal(
        np.trunc(v[:2] * 1000), np.trunc(np.array([s0, s1]) * factor * 1000)
    )
    assert np.all(np.abs(v) <= 8.0)


def test_factor_from_start_response_and_frames_before_it_are_dropped() -> None:
    dec = polar.PolarDecoder()
    (d,) = dec.feed(ACC_COMP0, polar.DATA_CHAR_UUID)
    assert isinstance(d, BytesDropped)
    assert "factor" in d.reason
    resp = H("F0 02 02 00 00 05 01") + struct.pack("<f", 2.44e-4)
    (r,) = dec.feed(resp, polar.CONTROL_POINT_UUID)
    assert isinstance(r, Reply)
    assert r.packet.factor == pytest.approx(2.44e-4)
    assert dec.feed(ACC_COMP0, polar.DATA_CHAR_UUID) == []  # waiting for gyro partners


def test_commands() -> None:
    cmds = polar.FAMILY.start_commands(52.0)
    # PMD start: op 02, type, then [setting id][count 1][u16]: rate 52, resolution 16, range
    assert cmds[0][1] == H("02 02 00 01 34 00 01 01 10 00 02 01 08 00")
    assert cmds[1][1] == H("02 05 00 01 34 00 01 01 10 00 02 01 D0 07")
    assert [c for _, c in polar.FAMILY.stop_commands()] == [H("03 02"), H("03 05")]
    r = polar.decode_control_response(H("F0 02 02 0A"))
    assert r.status == 10  # ERROR_INVALID_MTU
    assert r.factor is None


@pytest.mark.parametrize(
    ("content", "exc"),
    [
        (H("EA FF 08 00 0D"), TruncatedPacketError),
        (H("EA FF 08 00 0D 00 03"), TruncatedPacketError),
        (H("EA FF 08 00 0D 00 03 02 DF"), TruncatedPacketError),
        (H("EA FF 08 00 0D 00 00 01"), MalformedPacketError),
        (H("EA FF 08 00 0D 00 21 01") + bytes(13), MalformedPacketError),
        (H("EA FF 08 00 0D 00 03 00"), MalformedPacketError),
    ],
)
def test_delta_errors(content: bytes, exc: type) -> None:
    with pytest.raises(exc):
        polar.decode_delta(content, 3, 16)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-32768, 32767)] * 3), min_size=1, max_size=300))
def test_delta_round_trip(samples: list[tuple[int, int, int]]) -> None:
    b = polar.encode_delta(samples, 16)
    assert polar.decode_delta(b, 3, 16) == samples


def test_any_bytes_frame_values_or_protocol_error() -> None:
    rng = np.random.default_rng(4)
    for _ in range(3000):
        raw = rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8).tobytes()
        try:
            polar.frame_values(polar.decode_frame(raw), 0.001)
        except ProtocolError:
            pass


def test_emulated_session_pairs_by_time_and_reports_loss() -> None:
    fam = polar.FAMILY
    enc = fam.new_encoder(52.0, mtu=247)
    dec = fam.new_decoder(52.0)
    for _, c in fam.start_commands(52.0):
        for u, b in enc.respond(c):
            dec.feed(b, u)
    t = np.arange(200) / 52.0
    acc = np.stack([np.sin(t), np.cos(t), 9.81 + 0 * t], axis=1)
    gyr = np.stack([100 * np.sin(2 * t), 0 * t, -50 + 0 * t], axis=1)
    notes = enc.encode(acc, gyr) + enc.flush()
    assert max(len(n) for n in notes) <= 244
    lost = 4  # one ACC frame and its GYRO frame
    ev = [
        e
        for i, n in enumerate(notes)
        if i not in (lost, lost + 1)
        for e in dec.feed(n, polar.DATA_CHAR_UUID)
    ]
    s = [e for e in ev if isinstance(e, Samples)]
    got_t = np.concatenate([e.t_dev_s for e in s])
    assert np.all(np.diff(got_t) > 0)
    gaps = [e for e in ev if isinstance(e, SequenceGap)]
    n_frame = enc.samples_per_frame
    assert [g.n_missing for g in gaps] == [n_frame]
    keep = np.r_[0 : 2 * n_frame, 3 * n_frame : 200]
    got_acc = np.concatenate([e.acc_m_s2 for e in s])
    np.testing.assert_allclose(got_acc, acc[keep], atol=8 / 32768 * GRAVITY_M_S2)
    got_gyr = np.concatenate([e.gyr_dps for e in s])
    np.testing.assert_allclose(got_gyr, gyr[keep], atol=2000 / 32768)
    # seconds since 2000 in float64: ~0.1 µs resolution
    np.testing.assert_allclose(np.diff(got_t)[:n_frame], 1 / 52.0, rtol=0, atol=1e-6)


def test_gyro_type1_nan_pattern_is_a_protocol_error_not_a_warning() -> None:
    nan = H("05 00 94 35 77 00 00 00 00 81") + H("01 00 80 7F 00 00 20 41 00 00 A0 41")
    with pytest.raises(MalformedPacketError):
        polar.frame_values(polar.decode_frame(nan), 1.0)


@pytest.mark.parametrize("mtu", [23, 40, 100, 247, 517])
def test_emulated_frames_fit_the_mtu_even_with_extreme_deltas(mtu: int) -> None:
    enc = polar.PolarEncoder(52.0, mtu)
    for _, c in polar.FAMILY.start_commands(52.0):
        enc.respond(c)
    n = 3 * enc.samples_per_frame
    alt = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None] * np.ones((1, 3))
    notes = enc.encode(alt * 100 * GRAVITY_M_S2, alt * 5000)  # saturating, ±full-scale swings
    assert len(notes) == 6
    assert max(len(b) for b in notes) <= min(mtu, 517) - 3
