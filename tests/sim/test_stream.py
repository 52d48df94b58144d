"""The streaming simulator hands out exactly the samples of simulate(), piece by piece."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import UsageError
from companion.model import ImuChunk
from companion.sim import SensorErrors, SensorFaults, SimulatedStream, simulate


def _drain(stream: SimulatedStream, pieces: list[float]) -> dict[str, ImuChunk]:
    got: dict[str, list[ImuChunk]] = {s.sensor_id: [] for s in stream.sensors}
    for d in pieces:
        for sid, chunk in stream.read(d).items():
            got[sid].append(chunk)
    return {sid: ImuChunk.concat(chunks) for sid, chunks in got.items()}


@settings(max_examples=6, deadline=None)
@given(
    pieces=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=30),
    seed=st.integers(0, 1000),
)
def test_stream_equals_whole_simulation(pieces, seed) -> None:
    faults = SensorFaults(
        shin=SensorErrors(gyro_noise_dps_per_sqrt_hz=0.01, gyro_bias_drift_dps_per_sqrt_s=0.01),
        foot=SensorErrors(
            jitter_s=0.001,
            acc_noise_m_s2_per_sqrt_hz=0.003,
            drop_probability=0.02,
            drop_burst_mean_samples=3.0,
        ),
    )
    total = sum(pieces)
    stream = SimulatedStream("calf-raises-rushed", seed=seed, sensor_faults=faults)
    got = _drain(stream, [*pieces, 0.5])
    assert stream.t_s == pytest.approx(total + 0.5)
    whole = simulate("calf-raises-rushed", seed=seed, duration_s=total + 1.0, sensor_faults=faults)
    for sid, chunk in got.items():
        ref = whole.chunks[sid]
        n = len(chunk)
        if n == 0:
            continue
        # simulate() keeps its very last sample; compare everything before the stream's end.
        m = int(np.searchsorted(ref.t_s, chunk.t_s[-1], side="right"))
        assert n == m
        assert np.array_equal(chunk.t_s, ref.t_s[:n])
        assert np.array_equal(chunk.counter, ref.counter[:n])
        # Vectorised maths on differently split arrays may differ in the last bit, which
        # the accelerometer's second difference turns into ~1e-12 m/s².
        assert np.allclose(chunk.acc_m_s2, ref.acc_m_s2[:n], rtol=0.0, atol=1e-9)
        assert np.allclose(chunk.gyr_dps, ref.gyr_dps[:n], rtol=0.0, atol=1e-9)
    end = stream.t_s
    assert stream.gaps == [g for g in whole.gaps if g.t_end_s < end - 1e-9]
    assert stream.annotations_until(end) == [a for a in whole.annotations if a["t_end_s"] <= end]


def test_stream_loops_and_truth() -> None:
    stream = SimulatedStream("stretch-bouncing", seed=2)
    once = simulate("stretch-bouncing", seed=2)
    chunks = stream.read(once.duration_s * 2.5)
    shin = chunks["shin_left"]
    assert shin.t_s[-1] == pytest.approx(once.duration_s * 2.5, abs=0.011)
    holds = [a for a in stream.annotations_until(stream.t_s) if a["kind"] == "truth.hold"]
    assert [h["repeat_index"] for h in holds] == [0, 1]
    truth = stream.truth(shin.t_s)
    ref = once.references["truth_ankle_sagittal_deg"]
    k = len(ref.values)
    assert np.array_equal(truth["truth_ankle_sagittal_deg"][:k], ref.values)


def test_non_looping_stream_finishes() -> None:
    stream = SimulatedStream("lunge-test", seed=0, loop=False)
    once = simulate("lunge-test", seed=0)
    total = 0
    while not stream.finished:
        total += len(stream.read(7.0)["foot_left"])
    assert total == len(once.chunks["foot_left"])
    assert len(stream.read(5.0)["foot_left"]) == 0
    with pytest.raises(UsageError, match="seconds >= 0"):
        stream.read(-1.0)
