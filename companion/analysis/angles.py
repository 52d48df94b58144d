"""Angles of the shin–foot chain from the two sensors' "up" vectors.

Each segment's inclination is read from the direction of gravity in its calibrated body
frame (x anterior, y left, z up at neutral), which the AHRS keeps drift-free without a
magnetometer. With ``u = M·up_sensor`` (``M`` = :meth:`Calibration.body_matrix`):

* shin inclination (forward tilt +)      ``θ_S = atan2(−u_S.x, u_S.z)``
* foot pitch (heel up +)                 ``φ_F = atan2(−u_F.x, u_F.z)``
* sagittal ankle angle (dorsiflexion +)  ``θ_S − φ_F``
* lateral tilt of a segment (+ lateral)  ``λ = −m·atan2(u.y, u.z)``, ``m`` = +1 left, −1 right
* knee tracking (+ knee over the outside of the foot)  ``λ_S``
* frontal ankle angle (inversion +)      ``λ_F − λ_S``
"""

from __future__ import annotations

import math

import numpy as np

from companion.analysis.calibration import Calibration

__all__ = ["AngleComputer", "angles_from_up", "gyro_sagittal_angle"]


class AngleComputer:
    """Scalar per-sample angle computation for one calibration (fast, chunk-invariant)."""

    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration
        self._ms = tuple(map(tuple, calibration.body_matrix("shin").tolist()))
        self._mf = tuple(map(tuple, calibration.body_matrix("foot").tolist()))
        self._m = calibration.lateral_sign
        self._mls = calibration.ml_shin
        self._mlf = calibration.ml_foot

    def angles(
        self, up_s: tuple[float, ...], up_f: tuple[float, ...]
    ) -> tuple[float, float, float, float, float]:
        """Return (ankle_sagittal, ankle_frontal, shin_inclination, foot_pitch,
        knee_tracking), all deg."""
        (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = self._ms
        x, y, z = up_s
        sx = a0 * x + a1 * y + a2 * z
        sy = b0 * x + b1 * y + b2 * z
        sz = c0 * x + c1 * y + c2 * z
        (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = self._mf
        x, y, z = up_f
        fx = a0 * x + a1 * y + a2 * z
        fy = b0 * x + b1 * y + b2 * z
        fz = c0 * x + c1 * y + c2 * z
        shin = math.degrees(math.atan2(-sx, sz))
        foot = math.degrees(math.atan2(-fx, fz))
        lat_s = -self._m * math.degrees(math.atan2(sy, sz))
        lat_f = -self._m * math.degrees(math.atan2(fy, fz))
        return shin - foot, lat_f - lat_s, shin, foot, lat_s

    def sagittal_rate(self, gyr_s: tuple[float, ...], gyr_f: tuple[float, ...]) -> float:
        """Rate of the sagittal ankle angle from the gyroscopes, deg/s (dorsiflexion +)."""
        a = self._mls
        b = self._mlf
        return (a[0] * gyr_s[0] + a[1] * gyr_s[1] + a[2] * gyr_s[2]) - (
            b[0] * gyr_f[0] + b[1] * gyr_f[1] + b[2] * gyr_f[2]
        )

    def angles_arrays(
        self, up_s: list[np.ndarray], up_f: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`angles` for column arrays (``up_s = [x, y, z]``, 1-D, contiguous): the
        same element-wise arithmetic whatever the array length, so streamed and batch
        results agree to the last bit."""
        (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = self._ms
        x, y, z = up_s
        sx = a0 * x + a1 * y + a2 * z
        sy = b0 * x + b1 * y + b2 * z
        sz = c0 * x + c1 * y + c2 * z
        (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = self._mf
        x, y, z = up_f
        fx = a0 * x + a1 * y + a2 * z
        fy = b0 * x + b1 * y + b2 * z
        fz = c0 * x + c1 * y + c2 * z
        shin = np.degrees(np.arctan2(-sx, sz))
        foot = np.degrees(np.arctan2(-fx, fz))
        lat_s = -self._m * np.degrees(np.arctan2(sy, sz))
        lat_f = -self._m * np.degrees(np.arctan2(fy, fz))
        return shin - foot, lat_f - lat_s, shin, foot, lat_s

    def sagittal_rate_arrays(self, gyr_s: list[np.ndarray], gyr_f: list[np.ndarray]) -> np.ndarray:
        """:meth:`sagittal_rate` for column arrays."""
        a = self._mls
        b = self._mlf
        return (a[0] * gyr_s[0] + a[1] * gyr_s[1] + a[2] * gyr_s[2]) - (
            b[0] * gyr_f[0] + b[1] * gyr_f[1] + b[2] * gyr_f[2]
        )


def angles_from_up(
    up_shin: np.ndarray, up_foot: np.ndarray, calibration: Calibration
) -> dict[str, np.ndarray]:
    """Vectorised form of :meth:`AngleComputer.angles` for (n, 3) arrays."""
    us = np.asarray(up_shin, dtype=np.float64) @ calibration.body_matrix("shin").T
    uf = np.asarray(up_foot, dtype=np.float64) @ calibration.body_matrix("foot").T
    m = calibration.lateral_sign
    shin = np.degrees(np.arctan2(-us[:, 0], us[:, 2]))
    foot = np.degrees(np.arctan2(-uf[:, 0], uf[:, 2]))
    lat_s = -m * np.degrees(np.arctan2(us[:, 1], us[:, 2]))
    lat_f = -m * np.degrees(np.arctan2(uf[:, 1], uf[:, 2]))
    return {
        "ankle_sagittal_deg": shin - foot,
        "ankle_frontal_deg": lat_f - lat_s,
        "shin_inclination_deg": shin,
        "foot_pitch_deg": foot,
        "knee_tracking_deg": lat_s,
    }


def gyro_sagittal_angle(
    t_s: np.ndarray,
    gyr_shin_dps: np.ndarray,
    gyr_foot_dps: np.ndarray,
    ml_shin: np.ndarray,
    ml_foot: np.ndarray,
    *,
    highpass_hz: float = 0.05,
) -> np.ndarray:
    """Sagittal ankle angle change from gyroscopes alone (no gravity needed), deg.

    Integrates the relative angular velocity about the medio-lateral axes (shin forward
    tilt minus heel lift) with a first-order leaky integrator (high-pass at
    ``highpass_hz``) that bounds gyroscope-offset drift. For recordings whose accelerometers
    cannot give inclination (gravity removed), e.g. ``ankle_encoder_shank_foot_mpu6050``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    rate = np.asarray(gyr_shin_dps) @ np.asarray(ml_shin) - np.asarray(gyr_foot_dps) @ np.asarray(
        ml_foot
    )
    rate = rate - np.median(rate)
    dt = np.diff(t, prepend=t[0])
    dt = np.clip(dt, 0.0, 0.1)
    out = np.empty_like(rate)
    acc = 0.0
    k = 2.0 * math.pi * highpass_hz
    for i in range(rate.size):
        acc = acc * math.exp(-k * dt[i]) + rate[i] * dt[i]
        out[i] = acc
    return out
