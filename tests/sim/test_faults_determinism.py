"""Determinism with a seed, and sensor faults that show where they should (and only there)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from companion.model import GRAVITY_M_S2
from companion.sim import SensorErrors, SensorFaults, simulate


def _same(a, b) -> bool:
    if a.annotations != b.annotations or a.gaps != b.gaps or a.extra != b.extra:
        return False
    if set(a.chunks) != set(b.chunks):
        return False
    return all(a.chunks[k].equals(b.chunks[k]) for k in a.chunks) and all(
        np.array_equal(a.references[k].values, b.references[k].values) for k in a.references
    )


def test_same_seed_same_session_different_seed_differs() -> None:
    faults = SensorFaults.realistic(7)
    a = simulate("calf-raises-rushed", seed=42, duration_s=60.0, sensor_faults=faults)
    b = simulate("calf-raises-rushed", seed=42, duration_s=60.0, sensor_faults=faults)
    c = simulate("calf-raises-rushed", seed=43, duration_s=60.0, sensor_faults=faults)
    assert _same(a, b)
    assert not _same(a, c)
    assert a.extra["seed"] == 42
    assert a.extra["scenario"] == "calf-raises-rushed"
    assert a.extra["faults"]["preset"] == "realistic"
    assert a.source == "simulator"
    assert SensorFaults.realistic(7) == SensorFaults.realistic(np.random.default_rng(7))
    assert SensorFaults.realistic(7) != SensorFaults.realistic(8)


def test_session_identity() -> None:
    s = simulate("stretch-straight", seed=0, side="right", sampling_rate_hz=50.0)
    assert [x.sensor_id for x in s.sensors] == ["shin_right", "foot_right"]
    for info in s.sensors:
        assert info.family == "simulated"
        assert info.sampling_rate_hz == 50.0
        assert info.has_counter
        chunk = s.chunks[info.sensor_id]
        assert chunk.placement == info.placement
        assert np.allclose(np.diff(chunk.t_s), 0.02)
    for ref in s.references.values():
        assert np.array_equal(ref.t_s, s.chunks["shin_right"].t_s)


def test_dropped_samples_become_gaps() -> None:
    faults = SensorFaults(
        foot=SensorErrors(drop_probability=0.01, drop_burst_mean_samples=5.0), preset="custom"
    )
    s = simulate("stretch-straight", seed=9, duration_s=60.0, sensor_faults=faults)
    shin, foot = s.chunks["shin_left"], s.chunks["foot_left"]
    assert len(shin) == 6001
    assert len(foot) < 6001
    gaps = [g for g in s.gaps if g.sensor_id == "foot_left"]
    assert gaps
    assert not [g for g in s.gaps if g.sensor_id == "shin_left"]
    assert sum(g.n_missing for g in gaps) == 6001 - len(foot)
    for g in gaps:
        assert g.reason == "dropped"
        i = np.searchsorted(foot.t_s, g.t_start_s)
        assert foot.t_s[i] == g.t_start_s
        assert foot.t_s[i + 1] == g.t_end_s  # the next kept sample ends the gap
        assert foot.counter[i + 1] - foot.counter[i] == g.n_missing + 1
    # Between gaps the counter and the stamps advance one sample at a time.
    assert np.all(np.diff(foot.counter) >= 1)
    assert np.allclose(np.diff(foot.t_s), 0.01 * np.diff(foot.counter))


def test_noise_and_bias_statistics() -> None:
    errors = SensorErrors(
        gyro_noise_dps_per_sqrt_hz=0.02,
        acc_noise_m_s2_per_sqrt_hz=0.004,
        gyro_bias_dps=(0.5, -1.0, 0.25),
        acc_bias_m_s2=(0.1, 0.0, -0.2),
    )
    s = simulate("standing-still", seed=3, sensor_faults=SensorFaults(shin=errors), duration_s=3.0)
    shin = s.chunks["shin_left"]
    still = shin.t_s < 2.9
    gyr = shin.gyr_dps[still]
    acc = shin.acc_m_s2[still]
    n = gyr.shape[0]
    assert np.allclose(gyr.mean(0), [0.5, -1.0, 0.25], atol=4 * 0.02 * np.sqrt(50) / np.sqrt(n))
    assert gyr.std(0) == pytest.approx(np.full(3, 0.02 * np.sqrt(50)), rel=0.2)
    assert acc.std(0) == pytest.approx(np.full(3, 0.004 * np.sqrt(50)), rel=0.2)
    expected = np.array([0.1, 0.0, GRAVITY_M_S2 - 0.2])
    assert np.allclose(acc.mean(0), expected, atol=0.01)


def test_clock_skew_shifts_when_the_foot_samples() -> None:
    skew = SensorFaults(foot=SensorErrors(clock_skew_ppm=2000.0))
    clean = simulate("calf-raises", seed=1, duration_s=60.0)
    skewed = simulate("calf-raises", seed=1, duration_s=60.0, sensor_faults=skew)
    assert np.array_equal(clean.chunks["foot_left"].t_s, skewed.chunks["foot_left"].t_s)
    g0 = clean.chunks["foot_left"].gyr_dps[:, 1]
    g1 = skewed.chunks["foot_left"].gyr_dps[:, 1]
    # At t = 50 s the foot sensor really samples 0.1 s later: its stamped signal lags.
    late = clean.chunks["foot_left"].t_s > 45.0
    lags = np.arange(0, 20)
    err = [np.mean((g1[late][:-20] - g0[late][lag : lag - 20]) ** 2) for lag in lags]
    assert 8 <= int(np.argmin(err)) <= 12
    assert np.array_equal(clean.chunks["shin_left"].gyr_dps, skewed.chunks["shin_left"].gyr_dps)


@settings(max_examples=8, deadline=None)
@given(
    rotvec=st.tuples(*[st.floats(-180.0, 180.0, allow_nan=False)] * 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_mounting_keeps_gravity_norm_and_truth(rotvec, seed) -> None:
    faults = SensorFaults(
        shin=SensorErrors(mounting_rotvec_deg=rotvec),
        foot=SensorErrors(mounting_rotvec_deg=tuple(-x for x in rotvec)),
    )
    s = simulate("stretch-knee-in", seed=seed, duration_s=6.0, sensor_faults=faults)
    for segment, chunk in (("shin", s.chunks["shin_left"]), ("foot", s.chunks["foot_left"])):
        still = chunk.t_s < 2.9
        assert np.allclose(np.linalg.norm(chunk.acc_m_s2[still], axis=1), GRAVITY_M_S2)
        # The sensor sees "up" where the mounting rotation puts it.
        mount = faults.for_segment(segment).mounting
        up_in_sensor = mount.inv().apply([0.0, 0.0, GRAVITY_M_S2])
        assert np.allclose(chunk.acc_m_s2[still], up_in_sensor, atol=1e-6)


def test_realistic_preset_is_plausible() -> None:
    f = SensorFaults.realistic(0)
    for e in (f.shin, f.foot):
        tilt = Rotation.from_rotvec(np.radians(e.mounting_rotvec_deg)).magnitude()
        assert 0.0 < np.degrees(tilt) < 60.0
        assert abs(e.clock_skew_ppm) < 300.0
        assert e.drop_probability > 0
    s = simulate("calf-raises", seed=0, duration_s=60.0, sensor_faults=f)
    assert s.gaps
    assert SensorFaults.from_dict(f.to_dict()) == f
    none = SensorFaults.none()
    assert all(v in (0.0, 1.0, [0.0, 0.0, 0.0]) for v in none.shin.to_dict().values())


def test_bad_error_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="drop_probability"):
        SensorErrors(drop_probability=1.5)
    with pytest.raises(ValueError, match="jitter_s"):
        SensorErrors(jitter_s=-1.0)
    with pytest.raises(ValueError, match="mounting_rotvec_deg"):
        SensorErrors(mounting_rotvec_deg=(1.0, 2.0))  # type: ignore[arg-type]
    e = SensorErrors()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.jitter_s = 1.0  # type: ignore[misc]


def test_scale_range_and_resolution() -> None:
    errors = SensorErrors(
        gyro_scale_error=(0.0, 0.05, 0.0),
        acc_range_m_s2=8.0,
        gyro_lsb_dps=0.5,
    )
    clean = simulate("calf-raises", seed=0, duration_s=25.0)
    faulty = simulate(
        "calf-raises", seed=0, duration_s=25.0, sensor_faults=SensorFaults(foot=errors)
    )
    g0 = clean.chunks["foot_left"].gyr_dps
    g1 = faulty.chunks["foot_left"].gyr_dps
    # 5 % high on y, then rounded to 0.5 °/s steps.
    assert np.allclose(g1[:, 1], np.round(g0[:, 1] * 1.05 / 0.5) * 0.5)
    assert np.allclose(np.mod(g1 / 0.5, 1.0), 0.0)
    a1 = faulty.chunks["foot_left"].acc_m_s2
    assert a1.max() == pytest.approx(8.0)  # gravity (9.81) on z clips at the 8 m/s² range
    assert np.array_equal(clean.chunks["shin_left"].acc_m_s2, faulty.chunks["shin_left"].acc_m_s2)


def test_device_quaternions() -> None:
    """Quaternions rotate the sensor's readings into a z-up frame; relative orientation
    from two quaternions gives the truth when both devices share a heading."""
    clean = simulate("stretch-knee-in", seed=0, quaternions=True)
    shin, foot = clean.chunks["shin_left"], clean.chunks["foot_left"]
    assert clean.sensor("shin_left").has_quaternion
    qs = Rotation.from_quat(shin.quat_wxyz, scalar_first=True)
    qf = Rotation.from_quat(foot.quat_wxyz, scalar_first=True)
    sag = -(qs.inv() * qf).as_euler("YXZ", degrees=True)[:, 0]
    truth = clean.references["truth_ankle_sagittal_deg"].values
    assert np.allclose(sag, truth, atol=1e-9)
    # With realistic faults each device has its own heading; "up" stays up.
    faults = SensorFaults.realistic(3)
    s = simulate("stretch-knee-in", seed=0, quaternions=True, sensor_faults=faults)
    for chunk in s.chunks.values():
        q = Rotation.from_quat(chunk.quat_wxyz, scalar_first=True)
        still = chunk.t_s < 2.5
        up = q[np.flatnonzero(still)].apply(chunk.acc_m_s2[still])
        assert np.allclose(up.mean(0), [0.0, 0.0, GRAVITY_M_S2], atol=0.3)
        assert np.all(chunk.quat_wxyz[:, 0] >= 0.0)
    assert not clean.sensor("foot_left").has_quaternion or foot.quat_wxyz is not None
    assert simulate("stretch-knee-in", seed=0, duration_s=5.0).chunks["shin_left"].quat_wxyz is None


def test_realistic_draws_are_stable_for_a_seed() -> None:
    """Golden values: other tests and bundled recordings rely on realistic(0) staying put;
    new fault fields must draw after the existing ones."""
    f = SensorFaults.realistic(0)
    assert f.shin.gyro_bias_dps == pytest.approx(
        (0.06286511054669665, -0.06605243164565094, 0.32021132522164103), abs=1e-12
    )
    assert f.shin.mounting_rotvec_deg == pytest.approx(
        (4.921882341110509, -3.247279836262892, 0.0653887691810253), abs=1e-9
    )
    assert f.foot.clock_skew_ppm == pytest.approx(-33.259733674330676, abs=1e-9)
