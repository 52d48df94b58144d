"""Sensor faults the simulator can inject: noise, biases, mounting, timing, drops.

:class:`SensorFaults` holds one :class:`SensorErrors` per segment. Everything is off in
:meth:`SensorFaults.none`; :meth:`SensorFaults.realistic` draws a plausible set for cheap
consumer IMUs (MPU-6050/BMI160 class) strapped on by a user, from a seed.

Timing model: every sensor stamps sample ``k`` with its own clock, ``t_s = k / rate``
(what the chunk holds), but actually samples the motion at
``k / rate · (1 + clock_skew_ppm·1e-6) + clock_offset_s + jitter_k``. The truth
references are the state at session time ``t_s``, so skew, offset and jitter show up as
the error they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["SensorErrors", "SensorFaults"]

Vec3 = tuple[float, float, float]
_ZERO3: Vec3 = (0.0, 0.0, 0.0)


def _vec3(name: str, value: Any) -> Vec3:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        msg = f"{name} must be three finite numbers, got {value!r}"
        raise ValueError(msg)
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorErrors:
    """The errors of one sensor. Every field's zero means "off"."""

    gyro_noise_dps_per_sqrt_hz: float = 0.0
    """White rate-noise density; per-sample σ = density·√(rate/2)."""
    acc_noise_m_s2_per_sqrt_hz: float = 0.0
    """White acceleration-noise density; per-sample σ = density·√(rate/2)."""
    gyro_bias_dps: Vec3 = _ZERO3
    """Constant gyroscope bias at t = 0, sensor frame."""
    gyro_bias_drift_dps_per_sqrt_s: float = 0.0
    """Random-walk intensity of the gyroscope bias (each axis)."""
    acc_bias_m_s2: Vec3 = _ZERO3
    """Constant accelerometer bias, sensor frame."""
    gyro_scale_error: Vec3 = _ZERO3
    """Relative sensitivity error per gyroscope axis (0.01 reads 1 % high)."""
    acc_scale_error: Vec3 = _ZERO3
    """Relative sensitivity error per accelerometer axis."""
    gyro_range_dps: float = 0.0
    """Full-scale range; readings beyond ±range clip (0: unlimited)."""
    acc_range_m_s2: float = 0.0
    """Full-scale range; readings beyond ±range clip (0: unlimited)."""
    gyro_lsb_dps: float = 0.0
    """Resolution: readings are rounded to multiples of this (0: continuous)."""
    acc_lsb_m_s2: float = 0.0
    """Resolution: readings are rounded to multiples of this (0: continuous)."""
    mounting_rotvec_deg: Vec3 = _ZERO3
    """Rotation of the sensor on its segment (segment ← sensor) as a rotation vector in
    degrees; any rotation, e.g. ``(0, 0, 180)`` for a sensor strapped on back to front."""
    heading_offset_deg: float = 0.0
    """Heading of the device's own earth frame (for streamed quaternions): a magnetometer-
    free sensor's "north" is wherever it started."""
    heading_drift_dps: float = 0.0
    """Drift of that heading (quaternions only), °/s."""
    clock_skew_ppm: float = 0.0
    """Rate error of the sensor's clock (its 1 s lasts 1 + skew·1e-6 s)."""
    clock_offset_s: float = 0.0
    """Constant offset of the sensor's clock against the session clock."""
    jitter_s: float = 0.0
    """Standard deviation of the actual sampling instant around the stamped one."""
    drop_probability: float = 0.0
    """Probability that a dropout burst starts at any given sample."""
    drop_burst_mean_samples: float = 1.0
    """Mean length of a dropout burst (geometric distribution), samples."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "gyro_bias_dps", _vec3("gyro_bias_dps", self.gyro_bias_dps))
        object.__setattr__(self, "acc_bias_m_s2", _vec3("acc_bias_m_s2", self.acc_bias_m_s2))
        for name in ("mounting_rotvec_deg", "gyro_scale_error", "acc_scale_error"):
            object.__setattr__(self, name, _vec3(name, getattr(self, name)))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and not math.isfinite(value):
                msg = f"{f.name} must be finite, got {value!r}"
                raise ValueError(msg)
        for name in (
            "gyro_noise_dps_per_sqrt_hz",
            "acc_noise_m_s2_per_sqrt_hz",
            "gyro_bias_drift_dps_per_sqrt_s",
            "jitter_s",
            "gyro_range_dps",
            "acc_range_m_s2",
            "gyro_lsb_dps",
            "acc_lsb_m_s2",
        ):
            if getattr(self, name) < 0.0:
                msg = f"{name} must not be negative, got {getattr(self, name)!r}"
                raise ValueError(msg)
        if not 0.0 <= self.drop_probability < 1.0:
            msg = f"drop_probability must be in [0, 1), got {self.drop_probability!r}"
            raise ValueError(msg)
        if self.drop_burst_mean_samples < 1.0:
            msg = f"drop_burst_mean_samples must be >= 1, got {self.drop_burst_mean_samples!r}"
            raise ValueError(msg)

    @property
    def mounting(self) -> Rotation:
        """Segment ← sensor rotation."""
        return Rotation.from_rotvec(np.radians(self.mounting_rotvec_deg))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else float(value)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorErrors:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            msg = f"unknown sensor-error keys {unknown}; valid keys: {sorted(names)}"
            raise ValueError(msg)
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            kwargs[key] = tuple(value) if isinstance(value, list | tuple) else float(value)
        return cls(**kwargs)


def _random_rotvec_deg(rng: np.random.Generator, tilt_sd_deg: float, yaw_range_deg: float) -> Vec3:
    """A mounting rotation: a random turn about the segment's long axis, then a small tilt."""
    yaw = Rotation.from_euler("z", rng.uniform(-yaw_range_deg, yaw_range_deg), degrees=True)
    tilt = Rotation.from_rotvec(np.radians(rng.normal(0.0, tilt_sd_deg, 3)))
    return _vec3("mounting", np.degrees((yaw * tilt).as_rotvec()))


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorFaults:
    """Errors of both sensors; ``shin`` and ``foot`` are :class:`SensorErrors`."""

    shin: SensorErrors = field(default_factory=SensorErrors)
    foot: SensorErrors = field(default_factory=SensorErrors)
    preset: str = "custom"
    """``none``, ``realistic`` or ``custom`` (informational, stored in the session)."""

    @classmethod
    def none(cls) -> SensorFaults:
        """Perfect sensors: no noise, no bias, aligned, perfect clocks, nothing dropped."""
        return cls(preset="none")

    @classmethod
    def realistic(cls, rng: np.random.Generator | int = 0) -> SensorFaults:
        """Plausible errors of consumer IMUs worn by a user, drawn from ``rng`` (or a seed).

        Per sensor: gyro noise 0.01 °/s/√Hz, accelerometer noise 300 µg/√Hz, gyro bias
        σ 0.5 °/s per axis with a random walk of 0.005 °/s/√s, accelerometer bias σ
        0.05 m/s², sensitivity errors σ 1 % (gyro) and 0.5 % (accelerometer) per axis,
        ±2000 °/s and ±16 g ranges at 16-bit resolution, mounting turned uniformly ±30°
        (shin) / ±10° (foot) about the segment's long axis (z) and tilted with σ 5°,
        device heading (quaternions) uniform ±180° drifting σ 0.02 °/s, clock skew σ
        50 ppm and offset ±5 ms, sampling jitter 0.5 ms, and dropout bursts
        (mean 4 samples) starting with probability 0.002 per sample.
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

        def base(long_axis_yaw_deg: float) -> dict[str, Any]:
            return {
                "gyro_noise_dps_per_sqrt_hz": 0.01,
                "acc_noise_m_s2_per_sqrt_hz": 300e-6 * 9.80665,
                "gyro_bias_dps": _vec3("gyro_bias_dps", gen.normal(0.0, 0.5, 3)),
                "gyro_bias_drift_dps_per_sqrt_s": 0.005,
                "acc_bias_m_s2": _vec3("acc_bias_m_s2", gen.normal(0.0, 0.05, 3)),
                "mounting_rotvec_deg": _random_rotvec_deg(gen, 5.0, long_axis_yaw_deg),
                "clock_skew_ppm": float(gen.normal(0.0, 50.0)),
                "clock_offset_s": float(gen.uniform(-0.005, 0.005)),
                "jitter_s": 0.0005,
                "drop_probability": 0.002,
                "drop_burst_mean_samples": 4.0,
            }

        def extra() -> dict[str, Any]:
            return {
                "gyro_scale_error": _vec3("gyro_scale_error", gen.normal(0.0, 0.01, 3)),
                "acc_scale_error": _vec3("acc_scale_error", gen.normal(0.0, 0.005, 3)),
                "gyro_range_dps": 2000.0,
                "acc_range_m_s2": 16.0 * 9.80665,
                "gyro_lsb_dps": 2000.0 / 32768.0,
                "acc_lsb_m_s2": 16.0 * 9.80665 / 32768.0,
                "heading_offset_deg": float(gen.uniform(-180.0, 180.0)),
                "heading_drift_dps": float(gen.normal(0.0, 0.02)),
            }

        # Draw order is part of the contract: fields added later draw after the older
        # ones, so a seed keeps giving the same biases, mountings and clocks.
        shin, foot = base(30.0), base(10.0)
        shin.update(extra())
        foot.update(extra())
        return cls(shin=SensorErrors(**shin), foot=SensorErrors(**foot), preset="realistic")

    def for_segment(self, segment: str) -> SensorErrors:
        if segment == "shin":
            return self.shin
        if segment == "foot":
            return self.foot
        msg = f"no sensor errors for segment {segment!r}; use 'shin' or 'foot'"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "shin": self.shin.to_dict(), "foot": self.foot.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorFaults:
        return cls(
            shin=SensorErrors.from_dict(d.get("shin", {})),
            foot=SensorErrors.from_dict(d.get("foot", {})),
            preset=str(d.get("preset", "custom")),
        )
