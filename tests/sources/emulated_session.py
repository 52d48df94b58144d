"""Run a BleSource against an emulated radio on virtual time and check it against the truth.

Shared by the tests and ``tools/ble_soak.py`` (the full 10-minute acceptance run).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from companion.model import Gap, ImuChunk
from companion.sources.base import LinkState, LinkStateChanged, SensorStats
from companion.sources.ble import BleSource, SensorAssignment
from companion.sources.emulated import EmulatedRadio, FaultSpec, default_emulated_sensors
from companion.sources.virtual_time import run_virtual

ACC_TOL = {  # m/s² per axis: quantisation of each family's accelerometer
    "witmotion": 16 * 9.80665 / 32768,
    "calf": 8 * 9.80665 / 32768,
    "metamotion": 16 * 9.80665 / 32768,
    "movesense": 1e-5,
    "dot": 1e-5,
}


@dataclass
class SessionRun:
    radio: EmulatedRadio
    source: BleSource
    t0_host_s: float
    chunks: dict[str, list[ImuChunk]] = field(default_factory=dict)
    gaps: dict[str, list[Gap]] = field(default_factory=dict)
    states: list[LinkStateChanged] = field(default_factory=list)
    stats: list[SensorStats] = field(default_factory=list)

    def samples(self, sensor_id: str) -> ImuChunk:
        return ImuChunk.concat(self.chunks[sensor_id])


def run_session(
    family: str,
    *,
    duration_s: float,
    faults: str = "",
    rate_hz: float | None = None,
    seed: int = 0,
    ci_s: float = 0.0075,
) -> SessionRun:
    specs = default_emulated_sensors([family])
    fs = FaultSpec.parse(faults)
    fs = FaultSpec(**{**{k: getattr(fs, k) for k in FaultSpec.__dataclass_fields__}, "seed": seed})
    rate = rate_hz or None
    radio = EmulatedRadio(specs, faults=fs, rate_hz={family: rate} if rate else None, ci_s=ci_s)
    source = BleSource(
        [
            SensorAssignment(address=s.address, placement=s.placement, family=s.family)
            for s in specs
        ],
        backend=radio.backend,
        rate_hz=rate,
    )

    async def main() -> SessionRun:
        loop = asyncio.get_running_loop()
        run: SessionRun | None = None
        async for item in source:
            if run is None:
                run = SessionRun(radio=radio, source=source, t0_host_s=source.t0_host_s)
            if isinstance(item, ImuChunk):
                run.chunks.setdefault(item.sensor_id, []).append(item)
            elif isinstance(item, Gap):
                run.gaps.setdefault(item.sensor_id, []).append(item)
            elif isinstance(item, LinkStateChanged):
                run.states.append(item)
            elif isinstance(item, SensorStats):
                run.stats.append(item)
            if loop.time() - run.t0_host_s >= duration_s:
                await source.close()
        assert run is not None
        return run

    return run_virtual(main())


@dataclass
class Check:
    sensor_id: str
    recorded: int
    delivered: int
    matched: bool
    period_s: float
    time_err_median_s: float
    time_err_spread_s: float
    gaps_expected: int
    gaps_found: int
    missing_expected: int
    missing_reported: int
    gap_mismatches: list[str]
    reconnect_delays_s: list[float]


def check_sensor(run: SessionRun, sensor_id: str) -> Check:
    """Compare one sensor's recording with its peripheral's ground truth."""
    p = next(p for p in run.radio.peripherals if p.spec.placement.label == sensor_id)
    info = next(s for s in run.source.sensors if s.sensor_id == sensor_id)
    T = 1.0 / info.sampling_rate_hz
    t_true, delivered = p.truth.arrays()
    acc_true = np.array(p.truth.acc_m_s2)
    rec = run.samples(sensor_id)
    idx = np.nonzero(delivered)[0]
    # without device time, samples that arrived before the rate command was acknowledged are
    # not used (their rate is unknown); the source counts them
    link = next(lk for lk in run.source._links if lk.label == sensor_id)
    idx = idx[link.early_samples_dropped :]
    # samples still in flight when the session was closed are not in the recording
    n = len(rec)
    matched = n <= len(idx) and len(idx) - n <= 4 * max(1, int(0.2 / T))
    if matched:
        tol = ACC_TOL.get(p.family.name, 0.01) * 1.01 + 1e-6
        matched = bool(np.all(np.abs(rec.acc_m_s2 - acc_true[idx[:n]]) <= tol))
    m = min(n, len(idx))
    used = idx[:m]
    err = rec.t_s[:m] - (t_true[used] - run.t0_host_s)
    if not matched:
        # walk both sequences, matching each recorded sample to the next truth sample with
        # the same accelerometer counts (an extra or missing sample no longer shifts the rest)
        tol = ACC_TOL.get(p.family.name, 0.01) * 1.01 + 1e-6
        pairs = []
        i = 0
        for jj in range(n):
            window = acc_true[i : i + 64]
            hit = np.nonzero(np.all(np.abs(window - rec.acc_m_s2[jj]) <= tol, axis=1))[0]
            if len(hit):
                pairs.append((jj, i + int(hit[0])))
                i = i + int(hit[0]) + 1
        if pairs:
            js, its = (np.array(v) for v in zip(*pairs))
            err = rec.t_s[js] - (t_true[its] - run.t0_host_s)
    # gaps: between consecutive recorded samples, the truth says how many are missing
    t_rec = rec.t_s[:m]
    dt_true = np.diff(t_true[used])
    want_missing = np.rint(dt_true / (T * (1 + p.spec.skew_ppm * 1e-6))).astype(int) - 1
    gaps = run.gaps.get(sensor_id, [])
    by_start = {round(g.t_start_s, 9): g for g in gaps}
    mismatches = []
    for i in np.nonzero(want_missing > 0)[0]:
        g = by_start.get(round(float(t_rec[i]), 9))
        if g is None:
            mismatches.append(f"no gap after t={t_rec[i]:.4f} ({want_missing[i]} missing)")
        elif abs(g.t_end_s - t_rec[i + 1]) > 1e-9 or (
            g.n_missing != want_missing[i]
            # across a disconnect the size comes from host arrival times: ±1 sample
            and not (g.reason == "disconnected" and abs(g.n_missing - want_missing[i]) <= 1)
        ):
            mismatches.append(
                f"gap at t={t_rec[i]:.4f}: {g.n_missing} missing, truth {want_missing[i]}"
            )
    delays = []
    starts = [c[0] for c in p.truth.connections]
    for r in p.truth.returned_at:
        after = [c for c in starts if c >= r]
        if after:
            delays.append(after[0] - r)
    return Check(
        sensor_id=sensor_id,
        recorded=n,
        delivered=int(delivered.sum()),
        matched=matched,
        period_s=T,
        time_err_median_s=float(np.median(err)),
        time_err_spread_s=float(np.percentile(err, 99.5) - np.percentile(err, 0.5)),
        gaps_expected=int((want_missing > 0).sum()),
        gaps_found=len(gaps),
        missing_expected=int(want_missing[want_missing > 0].sum()),
        missing_reported=int(sum(g.n_missing for g in gaps)),
        gap_mismatches=mismatches,
        reconnect_delays_s=delays,
    )


def failed_states(run: SessionRun) -> list[LinkStateChanged]:
    return [s for s in run.states if s.state == LinkState.FAILED]
