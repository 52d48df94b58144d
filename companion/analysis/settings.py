"""Every knob of the motion analysis in one frozen dataclass.

The table in ``docs/coordinate_systems.md`` ("Settings") gives each field's meaning, unit,
default and what zero does. Change a value with ``dataclasses.replace(DEFAULT_SETTINGS, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SETTINGS", "AnalysisSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisSettings:
    """Settings of :class:`~companion.analysis.SessionAnalyzer` (units in the names)."""

    # --- orientation (imufusion) -------------------------------------------------------
    ahrs_gain: float = 0.5
    """imufusion AHRS gain (dimensionless); 0 = gyroscope only."""
    ahrs_acceleration_rejection_deg: float = 45.0
    """imufusion acceleration rejection threshold, deg: accelerometer ignored while the
    measured gravity direction disagrees by more than this; 0 = off. Tuned to reject only
    impacts (heel drops, heel strikes): imufusion's usual 10° rejects most of a gait cycle,
    the filter then runs on the gyroscope alone and the offset drifts in (simulated walking,
    realistic sensors, seeds 1-3: sagittal RMSE 9.5-15° at 10°, 2.2-5.5° at 45°, 2.7-3.9°
    off; calf raises and stretches unchanged)."""
    ahrs_rejection_timeout_s: float = 5.0
    """imufusion recovery trigger period, s."""
    gyroscope_range_dps: float = 2000.0
    """Gyroscope full scale, deg/s (used by imufusion's overrange recovery)."""
    bias_stationary_threshold_dps: float = 5.0
    """imufusion gyroscope offset estimator: below this rate on all axes counts as still, deg/s."""
    bias_stationary_period_s: float = 3.0
    """imufusion gyroscope offset estimator: still this long before the offset adapts, s."""
    max_acc_m_s2: float = 16 * 9.80665
    """Samples with an accelerometer axis beyond this are garbage and dropped, m/s²."""
    max_sample_period_s: float = 0.5
    """Longest measured sample period fed to the AHRS; longer steps (gaps) are clipped, s."""

    # --- alignment of the two sensors --------------------------------------------------
    output_rate_hz: float = 100.0
    """Rate of the common time grid the two sensors are resampled onto, Hz."""
    max_interp_gap_s: float = 0.25
    """A grid point whose neighbouring samples (either sensor) are further apart than this
    is marked invalid (NaN angles, no events), s."""

    # --- calibration ---------------------------------------------------------------------
    still_gyr_dps: float = 8.0
    """Both gyroscopes below this norm (and the accelerometers near 1 g) count as still, deg/s."""
    still_acc_tol_m_s2: float = 0.6
    """Tolerance on |acc| - g for stillness, m/s²."""
    stance_min_s: float = 2.0
    """A calibration stance is a still period at least this long, s."""
    stance_search_s: float = 15.0
    """A stance that starts later than this after the first sample is a fallback, s."""
    fallback_still_min_s: float = 0.5
    """Shortest still period accepted as a fallback stance (after ``stance_search_s``), s."""
    axis_rotation_deg: float = 40.0
    """Calibration of the sagittal axes ends once either segment has rotated this much in
    total (sum of |angle| travelled) after the stance, deg."""
    axis_timeout_s: float = 20.0
    """...or this long after the stance ended, whichever comes first, s."""
    axis_min_rotation_deg: float = 3.0
    """A segment that rotated less than this during the axis window keeps a provisional axis
    and is marked in :attr:`Calibration.segment_axis_confident`, deg."""
    sign_excursion_deg: float = 4.0
    """The first excursion larger than this decides which way is "forward", deg."""

    # --- reps ---------------------------------------------------------------------------
    rep_on_deg: float = 6.0
    """Excursion from the bottom level that starts a candidate rep, deg."""
    rep_min_rom_deg: float = 8.0
    """A rep must reach at least this range of motion, deg."""
    plateau_vel_dps: float = 12.0
    """Below this |angular velocity| the ankle is on a plateau (top hold or bottom rest), deg/s."""
    min_hold_s: float = 0.15
    """Top plateaus shorter than this count as no hold, s."""
    partial_fraction: float = 0.7
    """A rep whose ROM is below this fraction of the set's median ROM is flagged partial."""
    rushed_lowering_s: float = 2.0
    """A lowering phase shorter than this is flagged rushed, s (the plan may override)."""
    max_shin_range_deg: float = 15.0
    """A calf/tibialis rep during which the shin inclination moves more than this is rejected
    (walking, squats, lunges), deg."""
    min_foot_share: float = 0.6
    """At least this share of a rep's ankle excursion must come from the foot's pitch."""
    min_rep_s: float = 0.6
    """A rep faster than this from start to bottom is a twitch, not a rep, s."""
    min_lower_s: float = 0.3
    """A return to the bottom faster than this is a drop (stepping, losing balance, a heel
    dropping off a step edge), not a rep, s."""
    max_rep_s: float = 20.0
    """A candidate rep longer than this is abandoned, s."""
    set_rest_s: float = 8.0
    """Rest at the bottom longer than this closes the set, s."""
    rep_smoothing_hz: float = 8.0
    """Cut-off of the causal low-pass used only for velocity in rep/phase detection, Hz."""

    # --- stretch holds ------------------------------------------------------------------
    hold_min_dorsi_deg: float = 8.0
    """A hold needs at least this much dorsiflexion, deg."""
    hold_band_deg: float = 5.0
    """Time in position counts while the angle is within this band of the held angle, deg."""
    hold_min_s: float = 3.0
    """Holds shorter than this are not reported, s."""
    hold_exit_s: float = 1.0
    """Out of band this long ends the hold, s."""
    bounce_min_amplitude_deg: float = 1.0
    """Peak-to-trough size of an oscillation that counts as a bounce, deg."""
    bounce_min_count: int = 3
    """This many bounces in one hold flag it as bouncing."""
    knee_in_threshold_deg: float = -4.0
    """Knee tracking below this (medial) counts as caving in, deg."""
    knee_in_min_fraction: float = 0.3
    """A hold is flagged knee_in when this fraction of its time is caving in."""
    bent_knee_min_deg: float = 30.0
    """Hold angle at or above this is inferred bent-knee (soleus), deg."""
    straight_knee_max_deg: float = 26.0
    """Hold angle at or below this is inferred straight-knee (gastrocnemius), deg."""


DEFAULT_SETTINGS = AnalysisSettings()
