"""Results and events of the motion analysis (frozen, slotted, keyword-only dataclasses).

Times are on the session clock (``t_s``), angles in degrees with the project's sign
convention (``docs/coordinate_systems.md``): dorsiflexion +, plantarflexion −.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "AnalysisEvent",
    "CalibrationDone",
    "Hold",
    "HoldEnded",
    "HoldStarted",
    "HoldUpdate",
    "PhaseChanged",
    "Rep",
    "RepCompleted",
    "RepStarted",
    "SetCompleted",
    "SetSummary",
    "Warning",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rep:
    """One calf raise or tibialis raise with its phases.

    Phases: *rise* from leaving the bottom to reaching the top plateau, *hold* at the top,
    *lower* from leaving the top to reaching the bottom, *rest* at the bottom until the
    next rise (or the end of the set).
    """

    exercise: str
    """``calf_raise`` (plantarflexion excursion) or ``tibialis_raise`` (dorsiflexion)."""
    set_index: int
    rep_index: int
    """Index within the set, from 0."""
    t_start_s: float
    t_rise_end_s: float
    t_hold_end_s: float
    t_lower_end_s: float
    t_end_s: float
    rise_s: float
    hold_s: float
    lower_s: float
    rest_s: float
    rom_deg: float
    """Range of motion: |top level − bottom level|, deg."""
    peak_angle_deg: float
    """Signed ankle angle at the extreme of the excursion, deg."""
    mean_velocity_dps: float
    """Mean |angular velocity| over rise and lower, deg/s."""
    peak_velocity_dps: float
    """Peak |angular velocity| over the rep, deg/s."""
    partial: bool = False
    no_hold: bool = False
    rushed_lowering: bool = False
    gap_s: float = 0.0
    """Longest stretch of missing data inside the rep, s (0 when complete; reps with gaps
    over 1 s are not reported)."""

    @property
    def flags(self) -> tuple[str, ...]:
        """The raised flags by name (``partial``, ``no_hold``, ``rushed_lowering``)."""
        return tuple(
            n
            for n, on in (
                ("partial", self.partial),
                ("no_hold", self.no_hold),
                ("rushed_lowering", self.rushed_lowering),
            )
            if on
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSummary:
    """A set: consecutive reps of one exercise separated from the next by a long rest."""

    exercise: str
    set_index: int
    t_start_s: float
    t_end_s: float
    n_reps: int
    median_rom_deg: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """A held stretch (dorsiflexion)."""

    t_start_s: float
    t_end_s: float
    time_in_position_s: float
    """Time within ``hold_band_deg`` of the held angle, s."""
    peak_angle_deg: float
    mean_angle_deg: float
    n_bounces: int
    bouncing: bool
    knee_in: bool
    knee_tracking_mean_deg: float
    """Mean knee tracking over the hold, deg (+ over the outside of the foot)."""
    knee_tracking_min_deg: float
    knee_in_fraction: float
    """Share of the hold spent caving in (below ``knee_in_threshold_deg``)."""
    knee: str
    """``straight``, ``bent`` or ``unknown``."""
    knee_source: str
    """``inferred``, ``hint`` or ``none``."""
    shin_inclination_mean_deg: float

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisEvent:
    """Base of all events; ``t_s`` is the session time the event refers to."""

    t_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationDone(AnalysisEvent):
    flagged_fallback: bool
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RepStarted(AnalysisEvent):
    exercise: str
    set_index: int
    rep_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseChanged(AnalysisEvent):
    phase: str
    """``rise``, ``hold``, ``lower`` or ``rest``."""
    exercise: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RepDiscarded(AnalysisEvent):
    """A started rep (:class:`RepStarted`) that is not counted: the movement was not a rep.

    Every :class:`RepStarted` is followed by exactly one :class:`RepCompleted` or
    :class:`RepDiscarded` (at the end of a recording too).
    """

    exercise: str
    reason: str
    """``too_small`` (below the minimum range), ``too_long`` (longer than ``max_rep_s``),
    ``shin_moved`` (the shin moved with it: a squat, a lunge, a step), ``foot_still`` (the
    foot did not carry the excursion), ``bottom_moved`` (the resting level moved, e.g. heels
    dropping off a step edge), ``ankle_pump`` (toes up and heel up without a pause),
    ``twitch`` (too short), ``gap`` (over 1 s of data missing inside it), ``no_data`` /
    ``no_fit`` (its phases could not be measured), ``ended`` (the recording ended mid-rep)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RepCompleted(AnalysisEvent):
    rep: Rep


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCompleted(AnalysisEvent):
    set: SetSummary


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldStarted(AnalysisEvent):
    angle_deg: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldUpdate(AnalysisEvent):
    """Once per second during a hold."""

    time_in_position_s: float
    angle_deg: float
    in_position: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldEnded(AnalysisEvent):
    hold: Hold


@dataclass(frozen=True, slots=True, kw_only=True)
class Warning(AnalysisEvent):
    kind: str
    """``bounce``, ``knee_in``, ``rushed_lowering``, ``gap``, ``uncalibrated``."""
    message: str
