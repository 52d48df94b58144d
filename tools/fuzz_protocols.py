"""Fuzz every firmware_protocol decoder with random and mutated inputs.

Contract checked:
* one-shot ``decode_*``: every input either decodes or raises ``ProtocolError`` (any other
  exception is a bug and is printed with the input);
* streaming decoders (``FAMILIES[name].new_decoder()``): ``feed`` never raises, samples are
  finite, and device time (where the family has one) strictly increases.

Inputs are a mix of uniformly random bytes (random length 0..90) and mutations of valid
encodings (bit flips, byte sets, truncation, extension, splicing). Seeded, so runs repeat.

    .venv/bin/python tools/fuzz_protocols.py            # 100 000 inputs per decoder
    .venv/bin/python tools/fuzz_protocols.py -n 1000000 --seed 7
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Run from a checkout: the venv's editable finder may predate firmware_protocol/__init__.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_protocol import FAMILIES, calf, dot, metamotion, movesense, polar, thingy, witmotion
from firmware_protocol._common import BytesDropped, Samples, SequenceGap
from firmware_protocol.errors import ProtocolError

ONE_SHOT: dict[str, tuple[Callable[[bytes], object], list[bytes]]] = {
    "witmotion.decode_frame": (
        witmotion.decode_frame,
        [
            bytes.fromhex("5561 00FC 0000 0008 0000 0010 0080 0000 0020 00C0".replace(" ", "")),
            bytes.fromhex("55713A0068016900 7A00".replace(" ", "")) + bytes(10),
        ],
    ),
    "witmotion.decode_command": (witmotion.decode_command, [bytes.fromhex("FFAA030900")]),
    "calf.decode_packet": (
        calf.decode_packet,
        [
            bytes.fromhex("33 05 40 42 0F 00 88 13 00 FC 00 00 00 10 00 10 00 00 00 FC"),
            bytes.fromhex(
                "24 FF 80 E3 FF FF 10 27 00 00 00 00 00 40 00 00 00 00 00 00"
                "00 00 00 00 00 80 FF 3F 00 00 00 00"
            ),
        ],
    ),
    "calf.decode_reply": (calf.decode_reply, [bytes.fromhex("86 00 01 00 C8 00 88 13 02 03 01")]),
    "calf.decode_command": (calf.decode_command, [bytes.fromhex("03 C8 00"), b"\x04\x02\x03"]),
    "movesense.decode_notification[IMU6]": (
        lambda b: movesense.decode_notification(b, "IMU6"),
        [bytes((2, 99)) + struct.pack("<I12f", 5, *range(12)), bytes((1, 99, 0, 200))],
    ),
    "movesense.decode_notification[IMU9]": (
        lambda b: movesense.decode_notification(b, "IMU9"),
        [bytes((2, 99)) + struct.pack("<I9f", 5, *range(9))],
    ),
    "dot.decode_payload[26]": (
        lambda b: dot.decode_payload(b, 26),
        [struct.pack("<I10f", 7, 1, 0, 0, 0, 0, 0, 9.8, 1, 2, 3) + bytes(19)],
    ),
    "dot.decode_payload[21]": (
        lambda b: dot.decode_payload(b, 21),
        [struct.pack("<I6f", 7, 0, 0, 9.8, 1, 2, 3)],
    ),
    "dot.decode_battery": (dot.decode_battery, [bytes((80, 1))]),
    "metamotion.decode_notification": (
        metamotion.decode_notification,
        [
            bytes.fromhex("03 04 16 C4 94 A2 2A D0"),
            bytes.fromhex("13 07 09 15 ad 26 08 de 8a 1a 0d 26 65 e4 8d 20 ac 27 73 ec"),
            bytes.fromhex("19 07 1b 9b 70 3f 8c 5e 4d bd 07 7f 1d be 78 02 9a be"),
            bytes.fromhex("19 04 20 3e 53 c5 0c fe 79 46 0c fe 79 c6 00"),
            bytes.fromhex("11 8C 63 34 10"),
            bytes.fromhex("03 05 62 b7 53 0d e9 fd 16 d0 4d 0e 57 02 8a ff a1 05 0a 01"),
            bytes.fromhex("03 80 04 01"),
            bytes.fromhex("09 03 04 1e 02 00 00 f4 0d 3c 39 99 11 01 80 d6 91 d3 67"),
            bytes.fromhex("09 03 02 f4 0d 3c 39 99 11 01 80 d6 91 d3 67"),
            bytes.fromhex("09 02 01"),
        ],
    ),
    "thingy.decode_raw": (
        thingy.decode_raw,
        [bytes.fromhex("0000 00FE 0004 800C".replace(" ", "")) + bytes(10)],
    ),
    "thingy.decode_config": (thingy.decode_config, [bytes.fromhex("E803E803F401640001")]),
    "polar.frame_values": (
        lambda b: polar.frame_values(polar.decode_frame(b), 0.001),
        [
            bytes.fromhex("05 FF FF FF FF FF FF FF 7F 80 EA FF 08 00 0D 00 03 01 DF 00"),
            bytes.fromhex("05 00 94 35 77 00 00 00 00 81 00 00 80 3F 00 00 20 41 00 00 A0 41")
            + bytes.fromhex("1C 01 00 00 A0 01 00 00 08 CD CC EC 0D"),
            bytes.fromhex("02 00 94 35 77 00 00 00 00 01 F7 FF FF FF E7 03 F8 FF FE FF E5 03"),
        ],
    ),
    "polar.decode_control_response": (
        polar.decode_control_response,
        [bytes.fromhex("F0 02 02 00 00 05 01 00 00 80 3F")],
    ),
}


def _streams_seeds() -> dict[str, list[tuple[str | None, bytes]]]:
    """Valid notifications of each family, produced by its emulator."""
    rng = np.random.default_rng(0)
    out: dict[str, list[tuple[str | None, bytes]]] = {}
    for name, fam in FAMILIES.items():
        enc = fam.new_encoder(fam.default_rate_hz, mtu=247)
        replies = [r for _, c in fam.start_commands(fam.default_rate_hz) for r in enc.respond(c)]
        # the device's command replies first (Polar's scale factor comes in one)
        notes = enc.encode(rng.normal(0, 5, (2000, 3)), rng.normal(0, 50, (2000, 3)))
        out[name] = replies + [(None, b) for b in notes]
    return out


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def random_bytes(self) -> bytes:
        n = int(self.rng.integers(0, 91))
        return self.rng.integers(0, 256, n, dtype=np.uint8).tobytes()

    def mutate(self, seeds: list[bytes]) -> bytes:
        r = self.rng
        b = bytearray(seeds[int(r.integers(len(seeds)))])
        for _ in range(int(r.integers(1, 5))):
            op = int(r.integers(6))
            if op == 0 and b:  # bit flip
                b[int(r.integers(len(b)))] ^= 1 << int(r.integers(8))
            elif op == 1 and b:  # byte set, favouring edge values
                b[int(r.integers(len(b)))] = int(
                    r.choice([0, 1, 0x7F, 0x80, 0xFF, r.integers(256)])
                )
            elif op == 2 and b:  # truncate
                del b[int(r.integers(len(b))) :]
            elif op == 3:  # extend
                b += r.integers(0, 256, int(r.integers(1, 24)), dtype=np.uint8).tobytes()
            elif op == 4:  # splice with another seed
                other = seeds[int(r.integers(len(seeds)))]
                cut = int(r.integers(len(other) + 1))
                b = b[: int(r.integers(len(b) + 1))] + bytearray(other[cut:])
            elif op == 5 and len(b) > 1:  # duplicate a slice
                i = int(r.integers(len(b)))
                b[i:i] = b[i : i + int(r.integers(1, 8))]
        return bytes(b)

    def next(self, seeds: list[bytes]) -> bytes:
        return self.random_bytes() if self.rng.random() < 0.4 else self.mutate(seeds)


def fuzz_one_shot(n: int, seed: int) -> bool:
    ok = True
    for name, (fn, seeds) in ONE_SHOT.items():
        m = Mutator(seed)
        outcomes: Counter[str] = Counter()
        t0 = time.perf_counter()
        for _ in range(n):
            data = m.next(seeds)
            try:
                fn(data)
                outcomes["decoded"] += 1
            except ProtocolError as exc:
                outcomes[type(exc).__name__] += 1
            except Exception:  # the point is to catch anything else
                ok = False
                outcomes["OTHER EXCEPTION"] += 1
                if outcomes["OTHER EXCEPTION"] <= 3:
                    print(f"  {name}: input {data.hex()} raised:", file=sys.stderr)
                    traceback.print_exc()
        dt = time.perf_counter() - t0
        summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"{name:40s} {n:>8d} inputs {dt:6.1f} s  {summary}")
    return ok


def fuzz_streams(n: int, seed: int) -> bool:
    ok = True
    seeds = _streams_seeds()
    for name, fam in FAMILIES.items():
        m = Mutator(seed + 1)
        dec = fam.new_decoder()
        counts: Counter[str] = Counter()
        t0 = time.perf_counter()
        t_last = -np.inf
        for i in range(n):
            if i % 500 == 0:  # a fresh connection now and then
                dec = fam.new_decoder()
                t_last = -np.inf
            # half the time the next valid notification in order (so device time advances and
            # the decoder gets deep into its state machine), else a random or mutated one
            valid = seeds[name]
            if m.rng.random() < 0.5:
                uuid, data = valid[i % len(valid)]
            else:
                data = m.next([b for _, b in valid])
                uuid = (
                    None if m.rng.random() < 0.8 else str(m.rng.choice(list(fam.notify_char_uuids)))
                )
            try:
                events = dec.feed(data, uuid)
            except Exception:
                ok = False
                counts["RAISED"] += 1
                if counts["RAISED"] <= 3:
                    print(f"  {name}: feed({data.hex()}) raised:", file=sys.stderr)
                    traceback.print_exc()
                continue
            for e in events:
                if isinstance(e, Samples):
                    counts["samples"] += len(e)
                    if not (np.all(np.isfinite(e.acc_m_s2)) and np.all(np.isfinite(e.gyr_dps))):
                        ok = False
                        counts["NON-FINITE SAMPLE"] += 1
                    if e.t_dev_s is not None:
                        if e.t_dev_s[0] <= t_last or np.any(np.diff(e.t_dev_s) <= 0):
                            ok = False
                            counts["DEVICE TIME NOT INCREASING"] += 1
                        t_last = e.t_dev_s[-1]
                elif isinstance(e, BytesDropped):
                    counts["bytes dropped"] += e.n_bytes
                elif isinstance(e, SequenceGap):
                    counts["gaps"] += 1
                else:
                    counts["replies"] += 1
        dt = time.perf_counter() - t0
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"stream {name:33s} {n:>8d} notifications {dt:6.1f} s  {summary}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="inputs per decoder (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    warnings.simplefilter("error")  # a warning (e.g. numpy RuntimeWarning) counts as escaping
    ok = fuzz_one_shot(args.n, args.seed)
    ok = fuzz_streams(args.n, args.seed) and ok
    print("PASS: only ProtocolError escaped; streaming decoders never raised" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
