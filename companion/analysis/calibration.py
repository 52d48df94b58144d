"""Sensor-to-segment calibration: neutral stance and sagittal axes.

No assumption is made about how a sensor sits on its segment:

* a **static stance** (both sensors still for ``stance_min_s``) gives the direction of
  "up" in each sensor frame and defines neutral (ankle 0°, shin inclination 0°);
* the first **motions** after it (ankle pumps, the first reps, the lean into a stretch)
  give each segment's medio-lateral axis as the principal axis of its angular velocity
  perpendicular to "up" (motion of a hinge-like ankle happens mostly about that axis);
* the **sign** of each axis ("which way is forward") comes from the first clear excursion:
  the foot's first excursion is plantarflexion (heel up) unless the exercise hint says
  tibialis raise / stretch; the shin's first clear excursion is a forward tilt.

Left and right legs are mirrored by the side argument: sagittal quantities have the same
sign on both legs (dorsiflexion +), frontal quantities use "lateral" = the person's left for
a left leg and right for a right leg.

When no proper stance is found within ``stance_search_s`` (no calibration step done), the
first still period of at least ``fallback_still_min_s`` is used and the calibration is
flagged (``flagged_fallback``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Calibration", "estimate_axis"]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not math.isfinite(n) or n == 0.0:
        msg = "cannot normalise a zero or non-finite vector"
        raise ValueError(msg)
    return v / n


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Sensor-to-segment calibration of one leg (vectors in each sensor's own frame)."""

    side: str
    """``left`` or ``right``."""
    up_shin: tuple[float, float, float]
    """Unit "up" in the shin sensor frame at neutral stance."""
    up_foot: tuple[float, float, float]
    ml_shin: tuple[float, float, float]
    """Unit medio-lateral axis in the shin sensor frame pointing to the person's LEFT
    (so a positive rotation about it tilts the shin forward)."""
    ml_foot: tuple[float, float, float]
    """Unit medio-lateral axis in the foot sensor frame pointing to the person's LEFT
    (a positive rotation about it lifts the heel)."""
    t_stance_start_s: float = math.nan
    t_stance_end_s: float = math.nan
    t_done_s: float = math.nan
    flagged_fallback: bool = False
    """True when no calibration stance was found and the first still period was used."""
    shin_axis_confident: bool = True
    """False when the shin barely moved during the axis window (axis provisional)."""
    foot_axis_confident: bool = True
    method: str = "stance+motion"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("up_shin", "up_foot", "ml_shin", "ml_foot"):
            v = _unit(np.asarray(getattr(self, name), dtype=np.float64))
            object.__setattr__(self, name, (float(v[0]), float(v[1]), float(v[2])))
        if self.side not in ("left", "right"):
            msg = f"side must be 'left' or 'right', got {self.side!r}"
            raise ValueError(msg)

    @property
    def lateral_sign(self) -> float:
        """+1 when the person's left is lateral (left leg), −1 for the right leg."""
        return 1.0 if self.side == "left" else -1.0

    def body_matrix(self, segment: str) -> np.ndarray:
        """3×3 matrix whose rows are the segment's anterior, left and up axes in sensor
        coordinates: ``v_body = M @ v_sensor``."""
        up = np.asarray(self.up_shin if segment == "shin" else self.up_foot)
        ml = np.asarray(self.ml_shin if segment == "shin" else self.ml_foot)
        ml = _unit(ml - np.dot(ml, up) * up)
        ap = np.cross(ml, up)
        return np.vstack([ap, ml, up])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``Session.calibration``)."""
        return {
            "side": self.side,
            "up_shin": list(self.up_shin),
            "up_foot": list(self.up_foot),
            "ml_shin": list(self.ml_shin),
            "ml_foot": list(self.ml_foot),
            "t_stance_start_s": self.t_stance_start_s,
            "t_stance_end_s": self.t_stance_end_s,
            "t_done_s": self.t_done_s,
            "flagged_fallback": self.flagged_fallback,
            "shin_axis_confident": self.shin_axis_confident,
            "foot_axis_confident": self.foot_axis_confident,
            "method": self.method,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(
            side=str(d["side"]),
            up_shin=tuple(d["up_shin"]),
            up_foot=tuple(d["up_foot"]),
            ml_shin=tuple(d["ml_shin"]),
            ml_foot=tuple(d["ml_foot"]),
            t_stance_start_s=float(d.get("t_stance_start_s", math.nan)),
            t_stance_end_s=float(d.get("t_stance_end_s", math.nan)),
            t_done_s=float(d.get("t_done_s", math.nan)),
            flagged_fallback=bool(d.get("flagged_fallback", False)),
            shin_axis_confident=bool(d.get("shin_axis_confident", True)),
            foot_axis_confident=bool(d.get("foot_axis_confident", True)),
            method=str(d.get("method", "stance+motion")),
            notes=tuple(d.get("notes", ())),
        )

    @classmethod
    def from_mounting(
        cls, *, side: str, r_shin_mount: np.ndarray, r_foot_mount: np.ndarray
    ) -> Calibration:
        """Calibration for known mounting rotations (sensor→segment matrices with the
        segment axes x anterior, y left, z up), e.g. from a simulator's truth."""
        rs = np.asarray(r_shin_mount, dtype=np.float64)
        rf = np.asarray(r_foot_mount, dtype=np.float64)
        # Segment axis expressed in sensor coordinates: R_mount^T e.
        return cls(
            side=side,
            up_shin=tuple(rs.T @ np.array([0.0, 0.0, 1.0])),
            up_foot=tuple(rf.T @ np.array([0.0, 0.0, 1.0])),
            ml_shin=tuple(rs.T @ np.array([0.0, 1.0, 0.0])),
            ml_foot=tuple(rf.T @ np.array([0.0, 1.0, 0.0])),
            method="known mounting",
        )


def estimate_axis(
    gyr_dps: np.ndarray, up: np.ndarray, dt_s: np.ndarray, *, excursion_deg: float
) -> tuple[np.ndarray, float, float]:
    """Principal axis of the angular velocity perpendicular to ``up``, with its sign.

    Parameters
    ----------
    gyr_dps
        (n, 3) angular velocity in the sensor frame, deg/s (offset-corrected).
    up
        (3,) unit up vector in the sensor frame at neutral stance.
    dt_s
        (n,) sample periods, s.
    excursion_deg
        Size of the first excursion that fixes the sign, deg.

    Returns
    -------
    axis, travelled_deg, first_sign
        Unit axis ⊥ up; total angle travelled about it (deg); the sign (+1/−1) of the first
        excursion about ``axis`` exceeding ``excursion_deg`` (0.0 when none did).
    """
    g = np.asarray(gyr_dps, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    perp = g - np.outer(g @ u, u)
    cov = (perp * dt_s[:, None]).T @ perp
    _w, v = np.linalg.eigh(cov)
    axis = v[:, -1]
    axis = axis - np.dot(axis, u) * u
    axis = _unit(axis)
    # Deterministic provisional sign: largest component positive.
    if axis[int(np.argmax(np.abs(axis)))] < 0:
        axis = -axis
    rate = perp @ axis
    travelled = float(np.sum(np.abs(rate) * dt_s))
    angle = np.cumsum(rate * dt_s)
    hit = np.flatnonzero(np.abs(angle) > excursion_deg)
    first_sign = 0.0 if hit.size == 0 else float(np.sign(angle[hit[0]]))
    return axis, travelled, first_sign
