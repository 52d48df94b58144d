"""One simulated sensor: ideal signals of its segment plus its errors, sample range by range.

:class:`SensorSynth` keeps every random stream and every piece of state (bias random walk,
a dropout burst running past the end of a range) between calls, so generating samples
``[0, n)`` at once or in any number of consecutive ranges gives identical numbers. That is
what lets the streaming source (:mod:`companion.sim.stream`) and :func:`simulate` agree
sample for sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from companion.sim.faults import SensorErrors
from companion.sim.kinematics import Motion, ideal_imu

__all__ = ["SensorBlock", "SensorSynth"]


@dataclass(frozen=True, slots=True)
class SensorBlock:
    """Samples ``counter`` (sample indices) of one sensor; ``keep`` marks those delivered."""

    t_s: np.ndarray
    acc_m_s2: np.ndarray
    gyr_dps: np.ndarray
    counter: np.ndarray
    keep: np.ndarray
    quat_wxyz: np.ndarray | None = None


def _digitise(x: np.ndarray, full_scale: float, lsb: float) -> np.ndarray:
    """Clip to ±full_scale and round to the resolution (each only when > 0)."""
    if lsb > 0.0:
        x = np.round(x / lsb) * lsb
    if full_scale > 0.0:
        x = np.clip(x, -full_scale, full_scale)
    return x


class SensorSynth:
    """Generates one sensor's samples for consecutive index ranges."""

    def __init__(
        self,
        segment: str,
        errors: SensorErrors,
        sampling_rate_hz: float,
        seed_sequence: np.random.SeedSequence,
        *,
        quaternions: bool = False,
    ) -> None:
        self.segment = segment
        self.quaternions = quaternions
        self.errors = errors
        self.sampling_rate_hz = float(sampling_rate_hz)
        # One generator per purpose, so a range's draws never depend on how the samples
        # were split into ranges.
        (
            self._rng_jitter,
            self._rng_drift,
            self._rng_gyr,
            self._rng_acc,
            self._rng_drop_start,
            self._rng_drop_length,
        ) = (np.random.default_rng(s) for s in seed_sequence.spawn(6))
        self._mount_inv = errors.mounting.inv()
        self._drift_dps = np.zeros(3)
        self._dropping_until = 0  # first index after a dropout burst that is still running
        self.next_index = 0

    def generate(self, motion: Motion, n: int) -> SensorBlock:
        """The next ``n`` samples."""
        e = self.errors
        k0 = self.next_index
        if n <= 0:
            empty = np.zeros((0, 3))
            return SensorBlock(
                t_s=np.zeros(0),
                acc_m_s2=empty,
                gyr_dps=empty.copy(),
                counter=np.zeros(0, dtype=np.int64),
                keep=np.zeros(0, dtype=bool),
                quat_wxyz=np.zeros((0, 4)) if self.quaternions else None,
            )
        self.next_index += n
        counter = np.arange(k0, k0 + n, dtype=np.int64)
        t_nom = counter / self.sampling_rate_hz
        t_true = t_nom * (1.0 + e.clock_skew_ppm * 1e-6) + e.clock_offset_s
        if e.jitter_s > 0.0:
            t_true = t_true + self._rng_jitter.normal(0.0, e.jitter_s, n)
        acc_seg, gyr_seg = ideal_imu(motion, t_true, self.segment)
        acc = self._mount_inv.apply(acc_seg) * (1.0 + np.asarray(e.acc_scale_error))
        gyr = self._mount_inv.apply(gyr_seg) * (1.0 + np.asarray(e.gyro_scale_error))
        acc = acc + np.asarray(e.acc_bias_m_s2)
        gyr = gyr + np.asarray(e.gyro_bias_dps)
        if e.gyro_bias_drift_dps_per_sqrt_s > 0.0:
            sd = e.gyro_bias_drift_dps_per_sqrt_s * math.sqrt(1.0 / self.sampling_rate_hz)
            steps = self._rng_drift.normal(0.0, sd, (n, 3))
            if k0 == 0:
                steps[0] = 0.0  # the bias starts at its constant value
            walk = np.cumsum(np.vstack([self._drift_dps, steps]), axis=0)[1:]
            self._drift_dps = walk[-1].copy()
            gyr = gyr + walk
        bandwidth = math.sqrt(self.sampling_rate_hz / 2.0)
        if e.gyro_noise_dps_per_sqrt_hz > 0.0:
            gyr = gyr + self._rng_gyr.normal(0.0, e.gyro_noise_dps_per_sqrt_hz * bandwidth, (n, 3))
        if e.acc_noise_m_s2_per_sqrt_hz > 0.0:
            acc = acc + self._rng_acc.normal(0.0, e.acc_noise_m_s2_per_sqrt_hz * bandwidth, (n, 3))
        acc = _digitise(acc, e.acc_range_m_s2, e.acc_lsb_m_s2)
        gyr = _digitise(gyr, e.gyro_range_dps, e.gyro_lsb_dps)
        keep = np.ones(n, dtype=bool)
        if self._dropping_until > k0:
            keep[: self._dropping_until - k0] = False
        if e.drop_probability > 0.0:
            starts = np.flatnonzero(self._rng_drop_start.random(n) < e.drop_probability)
            p_end = 1.0 / e.drop_burst_mean_samples
            for s in starts:
                length = int(self._rng_drop_length.geometric(p_end))
                keep[s : s + length] = False
                self._dropping_until = max(self._dropping_until, k0 + int(s) + length)
        if k0 == 0 and n:
            keep[0] = True  # a recording starts with a sample
        quat = None
        if self.quaternions:
            # The device's orientation estimate: sensor → its own earth frame (z up, heading
            # wherever it started, slowly drifting). Tilt is taken as exact.
            pose = motion.pose(t_true)
            segment = pose.shin if self.segment == "shin" else pose.foot
            heading_deg = e.heading_offset_deg + e.heading_drift_dps * t_true
            heading = Rotation.from_euler("z", heading_deg[:, None], degrees=True)
            xyzw = (heading * segment * self._mount_inv.inv()).as_quat()
            quat = np.column_stack([xyzw[:, 3], xyzw[:, :3]])
            quat[quat[:, 0] < 0.0] *= -1.0  # one hemisphere: w >= 0
        return SensorBlock(
            t_s=t_nom, acc_m_s2=acc, gyr_dps=gyr, counter=counter, keep=keep, quat_wxyz=quat
        )
