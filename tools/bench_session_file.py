#!/usr/bin/env python
"""Benchmark the session file: write and load a long two-sensor session.

Usage: .venv/bin/python tools/bench_session_file.py [--hours 1] [--rate 100] [--repeat 5]

Prints the file size, the write time and the best/median load time. The issue's target: a 1 h
session with two sensors at 100 Hz loads in under 0.5 s on the project's 2-core machine.
Data are realistic: int16-quantised accelerometer/gyroscope values, as real sensors send.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from companion.model import ImuChunk, Placement, SensorInfo, Session
from companion.storage import load_session, write_session


def make(hours: float, rate_hz: float, seed: int = 0) -> Session:
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * rate_hz)
    sensors, chunks = [], {}
    for seg in ("shin", "foot"):
        s = SensorInfo(
            sensor_id=f"{seg}_left",
            family="witmotion",
            placement=Placement(segment=seg, side="left"),
            sampling_rate_hz=rate_hz,
        )
        sensors.append(s)
        t = np.arange(n) / rate_hz + rng.normal(0, 1e-4, n)
        t.sort()
        acc = np.round(rng.normal(0, 0.3, (n, 3)) * 2048) / 2048 * 9.80665
        acc[:, 2] += 9.80665
        gyr = np.round(rng.normal(0, 30, (n, 3)) * 16.4) / 16.4
        chunks[s.sensor_id] = ImuChunk(
            sensor_id=s.sensor_id, placement=s.placement, t_s=t, acc_m_s2=acc, gyr_dps=gyr
        )
    return Session(sensors=sensors, chunks=chunks, source="benchmark")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    session = make(args.hours, args.rate)
    rows = sum(len(c) for c in session.chunks.values())
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bench.calf"
        t0 = time.perf_counter()
        write_session(p, session)
        t_write = time.perf_counter() - t0
        loads = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loaded = load_session(p)
            loads.append(time.perf_counter() - t0)
        exact = all(loaded.chunks[k].equals(session.chunks[k]) for k in session.chunks)
        size_mb = p.stat().st_size / 1e6
    print(f"session: {args.hours:g} h, 2 sensors at {args.rate:g} Hz = {rows:,} rows")
    print(f"file size:  {size_mb:.1f} MB")
    print(f"write:      {t_write:.3f} s")
    print(
        f"load:       best {min(loads):.3f} s, median {statistics.median(loads):.3f} s "
        f"over {args.repeat} loads (target < 0.5 s)"
    )
    print(f"round trip: {'exact' if exact else 'NOT EXACT'}")


if __name__ == "__main__":
    main()
