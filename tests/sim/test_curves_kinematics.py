"""Building blocks: C2 curves, frames and signs against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.model import GRAVITY_M_S2
from companion.sim.curves import HermiteTrack, min_jerk
from companion.sim.kinematics import Body, Motion, ideal_imu, truth_angles


@settings(max_examples=30, deadline=None)
@given(
    gaps=st.lists(st.floats(0.05, 5.0), min_size=1, max_size=6),
    values=st.lists(st.floats(-60.0, 60.0), min_size=7, max_size=7),
    vels=st.lists(st.floats(-200.0, 200.0), min_size=7, max_size=7),
)
def test_hermite_track_passes_keyframes_and_is_c2(gaps, values, vels) -> None:
    t = np.concatenate([[0.0], np.cumsum(gaps)])
    k = t.shape[0]
    v = np.array(values[:k])
    d = np.array(vels[:k])
    track = HermiteTrack(t, v, d)
    assert np.allclose(track(t)[:, 0], v)
    h = 1e-5
    for i, ti in enumerate(t[1:-1], start=1):
        # Velocity matches the keyframe's from both sides, acceleration is zero on both.
        left = (track(np.array([ti]))[0, 0] - track(np.array([ti - h]))[0, 0]) / h
        right = (track(np.array([ti + h]))[0, 0] - track(np.array([ti]))[0, 0]) / h
        assert left == pytest.approx(d[i], abs=1e-2 * (1 + abs(d[i])) + 2e-3 / min(gaps))
        assert right == pytest.approx(d[i], abs=1e-2 * (1 + abs(d[i])) + 2e-3 / min(gaps))
    # Outside the keyframes the curve holds.
    assert track(np.array([-1.0]))[0, 0] == v[0]
    assert track(np.array([t[-1] + 1.0]))[0, 0] == v[-1]


def test_min_jerk_golden_values() -> None:
    assert min_jerk(np.array([0.0, 0.5, 1.0])) == pytest.approx([0.0, 0.5, 1.0])
    assert min_jerk(np.array([0.25]))[0] == pytest.approx(0.103515625)  # 10/64 − 15/256 + 6/1024


def _motion(dofs: dict[int, tuple[float, float, float]], side_sign: float = 1.0) -> Motion:
    """One minimum-jerk move per DOF index: (t0, t1, target_deg)."""
    t0, t1 = 1.0, 2.0
    target = np.zeros(4)
    for idx, (_, _, value) in dofs.items():
        target[idx] = value
    track = HermiteTrack(
        np.array([0.0, t0, t1, 3.0]), np.array([np.zeros(4), np.zeros(4), target, target])
    )
    return Motion(track=track, body=Body(), side_sign=side_sign, duration_s=3.0)


def test_pure_foot_pitch_golden() -> None:
    """Heel up 30° about the MTP over 1 s: foot gyro +y = analytic min-jerk rate."""
    motion = _motion({0: (1.0, 2.0, 30.0)})
    t = np.linspace(0.9, 2.1, 121)
    _, gyr = ideal_imu(motion, t, "foot")
    tau = np.clip(t - 1.0, 0.0, 1.0)
    rate = 30.0 * 30.0 * tau**2 * (1.0 - tau) ** 2  # d/dt of 30·minjerk(τ), T = 1 s
    assert np.allclose(gyr[:, 1], rate, atol=1e-4)
    assert np.allclose(gyr[:, [0, 2]], 0.0, atol=1e-9)
    truth = truth_angles(motion.pose(np.array([2.5])), 1.0)
    assert truth["truth_ankle_sagittal_deg"][0] == pytest.approx(-30.0)  # plantarflexion
    assert truth["truth_shin_inclination_deg"][0] == pytest.approx(0.0)
    # At rest on the toes: gravity tilted by 30° in the foot frame (toes down → +x up).
    acc_end, _ = ideal_imu(motion, np.array([2.5]), "foot")
    th = np.radians(30.0)
    assert acc_end[0] == pytest.approx([-GRAVITY_M_S2 * np.sin(th), 0.0, GRAVITY_M_S2 * np.cos(th)])
    # The ankle rose: MTP (0.15, −0.08) fixed on the floor.
    ankle = motion.pose(np.array([2.5])).ankle_m[0]
    assert ankle[2] == pytest.approx(-0.08 + 0.15 * np.sin(th) + 0.08 * np.cos(th))


def test_pure_shin_tilt_golden_both_sides() -> None:
    """Shin forward 20° and knee 5° lateral over a flat foot, left and right."""
    for m in (1.0, -1.0):
        motion = _motion({2: (1.0, 2.0, 20.0), 3: (1.0, 2.0, 5.0)}, side_sign=m)
        truth = truth_angles(motion.pose(np.array([2.5])), m)
        assert truth["truth_shin_inclination_deg"][0] == pytest.approx(20.0, abs=1e-9)
        assert truth["truth_knee_tracking_deg"][0] == pytest.approx(5.0, abs=1e-9)
        assert truth["truth_ankle_sagittal_deg"][0] == pytest.approx(20.0, abs=0.2)
        # A knee moved laterally over a flat foot is eversion relative to the shin.
        assert truth["truth_ankle_frontal_deg"][0] < -4.0
        acc, gyr = ideal_imu(motion, np.array([2.5]), "shin")
        # "Up" in the shin frame leans backward (−x) and toward the medial side (−m·y).
        assert acc[0, 0] < -3.0
        assert np.sign(acc[0, 1]) == -m
        assert np.allclose(gyr, 0.0, atol=1e-9)
        # The foot did not move.
        acc_f, gyr_f = ideal_imu(motion, np.array([1.5]), "foot")
        assert np.allclose(acc_f, [[0.0, 0.0, GRAVITY_M_S2]], atol=1e-9)
        assert np.allclose(gyr_f, 0.0, atol=1e-9)
