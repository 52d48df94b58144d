"""Helpers shared by the simulator tests (gyro integration, angle decomposition)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def integrate_body_rates(t_s: np.ndarray, gyr_dps: np.ndarray, start: Rotation) -> Rotation:
    """Orientation by integrating body angular rates (trapezoidal rate, exact exponential)."""
    w = np.radians(gyr_dps)
    dt = np.diff(t_s)[:, None]
    steps = Rotation.from_rotvec(0.5 * (w[:-1] + w[1:]) * dt)
    quats = np.empty((t_s.shape[0], 4))
    current = start
    quats[0] = current.as_quat()
    for k in range(steps.__len__()):
        current = current * steps[k]
        quats[k + 1] = current.as_quat()
    return Rotation.from_quat(quats)


def sagittal_from(shin: Rotation, foot: Rotation) -> np.ndarray:
    """Sagittal ankle angle (dorsiflexion +) from segment orientations (docs/simulator.md)."""
    return -(shin.inv() * foot).as_euler("YXZ", degrees=True)[:, 0]
