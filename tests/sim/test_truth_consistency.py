"""The simulator's truth agrees with its own sensor signals (the physics test)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from companion.model import GRAVITY_M_S2
from companion.sim import SensorErrors, SensorFaults, simulate
from tests.sim._helpers import integrate_body_rates, sagittal_from


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize(
    "scenario", ["calf-raises", "tibialis-raises", "stretch-knee-in", "walking", "calf-raises-step"]
)
def test_integrated_gyros_recover_truth_ankle_angle(scenario: str) -> None:
    session = simulate(scenario, seed=3, duration_s=60.0)
    shin, foot = session.chunks["shin_left"], session.chunks["foot_left"]
    assert np.array_equal(shin.t_s, foot.t_s)
    # Noise-free sensors start at neutral standing: both segment frames = world.
    r_shin = integrate_body_rates(shin.t_s, shin.gyr_dps, Rotation.identity())
    r_foot = integrate_body_rates(foot.t_s, foot.gyr_dps, Rotation.identity())
    truth = session.references["truth_ankle_sagittal_deg"].values
    assert np.ptp(truth) > 15.0  # the minute holds real movement
    assert _rmse(sagittal_from(r_shin, r_foot), truth) < 0.5


def test_accelerometers_read_gravity_at_rest() -> None:
    session = simulate("calf-raises", seed=1, duration_s=30.0)
    still = [a for a in session.annotations if a["kind"] == "truth.still"]
    assert still
    assert still[0]["calibration"]
    for chunk in session.chunks.values():
        at_rest = (chunk.t_s >= still[0]["t_start_s"]) & (chunk.t_s < still[0]["t_end_s"] - 0.01)
        norm = np.linalg.norm(chunk.acc_m_s2[at_rest], axis=1)
        assert np.allclose(norm, GRAVITY_M_S2, atol=1e-6)
        # Neutral standing with ideal mounting: gravity on +z, no rotation.
        assert np.allclose(chunk.acc_m_s2[at_rest], [0.0, 0.0, GRAVITY_M_S2], atol=1e-6)
        assert np.allclose(chunk.gyr_dps[at_rest], 0.0, atol=1e-6)


def test_accelerometer_tilt_matches_truth_when_quasi_static() -> None:
    """Held stretch: the shin's gravity vector shows its forward inclination."""
    session = simulate("stretch-straight", seed=0)
    hold = next(a for a in session.annotations if a["kind"] == "truth.hold")
    shin = session.chunks["shin_left"]
    inside = (shin.t_s > hold["t_start_s"] + 1.0) & (shin.t_s < hold["t_end_s"] - 1.0)
    acc = shin.acc_m_s2[inside]
    # The shin leans toward +x, so "up" appears toward −x in its frame.
    tilt = np.degrees(np.arctan2(-acc[:, 0], acc[:, 2]))
    ref = session.references["truth_shin_inclination_deg"].values[inside]
    assert np.max(np.abs(tilt - ref)) < 0.5


def test_calf_raise_lifts_the_ankle_and_toe_raise_keeps_the_heel_down() -> None:
    """Foot about the MTP in a calf raise: the shin sensor rises; a toe raise keeps it level."""
    from companion.sim.scenario import Scenario, compile_scenario

    for name, expect_rise in (("calf-raises", True), ("tibialis-raises", False)):
        motion, ann = compile_scenario(
            Scenario.builtin(name), side_sign=1.0, rng=np.random.default_rng(0)
        )
        rep = next(a for a in ann if a["kind"] == "truth.rep")
        t = np.array([rep["t_start_s"], 0.5 * (rep["t_rise_end_s"] + rep["t_hold_end_s"])])
        pose = motion.pose(t)
        dz = pose.ankle_m[1, 2] - pose.ankle_m[0, 2]
        if expect_rise:
            assert dz > 0.05  # ankle rises by several cm (MTP 15 cm ahead, ~40° heel-up)
        else:
            assert abs(dz) < 0.005


def test_misalignment_changes_sensor_signals_but_not_truth() -> None:
    mount = (20.0, -35.0, 160.0)
    faults = SensorFaults(shin=SensorErrors(mounting_rotvec_deg=mount))
    clean = simulate("stretch-straight", seed=2, duration_s=40.0)
    tilted = simulate("stretch-straight", seed=2, duration_s=40.0, sensor_faults=faults)
    for name, ref in clean.references.items():
        assert np.array_equal(ref.values, tilted.references[name].values)
    a, b = clean.chunks["shin_left"], tilted.chunks["shin_left"]
    assert np.max(np.abs(a.acc_m_s2 - b.acc_m_s2)) > 1.0
    # The same physical vectors, only expressed in the rotated sensor frame.
    r = Rotation.from_rotvec(np.radians(mount))
    assert np.allclose(r.apply(b.acc_m_s2), a.acc_m_s2, atol=1e-9)
    assert np.allclose(r.apply(b.gyr_dps), a.gyr_dps, atol=1e-9)
    assert np.array_equal(clean.chunks["foot_left"].gyr_dps, tilted.chunks["foot_left"].gyr_dps)
    # Undoing the known mounting, integration recovers the same relative rotation.
    r_shin = integrate_body_rates(b.t_s, r.apply(b.gyr_dps), Rotation.identity())
    foot = tilted.chunks["foot_left"]
    r_foot = integrate_body_rates(foot.t_s, foot.gyr_dps, Rotation.identity())
    truth = tilted.references["truth_ankle_sagittal_deg"].values
    assert _rmse(sagittal_from(r_shin, r_foot), truth) < 0.5


def test_right_leg_mirrors_frontal_angles_only() -> None:
    left = simulate("stretch-knee-in", seed=4)
    right = simulate("stretch-knee-in", seed=4, side="right")
    assert set(right.chunks) == {"shin_right", "foot_right"}
    for name in ("truth_ankle_sagittal_deg", "truth_shin_inclination_deg"):
        assert np.allclose(left.references[name].values, right.references[name].values)
    for name in ("truth_knee_tracking_deg", "truth_ankle_frontal_deg"):
        assert np.allclose(left.references[name].values, right.references[name].values)
    hold = next(a for a in right.annotations if a["kind"] == "truth.hold")
    assert hold["knee_in"]
    assert hold["knee_tracking_deg"] < -6.0
    # Knee caving: the left shin tilts toward −y (medial), the right toward +y.
    inside = right.references["truth_knee_tracking_deg"].values < -6.0
    lg = left.chunks["shin_left"].acc_m_s2[inside]
    rg = right.chunks["shin_right"].acc_m_s2[inside]
    # Left shin tilted toward −y: "up" appears toward +y in its frame (and vice versa).
    assert np.all(lg[:, 1] > 0.5)
    assert np.all(rg[:, 1] < -0.5)


def test_accelerometer_double_integrates_to_the_calf_raise_lift() -> None:
    """Specific force → world (via integrated gyros) − gravity, integrated twice over one
    rep's rise, gives the shin sensor's lift computed by hand from the foot geometry."""
    from scipy.integrate import cumulative_trapezoid

    session = simulate("calf-raises", seed=0, duration_s=25.0, sampling_rate_hz=400.0)
    rep = next(a for a in session.annotations if a["kind"] == "truth.rep")
    shin = session.chunks["shin_left"]
    r_shin = integrate_body_rates(shin.t_s, shin.gyr_dps, Rotation.identity())
    sel = (shin.t_s >= rep["t_start_s"] - 0.2) & (shin.t_s <= rep["t_rise_end_s"] + 0.2)
    t = shin.t_s[sel]
    acc_world = r_shin[np.flatnonzero(sel)].apply(shin.acc_m_s2[sel]) - [0, 0, GRAVITY_M_S2]
    vel = cumulative_trapezoid(acc_world, t, axis=0, initial=0.0)
    pos = cumulative_trapezoid(vel, t, axis=0, initial=0.0)
    assert np.allclose(vel[-1], 0.0, atol=2e-3)  # at rest again on the top plateau
    # By hand: ankle angle a, foot pitch (1 + 0.12)·|a| about the MTP (0.15 m ahead, 0.08 m
    # below the ankle), shin tilted 0.12·|a|, sensor 0.20 m up and 0.04 m in front.
    a = np.radians(-rep["peak_angle_deg"])
    pf, ps = 1.12 * a, 0.12 * a
    ankle_x = 0.15 - (0.15 * np.cos(pf) - 0.08 * np.sin(pf))
    ankle_z = -0.08 - (-0.15 * np.sin(pf) - 0.08 * np.cos(pf))
    sensor_x = ankle_x + 0.04 * np.cos(ps) + 0.20 * np.sin(ps) - 0.04
    sensor_z = ankle_z - 0.04 * np.sin(ps) + 0.20 * np.cos(ps) - 0.20
    assert sensor_z > 0.07  # the shin rises with the ankle by several centimetres
    assert pos[-1, 0] == pytest.approx(sensor_x, abs=2e-3)
    assert pos[-1, 2] == pytest.approx(sensor_z, abs=2e-3)
    # Sideways only the few millimetres of the heel's inversion (rolling on the forefoot).
    assert abs(pos[-1, 1]) < 0.01
