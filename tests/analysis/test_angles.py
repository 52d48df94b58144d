"""Sign conventions with synthetic rotations about known axes (scipy Rotation)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from companion.analysis import Calibration, angles_from_up

UP = np.array([0.0, 0.0, 1.0])


def _up_in_sensor(r_segment: Rotation, r_mount: Rotation) -> np.ndarray:
    """World up seen by a sensor on a segment (sensor = segment · mount)."""
    return (r_segment * r_mount).inv().apply(UP)[None, :]


def _cal(side: str, ms: Rotation, mf: Rotation) -> Calibration:
    # Segment axes in sensor coordinates: mount^T applied to the segment's unit vectors.
    return Calibration.from_mounting(
        side=side, r_shin_mount=ms.as_matrix(), r_foot_mount=mf.as_matrix()
    )


IDENT = Rotation.identity()


@pytest.mark.parametrize("side", ["left", "right"])
def test_shin_forward_tilt_is_dorsiflexion(side: str) -> None:
    shin = Rotation.from_euler("y", 12.0, degrees=True)  # knee forward
    a = angles_from_up(
        _up_in_sensor(shin, IDENT), _up_in_sensor(IDENT, IDENT), _cal(side, IDENT, IDENT)
    )
    assert a["shin_inclination_deg"][0] == pytest.approx(12.0, abs=1e-9)
    assert a["ankle_sagittal_deg"][0] == pytest.approx(12.0, abs=1e-9)


@pytest.mark.parametrize("side", ["left", "right"])
def test_heel_lift_is_plantarflexion(side: str) -> None:
    foot = Rotation.from_euler("y", 25.0, degrees=True)  # heel up, toes down
    a = angles_from_up(
        _up_in_sensor(IDENT, IDENT), _up_in_sensor(foot, IDENT), _cal(side, IDENT, IDENT)
    )
    assert a["foot_pitch_deg"][0] == pytest.approx(25.0, abs=1e-9)
    assert a["ankle_sagittal_deg"][0] == pytest.approx(-25.0, abs=1e-9)


@pytest.mark.parametrize(("side", "m"), [("left", 1.0), ("right", -1.0)])
def test_knee_lateral_is_positive_and_mirrored(side: str, m: float) -> None:
    # Lateral is +y (left) for a left leg, −y for a right leg; Rx(−m·β) tilts the top laterally.
    shin = Rotation.from_euler("x", -m * 7.0, degrees=True)
    a = angles_from_up(
        _up_in_sensor(shin, IDENT), _up_in_sensor(IDENT, IDENT), _cal(side, IDENT, IDENT)
    )
    assert a["knee_tracking_deg"][0] == pytest.approx(7.0, abs=1e-9)
    assert a["ankle_frontal_deg"][0] == pytest.approx(-7.0, abs=1e-9)


@pytest.mark.parametrize(("side", "m"), [("left", 1.0), ("right", -1.0)])
def test_inversion_is_positive(side: str, m: float) -> None:
    # Inversion: the sole faces medially, the foot's top tilts laterally.
    foot = Rotation.from_euler("x", -m * 6.0, degrees=True)
    a = angles_from_up(
        _up_in_sensor(IDENT, IDENT), _up_in_sensor(foot, IDENT), _cal(side, IDENT, IDENT)
    )
    assert a["ankle_frontal_deg"][0] == pytest.approx(6.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-180, 180), min_size=6, max_size=6),
    st.floats(-40, 30),
    st.floats(-30, 45),
)
def test_angles_invariant_to_arbitrary_mounting(
    rv: list[float], foot_deg: float, shin_deg: float
) -> None:
    ms = Rotation.from_rotvec(rv[:3], degrees=True)
    mf = Rotation.from_rotvec(rv[3:], degrees=True)
    shin = Rotation.from_euler("y", shin_deg, degrees=True)
    foot = Rotation.from_euler("y", foot_deg, degrees=True)
    a = angles_from_up(_up_in_sensor(shin, ms), _up_in_sensor(foot, mf), _cal("left", ms, mf))
    assert a["ankle_sagittal_deg"][0] == pytest.approx(shin_deg - foot_deg, abs=1e-6)
