"""Rep/Hold stand-ins with the analysis' attribute names (scoring is duck-typed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def make_rep(
    *,
    t0: float,
    rise_s: float = 1.0,
    hold_s: float = 1.0,
    lower_s: float = 3.0,
    rest_s: float = 1.0,
    rom_deg: float = 35.0,
    set_index: int = 0,
    rep_index: int = 0,
    exercise: str = "calf_raise",
    partial: bool = False,
) -> SimpleNamespace:
    t1 = t0 + rise_s
    t2 = t1 + hold_s
    t3 = t2 + lower_s
    flags = ("partial",) if partial else ()
    return SimpleNamespace(
        exercise=exercise,
        set_index=set_index,
        rep_index=rep_index,
        t_start_s=t0,
        t_rise_end_s=t1,
        t_hold_end_s=t2,
        t_lower_end_s=t3,
        t_end_s=t3 + rest_s,
        rise_s=rise_s,
        hold_s=hold_s,
        lower_s=lower_s,
        rest_s=rest_s,
        rom_deg=rom_deg,
        peak_angle_deg=-rom_deg if exercise == "calf_raise" else rom_deg,
        mean_velocity_dps=2 * rom_deg / (rise_s + lower_s),
        peak_velocity_dps=rom_deg / rise_s * 1.5,
        flags=flags,
    )


def make_sets(
    n_sets: int, n_reps: int, *, t0: float = 5.0, set_rest_s: float = 30.0, **rep: Any
) -> list[SimpleNamespace]:
    reps = []
    t = t0
    for s in range(n_sets):
        for i in range(n_reps):
            kw = {k: (v(s, i) if callable(v) else v) for k, v in rep.items()}
            r = make_rep(t0=t, set_index=s, rep_index=i, **kw)
            reps.append(r)
            t = r.t_end_s
        t += set_rest_s
    return reps


def make_hold(
    *,
    t0: float,
    time_in_position_s: float = 30.0,
    peak_angle_deg: float = 25.0,
    n_bounces: int = 0,
    bouncing: bool = False,
    knee_in: bool = False,
    knee: str = "straight",
    shin_inclination_mean_deg: float = 20.0,
) -> SimpleNamespace:
    return SimpleNamespace(
        t_start_s=t0,
        t_end_s=t0 + time_in_position_s + 1.0,
        time_in_position_s=time_in_position_s,
        peak_angle_deg=peak_angle_deg,
        mean_angle_deg=peak_angle_deg - 2.0,
        n_bounces=n_bounces,
        bouncing=bouncing,
        knee_in=knee_in,
        knee_tracking_mean_deg=-6.0 if knee_in else 3.0,
        knee_tracking_min_deg=-8.0 if knee_in else 1.0,
        knee_in_fraction=0.6 if knee_in else 0.0,
        knee=knee,
        knee_source="inferred",
        shin_inclination_mean_deg=shin_inclination_mean_deg,
    )


def result(reps=(), holds=(), channels=None, fallback=False) -> SimpleNamespace:
    return SimpleNamespace(
        reps=list(reps),
        holds=list(holds),
        sets=[],
        warnings=[],
        channels=channels,
        calibration=SimpleNamespace(flagged_fallback=fallback),
    )
