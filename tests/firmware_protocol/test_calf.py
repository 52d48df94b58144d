"""The project's own protocol: SPEC.md worked examples, errors, gaps, emulator, MTU budget."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import calf
from firmware_protocol._common import GRAVITY_M_S2, BytesDropped, Reply, Samples, SequenceGap
from firmware_protocol.errors import (
    MalformedPacketError,
    TruncatedPacketError,
    UnsupportedVersionError,
)

SPEC = Path(calf.__file__).with_name("SPEC.md")

# SPEC.md §7 worked examples (hand-built from the layout in §4).
EXAMPLE_A = bytes.fromhex("33 05 40 42 0F 00 88 13 00 FC 00 00 00 10 00 10 00 00 00 FC")
EXAMPLE_B = bytes.fromhex(
    "24 FF 80 E3 FF FF 10 27 00 00 00 00 00 40 00 00 00 00 00 0000 00 00 00 00 80 FF 3F 00 00 00 00"
)
EXAMPLE_C_REPLY = bytes.fromhex("86 00 01 00 C8 00 88 13 02 03 01")


def _spec_hex_blocks() -> list[bytes]:
    text = SPEC.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n([0-9A-F \n]+)```", text)
    return [bytes.fromhex(b.replace("\n", " ")) for b in blocks]


def test_spec_examples_are_the_ones_tested() -> None:
    assert _spec_hex_blocks() == [EXAMPLE_A, EXAMPLE_B]
    assert "`86 00 01 00 C8 00 88 13 02 03 01`" in SPEC.read_text(encoding="utf-8")


def test_example_a() -> None:
    p = calf.decode_packet(EXAMPLE_A)
    assert (p.version, p.acc_range_code, p.gyr_range_code) == (1, 2, 3)
    assert (p.seq, p.t_first_us, p.period_us) == (5, 1_000_000, 5000)
    assert p.acc_raw == ((-1024, 0, 4096),)
    assert p.gyr_raw == ((4096, 0, -1024),)
    s = calf.packet_to_samples(p)
    np.testing.assert_allclose(s.acc_m_s2, [[-0.25 * GRAVITY_M_S2, 0, GRAVITY_M_S2]])
    np.testing.assert_allclose(s.gyr_dps, [[125.0, 0, -31.25]])
    np.testing.assert_array_equal(s.t_dev_s, [1.0])
    assert calf.encode_packet(p) == EXAMPLE_A


def test_example_b_and_clock_wrap_in_stream() -> None:
    p = calf.decode_packet(EXAMPLE_B)
    assert (p.acc_range_code, p.gyr_range_code, p.seq) == (0, 4, 255)
    assert p.t_first_us == 4_294_960_000
    assert p.period_us == 10_000
    s = calf.packet_to_samples(p)
    np.testing.assert_allclose(s.acc_m_s2[:, 2], [GRAVITY_M_S2, -2 * GRAVITY_M_S2])
    np.testing.assert_allclose(s.gyr_dps[1, 0], 2000 * 16383 / 32768)
    nxt = calf.encode_packet(
        calf.CalfImuPacket(
            acc_range_code=0,
            gyr_range_code=4,
            seq=0,
            t_first_us=12_704,
            period_us=10_000,
            acc_raw=((1, 2, 3),),
            gyr_raw=((4, 5, 6),),
        )
    )
    dec = calf.CalfDecoder()
    ev = dec.feed(EXAMPLE_B) + dec.feed(nxt)
    assert [type(e) for e in ev] == [Samples, Samples]
    np.testing.assert_allclose(ev[1].t_dev_s, [(4_294_960_000 + 20_000) / 1e6])
    np.testing.assert_array_equal(ev[1].counter, [256])
    assert dec.stats.gaps == 0


def test_example_c_get_config_reply() -> None:
    enc = calf.CalfEncoder(200, 23, streaming=False)
    assert enc.encode_command_reply(bytes.fromhex("06")) == EXAMPLE_C_REPLY
    r = calf.decode_reply(EXAMPLE_C_REPLY)
    assert r.opcode == calf.Opcode.GET_CONFIG
    assert r.status == calf.Status.OK
    assert r.config == calf.CalfConfig(
        version=1,
        streaming=False,
        rate_hz=200,
        period_us=5000,
        acc_range_code=2,
        gyr_range_code=3,
        max_samples_per_packet=1,
    )


@pytest.mark.parametrize(
    ("mtu", "n"), [(23, 1), (35, 2), (185, 14), (247, 19), (517, 42), (600, 42)]
)
def test_samples_per_packet_by_mtu(mtu: int, n: int) -> None:
    assert calf.max_samples_per_packet(mtu) == n
    assert calf.HEADER_LEN + n * calf.SAMPLE_LEN <= min(mtu, 517) - 3


def test_two_sensors_at_200_hz_fit_default_mtu() -> None:
    """Issue requirement: 2 × 200 Hz through a 23-byte MTU → 20-byte notifications."""
    acc = np.zeros((200, 3))
    for _ in range(2):
        enc = calf.CalfEncoder(200, 23)
        pkts = enc.encode(acc, acc)
        assert len(pkts) == 200
        assert {len(p) for p in pkts} == {20}


def test_batching_at_large_mtu() -> None:
    enc = calf.CalfEncoder(200, 247)
    pkts = enc.encode(np.zeros((25, 3)), np.zeros((25, 3)))
    assert [len(calf.decode_packet(p).acc_raw) for p in pkts] == [10, 10]
    (last,) = enc.flush()
    assert len(calf.decode_packet(last).acc_raw) == 5
    assert enc.flush() == []


@pytest.mark.parametrize(
    ("data", "exc", "attrs"),
    [
        (b"", TruncatedPacketError, {"needed": 20, "available": 0}),
        (EXAMPLE_A[:19], TruncatedPacketError, {"needed": 20, "available": 19}),
        (EXAMPLE_A + b"\x00", TruncatedPacketError, {"needed": 32, "available": 21}),
        (b"\x53" + EXAMPLE_A[1:], UnsupportedVersionError, {"version": 2}),
        (b"\x13" + EXAMPLE_A[1:], UnsupportedVersionError, {"version": 0}),
        (b"\x35" + EXAMPLE_A[1:], MalformedPacketError, {"offset": 0, "actual": 0x35}),
        (EXAMPLE_A[:6] + b"\x00\x00" + EXAMPLE_A[8:], MalformedPacketError, {"offset": 6}),
    ],
)
def test_decode_errors(data: bytes, exc: type, attrs: dict) -> None:
    with pytest.raises(exc) as info:
        calf.decode_packet(data)
    for k, v in attrs.items():
        assert getattr(info.value, k) == v


def _packets(n_packets: int, per: int, seq0: int = 0, t0: int = 0) -> list[bytes]:
    enc = calf.CalfEncoder(100, 23 + 12 * (per - 1), t0_us=t0)
    enc.state.seq = seq0
    rng = np.random.default_rng(0)
    out: list[bytes] = []
    while len(out) < n_packets:
        out += enc.encode(rng.normal(0, 5, (1, 3)), rng.normal(0, 50, (1, 3)))
    return out[:n_packets]


def test_stream_reports_gap_sized_by_device_time() -> None:
    pk = _packets(10, per=2)  # 2 samples per packet at MTU 35 (5 per 50 ms wanted → 2)
    dec = calf.CalfDecoder()
    ev = [e for p in pk[:3] + pk[6:] for e in dec.feed(p)]
    gaps = [e for e in ev if isinstance(e, SequenceGap)]
    assert gaps == [SequenceGap(expected=3, got=6, n_missing=6)]
    assert dec.stats.samples == 14
    assert dec.stats.samples_missing == 6
    t = np.concatenate([e.t_dev_s for e in ev if isinstance(e, Samples)])
    np.testing.assert_allclose(np.diff(t)[np.diff(t) > 0.011], [0.07])


def test_stream_gap_longer_than_sequence_wrap_is_measured() -> None:
    pk = _packets(300, per=1)
    dec = calf.CalfDecoder()
    ev = dec.feed(pk[0]) + dec.feed(pk[290])
    (gap,) = [e for e in ev if isinstance(e, SequenceGap)]
    assert gap.n_missing == 289
    assert gap.got == 290
    np.testing.assert_array_equal(ev[-1].counter, [290])


def test_stream_drops_and_reports_bad_notifications() -> None:
    dec = calf.CalfDecoder()
    ev = dec.feed(b"\x00\x01\x02")
    assert isinstance(ev[0], BytesDropped)
    assert ev[0].n_bytes == 3
    ev = dec.feed(EXAMPLE_A) + dec.feed(EXAMPLE_A)
    assert isinstance(ev[0], Samples)
    assert isinstance(ev[1], BytesDropped)
    assert "repeated" in ev[1].reason
    ev = dec.feed(EXAMPLE_C_REPLY, char_uuid=calf.CONTROL_CHAR_UUID)
    assert isinstance(ev[0], Reply)
    assert ev[0].packet.config.rate_hz == 200
    assert dec.stats.bytes_dropped == 23
    assert dec.stats.replies == 1


def test_emulator_runs_the_start_sequence() -> None:
    fam = calf.FAMILY
    enc = fam.new_encoder(100.0)
    assert enc.encode(np.zeros((3, 3)), np.zeros((3, 3))) == []  # not streaming yet
    replies = [
        calf.decode_reply(r[1]) for _, c in fam.start_commands(200.0) for r in enc.respond(c)
    ]
    assert [r.status for r in replies] == [0, 0, 0, 0]
    assert replies[2].config is not None
    assert replies[2].config.rate_hz == 200
    pkts = enc.encode(np.zeros((4, 3)), np.zeros((4, 3)))
    assert [calf.decode_packet(p).seq for p in pkts] == [0, 1, 2, 3]
    r = calf.decode_reply(
        enc.encode_command_reply(calf.encode_command(calf.Opcode.SET_RATE, rate_hz=50))
    )
    assert r.status == calf.Status.BUSY_STREAMING
    assert r.config.rate_hz == 200
    enc.respond(calf.encode_command(calf.Opcode.STOP))
    r = calf.decode_reply(
        enc.encode_command_reply(calf.encode_command(calf.Opcode.SET_RATE, rate_hz=33))
    )
    assert r.status == calf.Status.INVALID_ARGUMENT
    assert calf.decode_reply(enc.encode_command_reply(b"\x7a")).status == calf.Status.UNKNOWN_OPCODE
    assert calf.decode_reply(enc.encode_command_reply(b"\x03\x01")).status == calf.Status.BAD_LENGTH


def test_spec_c_reference_code_packs_example_a(tmp_path: Path) -> None:
    """The C snippet in SPEC.md §8, compiled and run, produces Example A's bytes."""
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on PATH to check the SPEC.md C snippet")
    code = re.search(r"```c\n(.*?)```", SPEC.read_text(encoding="utf-8"), re.S)
    assert code is not None
    main = (
        "#include <stdio.h>\n"
        "int main(void) {\n"
        "  calf_sample_t s = {{-1024, 0, 4096}, {4096, 0, -1024}};\n"
        "  uint8_t out[64];\n"
        "  size_t n = calf_pack(out, 2, 3, 5, 1000000u, 5000u, &s, 1);\n"
        '  for (size_t i = 0; i < n; i++) printf("%02X", out[i]);\n'
        "  return 0;\n"
        "}\n"
    )
    src = tmp_path / "calf_pack.c"
    src.write_text(code.group(1) + main, encoding="utf-8")
    exe = tmp_path / "calf_pack"
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert bytes.fromhex(out) == EXAMPLE_A
