"""Real Movella DOT samples (../shared/data/xsens_dot_shank_foot_devdata) through the DOT codec.

The folder holds vendor CSV exports, not BLE captures; each row is rebuilt into the mode-26
notification the sensor streams (layout of XD0506P Table 14/17) and decoded again. Known
truth: the CSV's own PacketCounter says which samples exist, so removing rows must be reported
as exactly that many missing samples, and SampleTimeFine (µs) must come back unwrapped.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import dot
from firmware_protocol._common import Samples, SequenceGap

FILE = "xsens_dot_shank_foot_devdata/7_D422CD0050F1_20231031_133150.csv"  # right foot, walking


def _rows(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / FILE
    if not path.is_file():
        pytest.skip(f"{path} is not present in the shared data folder")
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k.strip(): v.strip() for k, v in r.items() if k} for r in csv.DictReader(fh)]


def _notes(rows: list[dict[str, str]], t_shift_us: int) -> list[bytes]:
    out = []
    for r in rows:
        p = dot.DotPacket(
            mode=dot.MODE_CUSTOM5,
            timestamp_us=(int(r["SampleTimeFine"]) + t_shift_us) % (1 << 32),
            quat=tuple(float(r[f"Quat_{c}"]) for c in "WXYZ"),  # type: ignore[arg-type]
            acc=tuple(float(r[f"Acc_{c}"]) for c in "XYZ"),  # type: ignore[arg-type]
            gyr=tuple(float(r[f"Gyr_{c}"]) for c in "XYZ"),  # type: ignore[arg-type]
        )
        out.append(dot.encode_payload(p))
    return out


def test_real_walk_round_trips_exactly_across_the_clock_wrap(shared_data: Path) -> None:
    rows = _rows(shared_data)
    t0 = int(rows[0]["SampleTimeFine"])
    shift = (1 << 32) - t0 - 5_000_000  # make the u32 µs clock wrap 5 s into the walk
    dec = dot.DotDecoder(120.0)
    ev = [e for b in _notes(rows, shift) for e in dec.feed(b, dot.LONG_PAYLOAD_CHAR_UUID)]
    s = [e for e in ev if isinstance(e, Samples)]
    assert dec.stats.samples == len(rows)
    assert dec.stats.gaps == 0
    acc = np.concatenate([e.acc_m_s2 for e in s])
    want = np.array([[float(r[f"Acc_{c}"]) for c in "XYZ"] for r in rows], dtype=np.float32)
    np.testing.assert_array_equal(acc, want.astype(np.float64))
    gyr = np.concatenate([e.gyr_dps for e in s])
    assert np.abs(gyr).max() > 1000  # a real, fast signal (foot swing)
    t = np.concatenate([e.t_dev_s for e in s])
    np.testing.assert_allclose(np.diff(t), 8333e-6, rtol=0, atol=1e-9)


def test_real_walk_loss_is_counted_from_device_time(shared_data: Path) -> None:
    rows = _rows(shared_data)
    rng = np.random.default_rng(11)
    drop = set(rng.choice(np.arange(1, len(rows) - 1), size=40, replace=False).tolist())
    kept = [r for i, r in enumerate(rows) if i not in drop]
    dec = dot.DotDecoder(120.0)
    ev = [e for b in _notes(kept, 0) for e in dec.feed(b)]
    counters = [int(r["PacketCounter"]) for r in kept]
    truth_missing = sum(b - a - 1 for a, b in itertools.pairwise(counters))
    assert truth_missing == 40
    assert dec.stats.samples_missing == truth_missing
    runs = sum(1 for a, b in itertools.pairwise(counters) if b - a > 1)
    assert sum(isinstance(e, SequenceGap) for e in ev) == runs
