"""The data types every layer passes around.

This module is the bottom of the dependency graph: it imports numpy and the standard
library only. Sources (BLE, replay, simulator, importers) produce :class:`ImuChunk`\\ s,
the analysis consumes them, storage writes them, the UI draws them.

Units are in the names: ``t_s`` (seconds on the session clock), ``acc_m_s2`` (m/s²),
``gyr_dps`` (deg/s). Vectors are in the *sensor's own frame* (the axes printed on the
housing, after the family's documented axis mapping has been applied by the source).
Quaternions are scalar-first ``(w, x, y, z)`` and rotate sensor-frame vectors into the
device's earth frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "GRAVITY_M_S2",
    "Gap",
    "ImuChunk",
    "Placement",
    "ReferenceTrack",
    "Segment",
    "SensorInfo",
    "Session",
    "Side",
]

GRAVITY_M_S2 = 9.80665  # standard gravity, m/s²


class Segment(enum.StrEnum):
    """The body segment a sensor is strapped to."""

    SHIN = "shin"
    FOOT = "foot"


class Side(enum.StrEnum):
    """Which leg."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Where a sensor sits: segment and side."""

    segment: Segment
    side: Side

    def __post_init__(self) -> None:
        # Accept plain strings from config files and CLI flags.
        object.__setattr__(self, "segment", Segment(self.segment))
        object.__setattr__(self, "side", Side(self.side))

    @property
    def label(self) -> str:
        """Canonical sensor id for this placement, e.g. ``"shin_left"``."""
        return f"{self.segment.value}_{self.side.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorInfo:
    """One sensor of a session, as recorded in the session file header.

    ``sensor_id`` is unique within a session and is what chunks refer to. By convention it
    is the placement label (``shin_left``), which makes files readable by eye.
    """

    sensor_id: str
    family: str
    """Sensor family: ``witmotion``, ``movesense``, ``metamotion``, ``dot``, ``calf`` (the
    project's own protocol), ``simulated`` or ``imported``."""
    placement: Placement
    sampling_rate_hz: float
    """Nominal sampling rate the sensor was configured for."""
    address: str = ""
    """BLE address (or platform UUID on macOS); empty for simulated/imported sensors."""
    name: str = ""
    firmware: str = ""
    axis_mapping: str = "identity"
    """How the device axes were mapped to the sensor frame by the source (free text,
    ``identity`` when the device's own axes are used as they are)."""
    has_quaternion: bool = False
    has_counter: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (used by the session file header)."""
        return {
            "sensor_id": self.sensor_id,
            "family": self.family,
            "segment": self.placement.segment.value,
            "side": self.placement.side.value,
            "sampling_rate_hz": float(self.sampling_rate_hz),
            "address": self.address,
            "name": self.name,
            "firmware": self.firmware,
            "axis_mapping": self.axis_mapping,
            "has_quaternion": self.has_quaternion,
            "has_counter": self.has_counter,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorInfo:
        """Inverse of :meth:`to_dict`; raises ``KeyError``/``ValueError`` on bad input."""
        return cls(
            sensor_id=str(d["sensor_id"]),
            family=str(d["family"]),
            placement=Placement(segment=d["segment"], side=d["side"]),
            sampling_rate_hz=float(d["sampling_rate_hz"]),
            address=str(d.get("address", "")),
            name=str(d.get("name", "")),
            firmware=str(d.get("firmware", "")),
            axis_mapping=str(d.get("axis_mapping", "identity")),
            has_quaternion=bool(d.get("has_quaternion", False)),
            has_counter=bool(d.get("has_counter", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """A stretch of time in which a sensor delivered no samples (drop, disconnect, NaN block).

    Gaps are data: they are marked, never interpolated over silently. ``t_start_s`` is the
    time of the last good sample before the gap, ``t_end_s`` of the first good one after.
    """

    sensor_id: str
    t_start_s: float
    t_end_s: float
    n_missing: int = 0
    """Best estimate of the number of samples lost (from counters or the nominal rate)."""
    reason: str = "dropped"
    """``dropped`` (lost notifications), ``disconnected``, ``invalid`` (NaN/garbage)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor_id": self.sensor_id,
            "t_start_s": float(self.t_start_s),
            "t_end_s": float(self.t_end_s),
            "n_missing": int(self.n_missing),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Gap:
        return cls(
            sensor_id=str(d["sensor_id"]),
            t_start_s=float(d["t_start_s"]),
            t_end_s=float(d["t_end_s"]),
            n_missing=int(d.get("n_missing", 0)),
            reason=str(d.get("reason", "dropped")),
        )


def _as_2d(name: str, a: Any, n: int, width: int) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.shape != (n, width):
        msg = f"{name} must have shape ({n}, {width}), got {arr.shape}"
        raise ValueError(msg)
    return arr


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ImuChunk:
    """A run of consecutive samples from one sensor.

    Arrays are float64 (counters int64), one row per sample, time strictly increasing.
    ``quat_wxyz`` is ``None`` when the sensor streams no orientation, ``counter`` is
    ``None`` when it has no sample counter.
    """

    sensor_id: str
    placement: Placement
    t_s: np.ndarray
    """(n,) sample times on the session clock, s."""
    acc_m_s2: np.ndarray
    """(n, 3) specific force in the sensor frame, m/s² (reads +9.81 along "up" at rest)."""
    gyr_dps: np.ndarray
    """(n, 3) angular velocity in the sensor frame, deg/s."""
    quat_wxyz: np.ndarray | None = None
    """(n, 4) device orientation quaternion, scalar first, or None."""
    counter: np.ndarray | None = None
    """(n,) device sample/packet counter (int64), or None."""

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t_s, dtype=np.float64)
        if t.ndim != 1:
            msg = f"t_s must be 1-D, got shape {t.shape}"
            raise ValueError(msg)
        n = t.shape[0]
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "acc_m_s2", _as_2d("acc_m_s2", self.acc_m_s2, n, 3))
        object.__setattr__(self, "gyr_dps", _as_2d("gyr_dps", self.gyr_dps, n, 3))
        if self.quat_wxyz is not None:
            object.__setattr__(self, "quat_wxyz", _as_2d("quat_wxyz", self.quat_wxyz, n, 4))
        if self.counter is not None:
            c = np.ascontiguousarray(self.counter, dtype=np.int64)
            if c.shape != (n,):
                msg = f"counter must have shape ({n},), got {c.shape}"
                raise ValueError(msg)
            object.__setattr__(self, "counter", c)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def slice(self, start: int, stop: int) -> ImuChunk:
        """Rows ``start:stop`` as a new chunk (views, no copy)."""
        return ImuChunk(
            sensor_id=self.sensor_id,
            placement=self.placement,
            t_s=self.t_s[start:stop],
            acc_m_s2=self.acc_m_s2[start:stop],
            gyr_dps=self.gyr_dps[start:stop],
            quat_wxyz=None if self.quat_wxyz is None else self.quat_wxyz[start:stop],
            counter=None if self.counter is None else self.counter[start:stop],
        )

    def equals(self, other: ImuChunk) -> bool:
        """Exact equality of identity and every array (NaN-aware)."""

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            if a is None or b is None:
                return a is None and b is None
            return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))

        return (
            self.sensor_id == other.sensor_id
            and self.placement == other.placement
            and same(self.t_s, other.t_s)
            and same(self.acc_m_s2, other.acc_m_s2)
            and same(self.gyr_dps, other.gyr_dps)
            and same(self.quat_wxyz, other.quat_wxyz)
            and same(self.counter, other.counter)
        )

    @staticmethod
    def concat(chunks: list[ImuChunk]) -> ImuChunk:
        """Join chunks of one sensor in order."""
        if not chunks:
            msg = "concat needs at least one chunk"
            raise ValueError(msg)
        first = chunks[0]
        q = None if first.quat_wxyz is None else np.concatenate([c.quat_wxyz for c in chunks])  # type: ignore[misc]
        cnt = None if first.counter is None else np.concatenate([c.counter for c in chunks])  # type: ignore[misc]
        return ImuChunk(
            sensor_id=first.sensor_id,
            placement=first.placement,
            t_s=np.concatenate([c.t_s for c in chunks]),
            acc_m_s2=np.concatenate([c.acc_m_s2 for c in chunks]),
            gyr_dps=np.concatenate([c.gyr_dps for c in chunks]),
            quat_wxyz=q,
            counter=cnt,
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ReferenceTrack:
    """A per-sample reference signal stored beside the IMU data.

    Examples: the simulator's true ankle angle (``truth_ankle_sagittal_deg``), an optical
    encoder's angle from an imported research recording (``encoder_ankle_deg``). The name
    carries the unit.
    """

    name: str
    t_s: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t_s, dtype=np.float64)
        v = np.ascontiguousarray(self.values, dtype=np.float64)
        if t.ndim != 1 or v.shape != t.shape:
            msg = f"reference track {self.name!r}: t_s and values must be 1-D of equal length"
            raise ValueError(msg)
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "values", v)


@dataclass(kw_only=True, eq=False)
class Session:
    """Everything one session file holds, in memory.

    ``chunks`` maps ``sensor_id`` to all of that sensor's samples as one chunk.
    ``annotations`` are JSON-ready dicts with at least a ``"kind"`` key (for example the
    simulator's ground truth: ``{"kind": "truth.rep", ...}``). ``plan`` is the exercise plan
    (the TOML plan as a dict) or None. ``calibration`` is the analysis' calibration result as
    a JSON-ready dict, or None.
    """

    sensors: list[SensorInfo]
    chunks: dict[str, ImuChunk]
    start_time_utc: str = ""
    """ISO 8601 UTC time of t_s = 0."""
    app_version: str = ""
    gaps: list[Gap] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, ReferenceTrack] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    notes: str = ""
    source: str = ""
    """What produced it: ``simulator``, ``record``, ``import:dot``, ..."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form metadata (e.g. the simulator scenario and seed)."""

    def sensor(self, sensor_id: str) -> SensorInfo:
        for s in self.sensors:
            if s.sensor_id == sensor_id:
                return s
        raise KeyError(sensor_id)

    def find(self, segment: Segment | str, side: Side | str | None = None) -> SensorInfo | None:
        """The first sensor at ``segment`` (and ``side``, if given), or None."""
        seg = Segment(segment)
        sd = None if side is None else Side(side)
        for s in self.sensors:
            if s.placement.segment == seg and (sd is None or s.placement.side == sd):
                return s
        return None

    @property
    def duration_s(self) -> float:
        ends = [float(c.t_s[-1]) for c in self.chunks.values() if len(c)]
        starts = [float(c.t_s[0]) for c in self.chunks.values() if len(c)]
        return max(ends) - min(starts) if ends else 0.0
