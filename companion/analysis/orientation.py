"""Per-sensor orientation: imufusion's AHRS behind one adapter.

Only the direction of *up* in the sensor frame is used downstream: it is
gravity-referenced and therefore drift-free without a magnetometer, whereas the heading of
a 6-axis filter drifts. The gyroscope, with imufusion's offset estimator applied, is kept
for calibration and velocities.

imufusion 1.3.3 API (get/set methods, accelerometer in g, gyroscope in deg/s) is used
here and nowhere else.
"""

from __future__ import annotations

import math

import imufusion
import numpy as np

from companion.analysis.settings import AnalysisSettings
from companion.model import GRAVITY_M_S2, ImuChunk

__all__ = ["OrientationTracker", "up_from_quaternion"]


def up_from_quaternion(q_wxyz: np.ndarray) -> np.ndarray:
    """Unit "up" (earth +z) expressed in the sensor frame for sensor→earth quaternions.

    ``q_wxyz`` is (n, 4) scalar first; returns (n, 3). The earth frame must have z up
    (NWU/ENU), as every supported device family streams.
    """
    q = np.asarray(q_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    # Third row of the rotation matrix R(q) (sensor -> earth): R^T e_z.
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1)


class OrientationTracker:
    """Streaming AHRS for one sensor.

    Parameters
    ----------
    settings
        Analysis settings (the ``ahrs_*`` and ``bias_*`` fields).
    sampling_rate_hz
        Nominal rate, used to configure imufusion; the measured sample period is fed per
        sample.

    ``update(chunk)`` returns, per sample, ``t_s`` (n,), ``up`` (n, 3) unit up vector in the
    sensor frame, ``gyr_dps`` (n, 3) offset-corrected angular velocity and ``acc_m_s2``.
    Rows with non-finite input are dropped (they are gaps, not data).
    """

    def __init__(self, settings: AnalysisSettings, sampling_rate_hz: float) -> None:
        self._settings = settings
        self._rate_hz = float(sampling_rate_hz)
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(
            imufusion.AhrsSettings(
                sample_rate=self._rate_hz,
                convention=imufusion.CONVENTION_NWU,
                gain=settings.ahrs_gain,
                gyroscope_range=settings.gyroscope_range_dps,
                acceleration_rejection=settings.ahrs_acceleration_rejection_deg,
                magnetic_rejection=0.0,
                rejection_timeout=settings.ahrs_rejection_timeout_s,
            )
        )
        self._bias = imufusion.Bias()
        self._bias.set_settings(
            imufusion.BiasSettings(
                sample_rate=self._rate_hz,
                stationary_threshold=settings.bias_stationary_threshold_dps,
                stationary_period=settings.bias_stationary_period_s,
            )
        )
        self._t_last_s: float | None = None

    def update(self, chunk: ImuChunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = chunk.t_s
        acc = chunk.acc_m_s2
        gyr = chunk.gyr_dps
        ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        quat = chunk.quat_wxyz
        if quat is not None:
            ok &= np.isfinite(quat).all(axis=1) & (np.abs(quat).sum(axis=1) > 0)
        if self._t_last_s is not None:
            ok &= t > self._t_last_s
        if not ok.all():
            t, acc, gyr = t[ok], acc[ok], gyr[ok]
            quat = None if quat is None else quat[ok]
        n = t.shape[0]
        up = np.empty((n, 3))
        gyr_out = np.empty((n, 3))
        if n == 0:
            return t, up, gyr_out, acc
        acc_g = acc / GRAVITY_M_S2
        nominal = 1.0 / self._rate_hz
        max_dt = self._settings.max_sample_period_s
        ahrs, bias = self._ahrs, self._bias
        t_list = t.tolist()
        t_prev = self._t_last_s
        for i in range(n):
            ti = t_list[i]
            dt = nominal if t_prev is None else min(ti - t_prev, max_dt)
            t_prev = ti
            g = bias.update(gyr[i])
            gyr_out[i] = g
            if quat is None:
                ahrs.set_sample_period(dt)
                ahrs.update_no_magnetometer(g, acc_g[i])
                up[i] = ahrs.get_gravity()
        self._t_last_s = t_prev
        if quat is not None:
            up = up_from_quaternion(quat)
        norm = np.linalg.norm(up, axis=1, keepdims=True)
        up = up / np.where(norm > 0, norm, 1.0)
        if not math.isfinite(float(up.sum())):
            up = np.nan_to_num(up)
        return t, up, gyr_out, acc
