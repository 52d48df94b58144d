"""Forward kinematics of the shin–foot chain and the ideal IMU signals it produces.

Frames (see docs/simulator.md for the pictures in words):

* **World** ``W``: x forward (the way the person faces), y to the person's left, z up.
  Gravity is ``(0, 0, −g)``.
* **Segment frames** (foot ``F``, shin ``S``): at neutral standing (foot flat, shin
  vertical) both coincide with the world axes: x anterior, y left, z up (along the shin
  from ankle to knee for ``S``). The same axes are used for both legs; the side only
  flips the sign of the frontal-plane angles (``m = +1`` left, ``−1`` right; lateral is
  ``+m·y``).
* **Sensor frames**: ``R_sensor = R_segment · R_mount``; with no mounting error the sensor
  axes are the segment axes (reads ``acc = (0, 0, +9.81)`` standing still).

Degrees of freedom (world angles, deg, all C2 curves of time):

* ``foot_pitch``: heel-up rotation of the foot about y (+ heel up / toes down),
* ``foot_inversion``: rotation of the foot about its long axis (+ sole facing medially),
* ``shin_pitch``: forward tilt of the shin about y (+ knee forward),
* ``shin_lateral``: sideways tilt of the shin (+ knee lateral).

``R_F = Rz(ψ)·Ry(foot_pitch)·Rx(−m·foot_inversion)``, ``R_S = Rz(ψ)·Ry(shin_pitch)·Rx(−m·
shin_lateral)`` with ψ the toe-out angle (foot and shin share it).

The ankle joint centre follows a *rocker* foot: with the heel lifted the foot rotates
about the metatarsophalangeal (MTP) contact point (the ankle rises); with the toes
lifted it rotates about the ankle joint itself (the heel pad rolls in place, the ankle
stays put); the two are blended smoothly within ±4° of flat so the path is C2. On a step
edge the foot always pivots about the MTP point (the heel hangs free). Walking adds its
own forward progression, swing lift and heel-strike transients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from companion.model import GRAVITY_M_S2
from companion.sim.curves import HermiteTrack, min_jerk

__all__ = [
    "DOF_NAMES",
    "Body",
    "Motion",
    "Pose",
    "ideal_imu",
    "truth_angles",
]

DOF_NAMES: tuple[str, ...] = ("foot_pitch", "foot_inversion", "shin_pitch", "shin_lateral")

_ROCKER_BLEND_DEG = 4.0  # ankle/MTP pivot blend half-width around a flat foot
_FD_GYRO_S = 1e-4  # central-difference step for angular velocity
_FD_ACC_S = 1e-3  # central-difference step for linear acceleration


def _zyx(yaw_deg: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray) -> Rotation:
    """``Rz(yaw)·Ry(pitch)·Rx(roll)`` (intrinsic z–y–x), vectorised.

    The same as ``Rotation.from_euler("ZYX", ..., degrees=True)``, built directly from the
    half-angle quaternion product because that is several times faster for long arrays.
    """
    hz, hy, hx = (np.radians(a) * 0.5 for a in (yaw_deg, pitch_deg, roll_deg))
    cz, sz, cy, sy, cx, sx = np.cos(hz), np.sin(hz), np.cos(hy), np.sin(hy), np.cos(hx), np.sin(hx)
    quat_xyzw = np.column_stack(
        [
            cz * cy * sx - sz * sy * cx,
            cz * sy * cx + sz * cy * sx,
            sz * cy * cx - cz * sy * sx,
            cz * cy * cx + sz * sy * sx,
        ]
    )
    return Rotation.from_quat(quat_xyzw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """Geometry of the leg and where the sensors sit on it (metres, segment frames).

    Defaults are an adult: ankle joint 8 cm above the floor, MTP contact 15 cm ahead of
    the ankle, shin sensor on the front of the shin 20 cm
    above the ankle, foot sensor on the instep 7 cm ahead of the ankle.
    """

    ankle_height_m: float = 0.08
    mtp_forward_m: float = 0.15
    shin_length_m: float = 0.42
    shin_sensor_height_m: float = 0.20
    shin_sensor_forward_m: float = 0.04
    foot_sensor_forward_m: float = 0.07
    foot_sensor_height_m: float = 0.01
    toe_out_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "ankle_height_m",
            "mtp_forward_m",
            "shin_length_m",
            "shin_sensor_height_m",
        ):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0.0):
                msg = f"body.{name} must be a positive number of metres, got {value!r}"
                raise ValueError(msg)

    @property
    def r_mtp_m(self) -> np.ndarray:
        return np.array([self.mtp_forward_m, 0.0, -self.ankle_height_m])

    @property
    def r_shin_sensor_m(self) -> np.ndarray:
        return np.array([self.shin_sensor_forward_m, 0.0, self.shin_sensor_height_m])

    @property
    def r_foot_sensor_m(self) -> np.ndarray:
        return np.array([self.foot_sensor_forward_m, 0.0, self.foot_sensor_height_m])


@dataclass(frozen=True, slots=True)
class Pose:
    """Segment orientations (world ← segment) and the ankle joint centre at some times."""

    shin: Rotation
    foot: Rotation
    ankle_m: np.ndarray


@dataclass(kw_only=True)
class Motion:
    """A compiled movement: everything needed to evaluate the pose at any time.

    ``track`` holds the four DOFs (deg, see module docstring); ``overlays`` add to them
    (walking); ``step_intervals`` are ``(t_start_s, t_end_s)`` spans standing on a step
    edge; ``offsets`` add to the ankle position (walking progression, heel strikes).
    """

    track: HermiteTrack
    body: Body
    side_sign: float
    duration_s: float
    overlays: list[Callable[[np.ndarray], np.ndarray]] = field(default_factory=list)
    offsets: list[Callable[[np.ndarray], np.ndarray]] = field(default_factory=list)
    step_intervals: list[tuple[float, float]] = field(default_factory=list)
    rocker_gains: list[Callable[[np.ndarray], np.ndarray]] = field(default_factory=list)
    """Factors (0..1) on the rocker displacement; walking fades it out in the swing."""

    def dofs_deg(self, t_s: np.ndarray) -> np.ndarray:
        """(n, 4) DOF angles in degrees at ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        d = self.track(t)
        for overlay in self.overlays:
            d = d + overlay(t)
        return d

    def pose(self, t_s: np.ndarray) -> Pose:
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        d = self.dofs_deg(t)
        m = self.side_sign
        psi = np.full(t.shape, self.body.toe_out_deg * m)  # toe-out turns the toes laterally
        foot = _zyx(psi, d[:, 0], -m * d[:, 1])
        shin = _zyx(psi, d[:, 2], -m * d[:, 3])
        zeros = np.zeros_like(psi)
        yaw = _zyx(psi, zeros, zeros)
        r_mtp = self.body.r_mtp_m
        # Heel up: the foot rolls about the MTP contact, which stays put on the floor.
        a_mtp = yaw.apply(r_mtp) - foot.apply(r_mtp)
        # Toes up: the foot turns about the ankle joint, the heel pad rolling in place, so
        # the ankle stays where it is (weight 1 − w on a zero displacement).
        w = min_jerk((d[:, 0] + _ROCKER_BLEND_DEG) / (2.0 * _ROCKER_BLEND_DEG))
        for t0, t1 in self.step_intervals:
            w = np.where((t >= t0) & (t <= t1), 1.0, w)
        gain = w
        for g in self.rocker_gains:
            gain = gain * g(t)
        ankle = gain[:, None] * a_mtp
        for offset in self.offsets:
            ankle = ankle + offset(t)
        return Pose(shin=shin, foot=foot, ankle_m=ankle)


def ideal_imu(motion: Motion, t_s: np.ndarray, segment: str) -> tuple[np.ndarray, np.ndarray]:
    """Error-free IMU signals of one segment (``"shin"`` or ``"foot"``) at ``t_s``.

    Returns ``(acc_m_s2, gyr_dps)`` in the *segment* frame: the specific force (linear
    acceleration of the mounting point minus gravity, so +9.81 up at rest) and the body
    angular velocity. Derivatives are central differences of the exact kinematics with
    steps far below a sample period (0.1 ms for rotations, 1 ms for positions).
    """
    if segment not in ("shin", "foot"):
        msg = f"segment must be 'shin' or 'foot', got {segment!r}"
        raise ValueError(msg)
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    r_mount = motion.body.r_shin_sensor_m if segment == "shin" else motion.body.r_foot_sensor_m

    def orientation(pose: Pose) -> Rotation:
        return pose.shin if segment == "shin" else pose.foot

    h = _FD_GYRO_S
    r_before = orientation(motion.pose(t - h))
    r_after = orientation(motion.pose(t + h))
    omega_rad_s = (r_before.inv() * r_after).as_rotvec() / (2.0 * h)
    H = _FD_ACC_S
    positions = []
    for dt in (-H, 0.0, H):
        pose = motion.pose(t + dt)
        positions.append(pose.ankle_m + orientation(pose).apply(r_mount))
        if dt == 0.0:
            r_mid = orientation(pose)
    acc_world = (positions[2] - 2.0 * positions[1] + positions[0]) / (H * H)
    up = np.array([0.0, 0.0, GRAVITY_M_S2])
    specific_force = r_mid.inv().apply(acc_world + up)
    return specific_force, np.degrees(omega_rad_s)


def truth_angles(pose: Pose, side_sign: float) -> dict[str, np.ndarray]:
    """The truth angles (deg) of a pose; definitions in docs/simulator.md.

    * sagittal / frontal: ``R_rel = R_S⁻¹·R_F`` (foot in the shin frame) decomposed as the
      intrinsic Cardan sequence y–x–z (``Ry(α)·Rx(β)·Rz(γ)``, the ISB ankle joint
      coordinate system with the shin's medio-lateral axis first):
      sagittal = −α (dorsiflexion +), frontal = −m·β (inversion +);
    * shin inclination: angle of the shin's long axis from vertical in the foot's heading
      plane, ``atan2(z_S·h, z_S·up)`` with ``h`` the horizontal heading of the foot (+ knee
      forward);
    * knee tracking: ``asin(z_S·l)`` with ``l`` the horizontal lateral direction
      perpendicular to the foot's heading (+ knee lateral of the foot's line).
    """
    m = side_sign
    rel = pose.shin.inv() * pose.foot
    eul = rel.as_euler("YXZ", degrees=True)
    sagittal = -eul[:, 0]
    frontal = -m * eul[:, 1]
    z_s = pose.shin.apply(np.array([0.0, 0.0, 1.0]))
    x_f = pose.foot.apply(np.array([1.0, 0.0, 0.0]))
    heading = x_f.copy()
    heading[:, 2] = 0.0
    heading /= np.linalg.norm(heading, axis=1, keepdims=True)
    left = np.column_stack([-heading[:, 1], heading[:, 0], np.zeros(len(heading))])
    lateral = m * left
    inclination = np.degrees(np.arctan2(np.sum(z_s * heading, axis=1), z_s[:, 2]))
    tracking = np.degrees(np.arcsin(np.clip(np.sum(z_s * lateral, axis=1), -1.0, 1.0)))
    return {
        "truth_ankle_sagittal_deg": sagittal,
        "truth_ankle_frontal_deg": frontal,
        "truth_shin_inclination_deg": inclination,
        "truth_knee_tracking_deg": tracking,
    }
