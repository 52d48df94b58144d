"""Score an analysed session against a plan: the versioned, JSON-ready score document.

:func:`score_analysis` is the pure core: it takes the analysis result of each leg (anything
with ``reps``, ``sets``, ``holds``, ``warnings``, ``channels`` and ``calibration`` attributes,
see :class:`AnalysisLike`) and a :class:`~companion.scoring.plan.Plan`, and returns plain
data (dicts, lists, str, float, int, bool, None) following ``score.schema.json``. It keeps no
state between calls, so many files can be scored in worker processes.
:func:`score_session` runs the analysis first (per leg when both legs were recorded).

Thresholds that turn numbers into flags are module constants documented in
``docs/score-schema.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from companion import __version__
from companion.errors import CompanionError, SensorError
from companion.model import GRAVITY_M_S2, Segment, Session
from companion.scoring.plan import ExerciseBlock, PhaseTarget, Plan, Tempo
from companion.scoring.report import SYMMETRY_LABELS, plural

__all__ = [
    "DEFAULT_TEMPO",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "AnalysisLike",
    "NoMotionError",
    "analyze_sides",
    "exercise_hint",
    "score_analysis",
    "score_session",
    "split_by_side",
    "split_by_side_with_warnings",
]

SCHEMA_ID = "calf-companion/score"
SCHEMA_VERSION = 1

DEFAULT_TEMPO = Tempo(
    rise=PhaseTarget(min_s=0.0, max_s=1.5),
    hold=PhaseTarget(min_s=0.5, max_s=1.5, target_s=1.0),
    lower=PhaseTarget(min_s=2.5, max_s=3.5, target_s=3.0),
)
"""Used when the session has no plan: the seed protocol's tempo (3 s down, quick up, 1 s hold)."""
DEFAULT_HOLD_S = 30.0
"""Stretch target when the session has no plan, s."""

RUSHED_SHARE = 0.3
"""A session (or set) is *rushed* when at least this share of its reps has a phase shorter than
its target (lowering or hold too quick)."""
SLOW_SHARE = 0.3
"""...and *too slow* when at least this share has a phase longer than its target."""
REPS_DONE_MIN_FRACTION = 0.9
"""Fewer than this fraction of the prescribed reps (or holds) flags ``reps_missing``."""
PARTIAL_SHARE = 0.1
"""At least this share of partial reps flags ``partial_reps``."""
FATIGUE_ROM_DROP_PCT = 20.0
"""Range of motion falling by more than this from the first to the last third of a set
flags fatigue, %."""
FATIGUE_LOWER_DROP_PCT = 30.0
"""Lowering time falling by more than this from the first to the last third of a set flags
fatigue, %."""
SYMMETRY_THRESHOLD_PCT = 10.0
"""|symmetry index| above this is reported as asymmetric, % (limb symmetry ≥ 90 % criterion)."""
STRAY_SET_FRACTION = 0.25
"""A set with fewer reps than this fraction of the prescribed reps (when the block has a real
set too) is a warm-up: it is not scored and a warning says so."""
HOLD_MET_FRACTION = 0.9
"""A stretch meets its target when its time in position reaches this fraction of hold_s."""
LUNGE_NORM_MEAN_DEG = 45.0
LUNGE_NORM_SD_DEG = 5.5
LUNGE_MDC_DEG = 4.6
"""Weight-bearing lunge test norm and minimal detectable change (Powden 2015)."""
HEEL_RISE_NORMS = {
    "median_reps_men": 24,
    "median_reps_women": 21,
    "source": "Hébert-Losier 2017 (n = 566); 25/24 reps, heel height 9.3–9.6 cm, "
    "work 1.3–1.4 kJ in Sleeswijk Visser 2025 (n = 500)",
}
PHASES = ("rise", "hold", "lower")


class NoMotionError(CompanionError):
    """The session holds no reps and no stretch holds to score."""


class AnalysisLike(Protocol):
    """What the scorer reads from ``companion.analysis.AnalysisResult`` (duck-typed)."""

    reps: Sequence[Any]
    holds: Sequence[Any]


# --------------------------------------------------------------------------------------
# small numeric helpers


def _f(x: Any, nd: int = 3) -> float | None:
    """Round a float for the document; NaN/inf/None become None."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, nd)


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": None, "sd": None, "min": None, "max": None}
    return {
        "mean": _f(v.mean()),
        "sd": _f(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": _f(v.min()),
        "max": _f(v.max()),
    }


def _thirds_change_pct(values: Sequence[float]) -> float | None:
    """Change of the mean of the last third against the first third, %; None under 4 values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return None
    k = max(1, v.size // 3)
    first, last = v[:k].mean(), v[-k:].mean()
    if abs(first) < 1e-9:
        return None
    return float(100.0 * (last - first) / abs(first))


def _slope(values: Sequence[float]) -> float | None:
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return None
    x = np.arange(v.size, dtype=float)[ok]
    return float(np.polyfit(x, v[ok], 1)[0])


def _channel(channels: Any, name: str) -> np.ndarray | None:
    if channels is None:
        return None
    value = channels.get(name) if isinstance(channels, Mapping) else getattr(channels, name, None)
    return None if value is None else np.asarray(value, dtype=float)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _flags_of(rep: Any) -> list[str]:
    flags = _get(rep, "flags", None)
    if flags is not None:
        return [str(f) for f in flags]
    return [n for n in ("partial", "no_hold", "rushed_lowering") if _get(rep, n, False)]


def symmetry_index_pct(left: float | None, right: float | None) -> float | None:
    """Robinson's symmetry index, 100·(L − R)/(½(L + R)), %; None when undefined."""
    if left is None or right is None:
        return None
    mean = 0.5 * (left + right)
    if abs(mean) < 1e-9:
        return None
    return 100.0 * (left - right) / mean


# --------------------------------------------------------------------------------------
# session → analysis per side


def _no_samples(session: Session, sensor_ids: Sequence[str]) -> list[str]:
    """The sensors among ``sensor_ids`` with fewer than two samples (no angle from them)."""
    return [sid for sid in sensor_ids if sid not in session.chunks or len(session.chunks[sid]) < 2]


def _empty_text(session: Session, empty: Sequence[str]) -> str:
    names = {s.sensor_id: s.placement.segment.value for s in session.sensors}
    if len(empty) == 1:
        return f"the {names[empty[0]]} sensor ({empty[0]}) recorded no samples"
    return f"the shin and foot sensors ({', '.join(empty)}) recorded no samples"


def split_by_side(session: Session) -> dict[str, Session]:
    """One sub-session per leg that has both a shin and a foot sensor with samples.

    Raises :class:`~companion.errors.SensorError` when no leg has both sensors, or when every
    leg that has both has a sensor that recorded no samples.
    """
    return split_by_side_with_warnings(session)[0]


def split_by_side_with_warnings(session: Session) -> tuple[dict[str, Session], list[str]]:
    """:func:`split_by_side` and one warning per leg left out because a sensor recorded
    nothing (the other leg is still scored)."""
    by_side: dict[str, dict[str, Any]] = {}
    for s in session.sensors:
        by_side.setdefault(s.placement.side.value, {})[s.placement.segment.value] = s
    paired = {side: segs for side, segs in by_side.items() if len(segs) == 2}
    empty = {
        side: _no_samples(session, [s.sensor_id for s in segs.values()])
        for side, segs in paired.items()
    }
    complete = {side: segs for side, segs in paired.items() if not empty[side]}
    warnings = [
        f"{side} leg not scored: {_empty_text(session, ids)}"
        for side, ids in sorted(empty.items())
        if ids
    ]
    if not complete and paired:
        side, ids = sorted(empty.items())[0]
        msg = (
            f"{_empty_text(session, ids)}, so there is no ankle angle on the {side} leg; "
            "check that both sensors are switched on and stay connected, then record again"
        )
        raise SensorError(msg)
    if not complete:
        if not by_side:
            msg = "the session has no sensors, so there is no ankle angle; record again"
            raise SensorError(msg)
        side, segs = next(iter(by_side.items()))
        other = Segment.FOOT if Segment.SHIN.value in segs else Segment.SHIN
        have = ", ".join(s.sensor_id for s in session.sensors)
        msg = (
            f"the ankle angle needs both sensors of a leg, but the session has only {have} "
            f"(no {other.value} sensor on the {side} leg); record again with the shin and "
            "the foot sensor"
        )
        raise SensorError(msg)
    if len(complete) == 1:
        return {next(iter(complete)): session}, warnings
    out: dict[str, Session] = {}
    for side in sorted(complete):
        ids = {s.sensor_id for s in complete[side].values()}
        out[side] = Session(
            sensors=[s for s in session.sensors if s.sensor_id in ids],
            chunks={k: v for k, v in session.chunks.items() if k in ids},
            start_time_utc=session.start_time_utc,
            app_version=session.app_version,
            gaps=[g for g in session.gaps if g.sensor_id in ids],
            annotations=session.annotations,
            references=session.references,
            plan=session.plan,
            calibration=session.calibration,
            notes=session.notes,
            source=session.source,
            extra=session.extra,
        )
    return out, warnings


def exercise_hint(plan: Plan | None) -> str | None:
    """The analysis' ``exercise_hint`` for a plan whose blocks are all one kind, else None."""
    if plan is None:
        return None
    kinds = {b.kind for b in plan.exercises}
    knees = {b.knee for b in plan.exercises}
    if kinds == {"stretch"}:
        return {"straight": "stretch_straight", "bent": "stretch_bent"}.get(
            next(iter(knees)) if len(knees) == 1 else "", "stretch"
        )
    if kinds <= {"calf_raise", "heel_rise_test"}:
        return "calf_raise"
    if kinds == {"tibialis_raise"}:
        return "tibialis_raise"
    return None


def analyze_sides(session: Session, plan: Plan | None) -> dict[str, Any]:
    """Run ``companion.analysis.analyze_session`` once per recorded leg (side → result)."""
    from companion.analysis import analyze_session

    hint = exercise_hint(plan)
    return {
        side: analyze_session(session, side=side, exercise_hint=hint)
        for side in split_by_side(session)
    }


def score_session(
    session: Session,
    plan: Plan | None,
    *,
    analysis: AnalysisLike | Mapping[str, AnalysisLike] | None = None,
    file: str = "",
) -> dict[str, Any]:
    """Score ``session`` against ``plan``.

    ``plan`` is what :func:`~companion.scoring.plan.resolve_plan` returns (``--plan`` or the
    session's own); ``None`` scores against the seed tempo with nothing prescribed.
    ``analysis`` is the result of ``companion.analysis.analyze_session`` for a one-leg
    session, or a mapping side → result (:func:`analyze_sides`); when ``None`` the
    analysis runs here. Returns the score document (see ``docs/score-schema.md``).
    """
    sides = split_by_side(session)
    if analysis is None:
        per_side = analyze_sides(session, plan)
    elif isinstance(analysis, Mapping):
        per_side = dict(analysis)
    else:
        per_side = {str(_get(analysis, "side", None) or next(iter(sides))): analysis}
    meta = {
        "file": file,
        "source": session.source,
        "start_time_utc": session.start_time_utc,
        "duration_s": _f(session.duration_s),
        "sensors": [s.sensor_id for s in session.sensors],
        "sides": sorted(per_side),
        "gaps": len(session.gaps),
        "extra": {k: v for k, v in session.extra.items() if isinstance(v, str | int | float)},
    }
    return score_analysis(per_side, plan, session_meta=meta)


# --------------------------------------------------------------------------------------
# assigning what was found to the plan's blocks


@dataclass(slots=True, kw_only=True)
class _BlockState:
    index: int
    block: ExerciseBlock
    sets: list[list[Any]] = field(default_factory=list)
    warmup: list[list[Any]] = field(default_factory=list)
    holds: list[Any] = field(default_factory=list)


def _default_blocks(reps: Sequence[Any], holds: Sequence[Any]) -> list[ExerciseBlock]:
    blocks = []
    for ex in ("calf_raise", "tibialis_raise"):
        if any(_get(r, "exercise") == ex for r in reps):
            blocks.append(ExerciseBlock(kind=ex, tempo=DEFAULT_TEMPO))
    if holds:
        blocks.append(ExerciseBlock(kind="stretch", hold_s=DEFAULT_HOLD_S))
    return blocks


def _group_sets(reps: Sequence[Any]) -> list[list[Any]]:
    """Reps grouped into sets (by exercise and set_index), in time order."""
    groups: dict[tuple[str, int], list[Any]] = {}
    for r in sorted(reps, key=lambda r: float(_get(r, "t_start_s", 0.0))):
        groups.setdefault((str(_get(r, "exercise")), int(_get(r, "set_index", 0))), []).append(r)
    return sorted(groups.values(), key=lambda g: float(_get(g[0], "t_start_s", 0.0)))


def _is_stray(group: Sequence[Any], block: ExerciseBlock) -> bool:
    """A handful of reps before a long set (warm-up, calibration pumps) takes no set slot."""
    return block.reps is not None and len(group) < max(2, STRAY_SET_FRACTION * block.reps)


def _assign(
    blocks: Sequence[ExerciseBlock], side: str, reps: Sequence[Any], holds: Sequence[Any]
) -> tuple[list[_BlockState], list[list[Any]], list[Any]]:
    states = [
        _BlockState(index=i, block=b)
        for i, b in enumerate(blocks)
        if b.side in ("any", "both", side)
    ]
    unassigned_sets: list[list[Any]] = []
    for group in _group_sets(reps):
        ex = str(_get(group[0], "exercise"))
        takers = [s for s in states if s.block.rep_exercise == ex]
        for st in takers:
            cap = st.block.sets if st.block.sets is not None else math.inf
            if sum(not _is_stray(g, st.block) for g in st.sets) < cap:
                st.sets.append(group)
                break
        else:
            if takers:
                takers[-1].sets.append(group)
            else:
                unassigned_sets.append(group)
    for st in states:
        if any(not _is_stray(g, st.block) for g in st.sets):
            st.warmup = [g for g in st.sets if _is_stray(g, st.block)]
            st.sets = [g for g in st.sets if not _is_stray(g, st.block)]
    unassigned_holds: list[Any] = []
    hold_takers = [s for s in states if s.block.kind in ("stretch", "lunge_test")]
    for h in sorted(holds, key=lambda h: float(_get(h, "t_start_s", 0.0))):
        knee = str(_get(h, "knee", "unknown"))

        def cap(st: _BlockState) -> float:
            if st.block.kind == "lunge_test":
                return 3
            return st.block.holds if st.block.holds is not None else math.inf

        free = [s for s in hold_takers if len(s.holds) < cap(s)]
        matching = [s for s in free if s.block.knee in ("any", knee)]
        if matching:
            matching[0].holds.append(h)
        elif free:
            free[0].holds.append(h)
        elif hold_takers:
            hold_takers[-1].holds.append(h)
        else:
            unassigned_holds.append(h)
    return states, unassigned_sets, unassigned_holds


# --------------------------------------------------------------------------------------
# reps and sets


def _rep_doc(rep: Any, side: str, st: _BlockState | None, set_number: int) -> dict[str, Any]:
    tempo = st.block.tempo if st is not None else DEFAULT_TEMPO
    durations = {p: _get(rep, f"{p}_s") for p in PHASES}
    verdicts = {}
    for phase, target in tempo.phases().items():
        verdicts[phase] = "no_target" if target is None else target.verdict(durations[phase])
    judged = [v for v in verdicts.values() if v != "no_target"]
    within = all(v == "ok" for v in judged) if judged else None
    flags = _flags_of(rep)
    return {
        "side": side,
        "exercise": str(_get(rep, "exercise")),
        "block": None if st is None else st.index,
        "set_number": set_number,
        "rep_number": int(_get(rep, "rep_index", 0)) + 1,
        "set_index": int(_get(rep, "set_index", 0)),
        "t_start_s": _f(_get(rep, "t_start_s")),
        "t_rise_end_s": _f(_get(rep, "t_rise_end_s")),
        "t_hold_end_s": _f(_get(rep, "t_hold_end_s")),
        "t_lower_end_s": _f(_get(rep, "t_lower_end_s")),
        "t_end_s": _f(_get(rep, "t_end_s")),
        "rise_s": _f(durations["rise"]),
        "hold_s": _f(durations["hold"]),
        "lower_s": _f(durations["lower"]),
        "rest_s": _f(_get(rep, "rest_s")),
        "rom_deg": _f(_get(rep, "rom_deg"), 2),
        "peak_angle_deg": _f(_get(rep, "peak_angle_deg"), 2),
        "mean_velocity_dps": _f(_get(rep, "mean_velocity_dps"), 2),
        "peak_velocity_dps": _f(_get(rep, "peak_velocity_dps"), 2),
        "partial": "partial" in flags,
        "flags": flags,
        "verdicts": verdicts,
        "within_tolerance": within,
    }


def _add_pauses(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``pause_s``: the rest at the bottom between a rep's lowering and the next rep of the set
    (None for the last rep of a set)."""
    for rep, nxt in zip(docs, [*docs[1:], None]):
        end, start = rep["t_lower_end_s"], None if nxt is None else nxt["t_start_s"]
        rep["pause_s"] = None if end is None or start is None else _f(max(0.0, start - end))
    return docs


def _phase_summary(reps: Sequence[dict[str, Any]], tempo: Tempo) -> dict[str, Any]:
    out = {}
    for phase, target in tempo.phases().items():
        values = [r[f"{phase}_s"] for r in reps]
        st = _stats([v for v in values if v is not None])
        verdicts = [r["verdicts"][phase] for r in reps if r["verdicts"][phase] != "no_target"]
        st_out: dict[str, Any] = {
            "mean_s": st["mean"],
            "sd_s": st["sd"],
            "min_s": st["min"],
            "max_s": st["max"],
            "target": None if target is None else target.to_dict(),
            "ok_pct": _f(100.0 * verdicts.count("ok") / len(verdicts), 1) if verdicts else None,
            "short": verdicts.count("short"),
            "long": verdicts.count("long"),
        }
        out[phase] = st_out
    return out


def _compliance_pct(reps: Sequence[dict[str, Any]]) -> float | None:
    judged = [r["within_tolerance"] for r in reps if r["within_tolerance"] is not None]
    return _f(100.0 * sum(judged) / len(judged), 1) if judged else None


def _set_doc(
    side: str, st: _BlockState | None, number: int, reps: list[dict[str, Any]], *, extra: bool
) -> dict[str, Any]:
    tempo = st.block.tempo if st is not None else DEFAULT_TEMPO
    roms = [r["rom_deg"] if r["rom_deg"] is not None else math.nan for r in reps]
    lowers = [r["lower_s"] if r["lower_s"] is not None else math.nan for r in reps]
    rom_change = _thirds_change_pct(roms)
    lower_change = _thirds_change_pct(lowers)
    fatigued = (rom_change is not None and rom_change < -FATIGUE_ROM_DROP_PCT) or (
        lower_change is not None and lower_change < -FATIGUE_LOWER_DROP_PCT
    )
    rom = _stats(roms)
    return {
        "side": side,
        "exercise": reps[0]["exercise"],
        "block": None if st is None else st.index,
        "set_number": number,
        "extra": extra,
        "t_start_s": reps[0]["t_start_s"],
        "t_end_s": reps[-1]["t_end_s"],
        "reps_done": len(reps),
        "reps_prescribed": None if st is None else st.block.reps,
        "partial_reps": sum(r["partial"] for r in reps),
        "tempo_compliance_pct": _compliance_pct(reps),
        "phases": _phase_summary(reps, tempo),
        "rom_mean_deg": rom["mean"],
        "rom_sd_deg": rom["sd"],
        "fatigue": {
            "rom_change_pct": _f(rom_change, 1),
            "rom_slope_deg_per_rep": _f(_slope(roms)),
            "lower_change_pct": _f(lower_change, 1),
            "lower_slope_s_per_rep": _f(_slope(lowers), 4),
            "fatigued": bool(fatigued),
        },
    }


# --------------------------------------------------------------------------------------
# stretches and tests


def _hold_doc(h: Any, side: str, st: _BlockState | None, number: int) -> dict[str, Any]:
    target = None
    knee_expected = "any"
    if st is not None and st.block.kind == "stretch":
        target = st.block.hold_s
        knee_expected = st.block.knee
    elif st is None:
        target = DEFAULT_HOLD_S
    tip = float(_get(h, "time_in_position_s", math.nan))
    knee = str(_get(h, "knee", "unknown"))
    knee_ok = None if knee_expected == "any" or knee == "unknown" else knee == knee_expected
    return {
        "side": side,
        "block": None if st is None else st.index,
        "hold_number": number,
        "t_start_s": _f(_get(h, "t_start_s")),
        "t_end_s": _f(_get(h, "t_end_s")),
        "time_in_position_s": _f(tip, 2),
        "target_s": target,
        "met": None if target is None else bool(tip >= HOLD_MET_FRACTION * target),
        "peak_angle_deg": _f(_get(h, "peak_angle_deg"), 2),
        "mean_angle_deg": _f(_get(h, "mean_angle_deg"), 2),
        "n_bounces": int(_get(h, "n_bounces", 0)),
        "bouncing": bool(_get(h, "bouncing", False)),
        "knee_in": bool(_get(h, "knee_in", False)),
        "knee_tracking_mean_deg": _f(_get(h, "knee_tracking_mean_deg"), 2),
        "knee": knee,
        "knee_expected": knee_expected,
        "knee_ok": knee_ok,
        "shin_inclination_mean_deg": _f(_get(h, "shin_inclination_mean_deg"), 2),
    }


def _heel_rise_test(st: _BlockState, side: str, plan: Plan, channels: Any) -> dict[str, Any] | None:
    if not st.sets:
        return {
            "kind": "heel_rise_test",
            "side": side,
            "reps": 0,
            "note": "no heel-rise reps found",
        }
    reps = max(st.sets, key=len)
    t = _channel(channels, "t_s")
    pitch = _channel(channels, "foot_pitch_deg")
    lever = plan.subject.lever_m
    mass = plan.subject.body_mass_kg
    heights: list[float] = []
    periods: list[float] = []
    for i, r in enumerate(reps):
        t0, t1 = float(_get(r, "t_start_s")), float(_get(r, "t_end_s"))
        if i:
            periods.append(t0 - float(_get(reps[i - 1], "t_start_s")))
        lift_deg = abs(float(_get(r, "rom_deg", math.nan)))
        if t is not None and pitch is not None and t.size == pitch.size:
            i0, i1 = np.searchsorted(t, [t0, t1])
            seg = pitch[i0 : max(i1, i0 + 1)]
            seg = seg[np.isfinite(seg)]
            if seg.size:
                lift_deg = float(np.max(np.abs(seg - seg[0])))
        if lever is not None:
            heights.append(lever * math.sin(math.radians(lift_deg)))
    valid = [r for r in reps if "partial" not in _flags_of(r)]
    cadence_bpm = 120.0 / float(np.median(periods)) if periods else None
    out: dict[str, Any] = {
        "kind": "heel_rise_test",
        "side": side,
        "reps": len(valid),
        "reps_including_partial": len(reps),
        "cadence_bpm": _f(cadence_bpm, 1),
        "metronome_bpm": st.block.metronome_bpm,
        "norms": HEEL_RISE_NORMS,
        "peak_heel_height_cm": _f(100 * max(heights), 1) if heights else None,
        "mean_heel_height_cm": _f(100 * float(np.mean(heights)), 1) if heights else None,
        "total_work_j": (
            _f(mass * GRAVITY_M_S2 * sum(heights[: len(reps)]), 0)
            if heights and mass is not None
            else None
        ),
        "estimate_note": (
            "heel height ≈ foot lever × sin(foot pitch), an estimate (lever = 0.73 × foot "
            "length unless given); work = body mass × g × Σ heights"
            if heights
            else "give [subject] foot_length_cm (and body_mass_kg) in the plan for height "
            "and work estimates"
        ),
    }
    return out


def _lunge_test(st: _BlockState, side: str, channels: Any) -> dict[str, Any]:
    values = [
        float(v)
        for h in st.holds
        if (v := _get(h, "shin_inclination_mean_deg")) is not None and math.isfinite(float(v))
    ]
    how = "mean shin inclination of the best held trial"
    if values:
        angle = max(values)
    else:
        shin = _channel(channels, "shin_inclination_deg")
        shin = None if shin is None else shin[np.isfinite(shin)]
        if shin is None or shin.size == 0:
            return {"kind": "lunge_test", "side": side, "shin_angle_deg": None}
        angle = float(np.percentile(shin, 99))
        how = "99th percentile of the shin inclination (no held trial found)"
    z = (angle - LUNGE_NORM_MEAN_DEG) / LUNGE_NORM_SD_DEG
    return {
        "kind": "lunge_test",
        "side": side,
        "trials": len(st.holds),
        "shin_angle_deg": _f(angle, 1),
        "method": how,
        "norm_mean_deg": LUNGE_NORM_MEAN_DEG,
        "norm_sd_deg": LUNGE_NORM_SD_DEG,
        "z_score": _f(z, 2),
        "mdc_deg": LUNGE_MDC_DEG,
        "interpretation": (
            "below the normal range" if z < -1 else "above the normal range" if z > 1 else "normal"
        ),
    }


# --------------------------------------------------------------------------------------
# the document


def score_analysis(
    per_side: Mapping[str, Any],
    plan: Plan | None,
    *,
    session_meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The score document for analysis results keyed by side (``left``/``right``)."""
    all_reps: list[dict[str, Any]] = []
    all_sets: list[dict[str, Any]] = []
    all_holds: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    blocks_out: list[dict[str, Any]] = []
    warnings: list[str] = []
    for side in sorted(per_side):
        res = per_side[side]
        reps = list(_get(res, "reps", []) or [])
        holds = list(_get(res, "holds", []) or [])
        blocks = list(plan.exercises) if plan is not None else _default_blocks(reps, holds)
        states, loose_sets, loose_holds = _assign(blocks, side, reps, holds)
        calib = _get(res, "calibration")
        if calib is not None and bool(_get(calib, "flagged_fallback", False)):
            warnings.append(
                f"{side} leg: no still standing calibration at the start; angles use a "
                "fallback reference and may be offset"
            )
        for w in _get(res, "warnings", []) or []:
            kind = str(_get(w, "kind", ""))
            if kind in ("gap", "uncalibrated"):
                warnings.append(f"{side} leg: {_get(w, 'message', kind)}")
        channels = _get(res, "channels")
        for st in states:
            b = st.block
            block_reps: list[dict[str, Any]] = []
            cap = b.sets if b.sets is not None else math.inf
            for n, group in enumerate(st.sets, start=1):
                docs = _add_pauses([_rep_doc(r, side, st, n) for r in group])
                block_reps.extend(docs)
                all_reps.extend(docs)
                all_sets.append(_set_doc(side, st, n, docs, extra=n > cap))
            for group in st.warmup:
                t0 = float(_get(group[0], "t_start_s", math.nan))
                t1 = float(_get(group[-1], "t_end_s", math.nan))
                what = plural(len(group), f"{b.label} rep")
                warnings.append(
                    f"{side} leg: {what} at {t0:.0f}–{t1:.0f} s, too few for a set, "
                    f"{'was' if len(group) == 1 else 'were'} taken as a warm-up and not scored"
                )
            hold_docs = [_hold_doc(h, side, st, n) for n, h in enumerate(st.holds, start=1)]
            if b.kind == "stretch":
                all_holds.extend(hold_docs)
            if b.kind == "heel_rise_test" and plan is not None:
                test = _heel_rise_test(st, side, plan, channels)
                if test is not None:
                    tests.append(test)
            if b.kind == "lunge_test":
                tests.append(_lunge_test(st, side, channels))
            blocks_out.append(_block_doc(side, st, block_reps, hold_docs))
        for n, group in enumerate(loose_sets, start=1):
            docs = _add_pauses([_rep_doc(r, side, None, n) for r in group])
            all_reps.extend(docs)
            all_sets.append(_set_doc(side, None, n, docs, extra=True))
        for n, h in enumerate(loose_holds, start=1):
            all_holds.append(_hold_doc(h, side, None, n))
    if not all_reps and not all_holds and not any(t.get("shin_angle_deg") for t in tests):
        where = (session_meta or {}).get("file") or "the session"
        dur = (session_meta or {}).get("duration_s")
        span = f" in {dur:.0f} s of data" if isinstance(dur, int | float) else ""
        msg = (
            f"{where}: no calf raises, tibialis raises or stretch holds found{span}; "
            "check that the sensors were strapped on and the exercise was done"
        )
        raise NoMotionError(msg)
    summary = _summary(blocks_out, all_sets, all_reps, all_holds, plan)
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "generator": f"calf-companion {__version__}",
        "session": dict(session_meta or {"sides": sorted(per_side)}),
        "plan": (
            plan.to_dict()
            if plan is not None
            else {
                "name": "no plan (seed tempo: 3 s down, quick up, 1 s hold; 30 s stretches)",
                "source": "",
                "origin": "default",
                "exercises": [],
                "subject": {"foot_length_cm": None, "foot_lever_cm": None, "body_mass_kg": None},
            }
        ),
        "summary": summary,
        "blocks": blocks_out,
        "sets": all_sets,
        "reps": all_reps,
        "stretches": all_holds,
        "tests": tests,
        "symmetry": _symmetry(blocks_out, all_reps, all_holds, tests, sorted(per_side)),
        "warnings": warnings,
    }
    doc["advice"] = _advice(doc)
    return doc


def _block_doc(
    side: str, st: _BlockState, reps: list[dict[str, Any]], holds: list[dict[str, Any]]
) -> dict[str, Any]:
    b = st.block
    reps_prescribed = b.sets * b.reps if b.sets is not None and b.reps is not None else None
    return {
        "side": side,
        "block": st.index,
        "kind": b.kind,
        "name": b.label,
        "knee": b.knee,
        "sets_done": len(st.sets) if b.is_rep_block else None,
        "sets_prescribed": b.sets,
        "reps_done": len(reps) if b.is_rep_block else None,
        "reps_prescribed": reps_prescribed,
        "partial_reps": sum(r["partial"] for r in reps) if b.is_rep_block else None,
        "tempo_compliance_pct": _compliance_pct(reps),
        "phases": _phase_summary(reps, b.tempo) if reps else None,
        "holds_done": len(holds) if b.kind == "stretch" else None,
        "holds_prescribed": b.holds,
        "hold_s": b.hold_s,
        "holds_met": sum(bool(h["met"]) for h in holds) if b.kind == "stretch" else None,
    }


def _summary(
    blocks: list[dict[str, Any]],
    sets: list[dict[str, Any]],
    reps: list[dict[str, Any]],
    holds: list[dict[str, Any]],
    plan: Plan | None,
) -> dict[str, Any]:
    flags: list[str] = []
    fatigued = sum(s["fatigue"]["fatigued"] for s in sets)
    judged = [r for r in reps if r["within_tolerance"] is not None]
    short = [r for r in judged if "short" in r["verdicts"].values()]
    long_ = [r for r in judged if "long" in r["verdicts"].values()]
    if judged and len(short) >= RUSHED_SHARE * len(judged):
        flags.append("rushed")
    if judged and len(long_) >= SLOW_SHARE * len(judged):
        flags.append("too_slow")
    prescribed = [b["reps_prescribed"] for b in blocks if b["reps_prescribed"] is not None]
    done_for_prescribed = sum(
        b["reps_done"] or 0 for b in blocks if b["reps_prescribed"] is not None
    )
    if prescribed and done_for_prescribed < REPS_DONE_MIN_FRACTION * sum(prescribed):
        flags.append("reps_missing")
    if reps and sum(r["partial"] for r in reps) >= max(1.0, PARTIAL_SHARE * len(reps)):
        flags.append("partial_reps")
    holds_prescribed = sum(b["holds_prescribed"] or 0 for b in blocks if b["kind"] == "stretch")
    holds_done = sum(b["holds_done"] or 0 for b in blocks if b["kind"] == "stretch")
    if holds_prescribed and holds_done < REPS_DONE_MIN_FRACTION * holds_prescribed:
        flags.append("holds_missing")
    if fatigued:
        flags.append("fatigue")
    if any(h["met"] is False for h in holds):
        flags.append("holds_short")
    if any(h["bouncing"] for h in holds):
        flags.append("bouncing")
    if any(h["knee_in"] for h in holds):
        flags.append("knee_in")
    if any(h["knee_ok"] is False for h in holds):
        flags.append("wrong_knee")
    return {
        "plan_name": plan.name if plan is not None else None,
        "reps_done": len(reps),
        "reps_prescribed": sum(prescribed) if prescribed else None,
        "sets_done": sum(b["sets_done"] or 0 for b in blocks),
        "tempo_compliance_pct": _compliance_pct(reps),
        "rushed_reps": len(short),
        "slow_reps": len(long_),
        "partial_reps": sum(r["partial"] for r in reps),
        "holds_done": len(holds),
        "holds_prescribed": holds_prescribed or None,
        "holds_met": sum(bool(h["met"]) for h in holds),
        "fatigued_sets": fatigued,
        "flags": flags,
        "compliant": not flags,
    }


def _symmetry(
    blocks: list[dict[str, Any]],
    reps: list[dict[str, Any]],
    holds: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    sides: list[str],
) -> dict[str, Any] | None:
    if sides != ["left", "right"]:
        return None

    def mean(values: list[float]) -> float | None:
        v = [x for x in values if x is not None]
        return float(np.mean(v)) if v else None

    metrics: dict[str, tuple[float | None, float | None]] = {}
    by = {s: [r for r in reps if r["side"] == s] for s in sides}
    if by["left"] or by["right"]:
        metrics["reps_done"] = (float(len(by["left"])), float(len(by["right"])))
        metrics["rom_mean_deg"] = (
            mean([r["rom_deg"] for r in by["left"]]),
            mean([r["rom_deg"] for r in by["right"]]),
        )
        metrics["lower_mean_s"] = (
            mean([r["lower_s"] for r in by["left"]]),
            mean([r["lower_s"] for r in by["right"]]),
        )
    hb = {s: [h for h in holds if h["side"] == s] for s in sides}
    if hb["left"] or hb["right"]:
        metrics["stretch_peak_dorsiflexion_deg"] = (
            max(
                (h["peak_angle_deg"] for h in hb["left"] if h["peak_angle_deg"] is not None),
                default=None,
            ),
            max(
                (h["peak_angle_deg"] for h in hb["right"] if h["peak_angle_deg"] is not None),
                default=None,
            ),
        )
    for kind, key in (("heel_rise_test", "reps"), ("lunge_test", "shin_angle_deg")):
        tb = {t["side"]: t.get(key) for t in tests if t["kind"] == kind}
        if tb:
            metrics[f"{kind}_{key}"] = (tb.get("left"), tb.get("right"))
    out = {}
    for name, (left, right) in metrics.items():
        si = symmetry_index_pct(left, right)
        out[name] = {
            "left": _f(left, 3),
            "right": _f(right, 3),
            "symmetry_index_pct": _f(si, 1),
            "asymmetric": None if si is None else abs(si) > SYMMETRY_THRESHOLD_PCT,
        }
    return out or None


# --------------------------------------------------------------------------------------
# advice: the two or three things to change next time


def _fmt_s(x: float | None) -> str:
    return "?" if x is None else f"{x:.1f} s"


def _advice(doc: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[tuple[float, str, str]] = []

    def leg(side: str) -> str:
        return f" ({side} leg)" if doc["symmetry"] is not None else ""

    sets = doc["sets"]
    for b in doc["blocks"]:
        phases = b.get("phases") or {}
        label = b["name"]
        side = f" ({b['side']} leg)" if doc["symmetry"] is not None else ""
        block_sets = [s for s in sets if s["block"] == b["block"] and s["side"] == b["side"]]
        for phase, ph in phases.items():
            target = ph["target"]
            n = ph["short"] + ph["long"]
            if target is None or ph["mean_s"] is None or not n:
                continue
            judged = b["reps_done"] or 1
            share = n / judged
            if share < 0.2:
                continue
            mean_s = ph["mean_s"]
            tgt = target["text"]
            worst = _worst_set(block_sets, phase, short=ph["short"] >= ph["long"])
            if phase == "lower" and ph["short"] >= ph["long"]:
                text = (
                    f"Lowering averaged {_fmt_s(mean_s)} against {tgt} in the {label}{side}; "
                    f"slow down and count the seconds on the way down"
                    + (f", especially in {worst}" if worst else "")
                    + "."
                )
            elif phase == "lower":
                text = (
                    f"Lowering averaged {_fmt_s(mean_s)} against {tgt} in the {label}{side}; "
                    "keep the descent steady but do not drag it out."
                )
            elif phase == "hold" and ph["short"] >= ph["long"]:
                text = (
                    f"The pause at the top averaged {_fmt_s(mean_s)} against {tgt}"
                    f" in the {label}{side}; hold still at the top for a full count."
                )
            elif phase == "hold":
                text = (
                    f"The pause at the top averaged {_fmt_s(mean_s)} against {tgt}"
                    f" in the {label}{side}; start lowering after the prescribed pause."
                )
            elif ph["long"] > ph["short"]:
                text = (
                    f"The rise averaged {_fmt_s(mean_s)} against {tgt} in the {label}{side}; "
                    "push up more quickly."
                )
            else:
                text = (
                    f"The rise averaged {_fmt_s(mean_s)} against {tgt} in the {label}{side}; "
                    "rise more slowly and under control."
                )
            weight = {"lower": 3.0, "hold": 2.0, "rise": 1.5}[phase] * share
            items.append((weight, f"tempo_{phase}", text))
        if (
            b["reps_prescribed"]
            and (b["reps_done"] or 0) < REPS_DONE_MIN_FRACTION * b["reps_prescribed"]
        ):
            items.append(
                (
                    2.5 * (1 - (b["reps_done"] or 0) / b["reps_prescribed"]),
                    "reps_missing",
                    f"You did {b['reps_done']} of {b['reps_prescribed']} reps of the {label}"
                    f"{side}; "
                    + (
                        f"complete all {b['sets_prescribed']} sets next time, resting between "
                        "sets if you need to."
                        if (b["sets_done"] or 0) < (b["sets_prescribed"] or 0)
                        else f"do all {b['reps_prescribed'] // b['sets_prescribed']} reps in "
                        "each set, resting a little longer between sets if you need to."
                    ),
                )
            )
        if b["partial_reps"]:
            share = b["partial_reps"] / max(1, b["reps_done"] or 1)
            if share >= PARTIAL_SHARE:
                items.append(
                    (
                        2.0 * share,
                        "partial_reps",
                        f"{plural(b['partial_reps'], 'rep')} of the {label}{side} "
                        f"{'was' if b['partial_reps'] == 1 else 'were'} partial; go all "
                        "the way up and all the way down on every rep.",
                    )
                )
        if b["kind"] == "stretch" and b["holds_prescribed"]:
            bh = [
                h for h in doc["stretches"] if h["block"] == b["block"] and h["side"] == b["side"]
            ]
            short = [h for h in bh if h["met"] is False]
            if not bh:
                items.append(
                    (
                        2.6,
                        "holds_short",
                        f"No {label}{side} was found; do {b['holds_prescribed']} × "
                        f"{b['hold_s']:g} s next time.",
                    )
                )
            elif short:
                mean_tip = float(np.mean([h["time_in_position_s"] or 0 for h in bh]))
                items.append(
                    (
                        2.5,
                        "holds_short",
                        (
                            f"The {label}{side} fell short: {mean_tip:.0f} s in position "
                            if len(bh) == 1
                            else f"The {label}{side}: {len(short)} of {len(bh)} holds fell "
                            f"short, {mean_tip:.0f} s in position on average "
                        )
                        + f"against {b['hold_s']:g} s; hold each stretch for the full time.",
                    )
                )
            elif len(bh) < b["holds_prescribed"]:
                items.append(
                    (
                        2.0,
                        "holds_short",
                        f"The {label}{side}: {len(bh)} of {b['holds_prescribed']} holds; do "
                        f"all {b['holds_prescribed']} × {b['hold_s']:g} s.",
                    )
                )
    for s in sets:
        f = s["fatigue"]
        if f["fatigued"]:
            parts = []
            if f["rom_change_pct"] is not None and f["rom_change_pct"] < -FATIGUE_ROM_DROP_PCT:
                parts.append(f"height fell {-f['rom_change_pct']:.0f}%")
            if (
                f["lower_change_pct"] is not None
                and f["lower_change_pct"] < -FATIGUE_LOWER_DROP_PCT
            ):
                parts.append(f"lowering got {-f['lower_change_pct']:.0f}% quicker")
            items.append(
                (
                    1.8,
                    "fatigue",
                    f"In set {s['set_number']}{leg(s['side'])} {' and '.join(parts)} towards "
                    "the end; rest longer before it or stop the set when form goes.",
                )
            )

    def holds_text(n: int) -> str:
        return "the stretch hold" if len(doc["stretches"]) == 1 else plural(n, "stretch hold")

    bouncy = [h for h in doc["stretches"] if h["bouncing"]]
    if bouncy:
        n = sum(h["n_bounces"] for h in bouncy)
        items.append(
            (
                3.5,
                "bouncing",
                f"{holds_text(len(bouncy)).capitalize()} had {plural(n, 'bounce')}; "
                "do not bounce: ease in and add a little pressure on each out-breath instead.",
            )
        )
    knee_in = [h for h in doc["stretches"] if h["knee_in"]]
    if knee_in:
        items.append(
            (
                3.0,
                "knee_in",
                f"In {holds_text(len(knee_in))} the knee caved inwards; let the knee "
                "travel over the outside of the foot.",
            )
        )
    wrong = [h for h in doc["stretches"] if h["knee_ok"] is False]
    if wrong:
        exp = wrong[0]["knee_expected"]
        items.append(
            (
                2.2,
                "wrong_knee",
                f"{plural(len(wrong), 'hold')} meant to be {exp}-knee looked "
                f"{'bent' if exp == 'straight' else 'straight'}-knee; "
                f"{'keep the knee straight' if exp == 'straight' else 'bend the knee'} "
                "for that stretch.",
            )
        )
    for s in doc["symmetry"] or {}:
        m = doc["symmetry"][s]
        if m["asymmetric"] and s in ("rom_mean_deg", "stretch_peak_dorsiflexion_deg"):
            weaker = "left" if (m["left"] or 0) < (m["right"] or 0) else "right"
            items.append(
                (
                    1.2,
                    "asymmetry",
                    f"The {weaker} leg reached less ({SYMMETRY_LABELS[s][0]}: left "
                    f"{SYMMETRY_LABELS[s][1].format(m['left'] or 0)}, right "
                    f"{SYMMETRY_LABELS[s][1].format(m['right'] or 0)}); start and finish on the "
                    "tighter side.",
                )
            )
    items.sort(key=lambda x: -x[0])
    out = [{"code": code, "text": text} for _, code, text in items[:3]]
    if not out:
        out.append(
            {
                "code": "on_target",
                "text": (
                    "Everything was on target; to progress, add reps or slow the lowering to 5 s."
                    if doc["reps"]
                    else "Everything was on target; keep going."
                ),
            }
        )
    return out


def _worst_set(block_sets: list[dict[str, Any]], phase: str, *, short: bool) -> str | None:
    """``set 3`` or ``sets 2 and 3``: the sets with the most reps off target in ``phase``
    (None when every set is equally off, or there is one set)."""
    if len(block_sets) < 2:
        return None
    key = "short" if short else "long"
    counts = {s["set_number"]: s["phases"][phase][key] for s in block_sets}
    most = max(counts.values())
    worst = sorted(n for n, c in counts.items() if c == most)
    if most == 0 or len(worst) == len(counts):
        return None
    if len(worst) == 1:
        return f"set {worst[0]}"
    return f"sets {', '.join(map(str, worst[:-1]))} and {worst[-1]}"
