"""Turn a compiled motion into a :class:`~companion.model.Session`: sensors plus truth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import make_interp_spline
from scipy.signal import butter, sosfiltfilt

from companion import __version__
from companion.errors import UsageError
from companion.model import Gap, ImuChunk, Placement, ReferenceTrack, SensorInfo, Session, Side
from companion.sim.curves import HermiteTrack, min_jerk
from companion.sim.faults import SensorFaults
from companion.sim.kinematics import Body, Motion, truth_angles
from companion.sim.scenario import Scenario, compile_scenario
from companion.sim.synth import SensorSynth

__all__ = ["SIMULATOR_VERSION", "START_TIME_UTC", "from_angle_curve", "simulate"]

SIMULATOR_VERSION = 1
"""Bumped whenever the same scenario and seed would produce different samples."""
START_TIME_UTC = "2026-01-01T00:00:00+00:00"
"""Fixed session start time, so that a seed reproduces a session byte for byte."""

_TRUTH_EVAL_HZ = 500.0  # dense grid for angle-valued truth fields of annotations
_BLOCK_SAMPLES = 60_000  # samples generated per piece (bounds the peak memory)


def _side_sign(side: str) -> float:
    try:
        return 1.0 if Side(side) is Side.LEFT else -1.0
    except ValueError:
        raise UsageError(f"unknown side {side!r}; use 'left' or 'right'.") from None


MAX_SESSION_S = 86400.0
"""Longest session the simulator writes (24 h)."""
MAX_SAMPLES_PER_SENSOR = 864_001
"""Most samples per sensor in one simulated session (about 1.3 GB while simulating)."""
MAX_SEED = 2**63 - 1


def check_seed(seed: int) -> int:
    """``seed`` as an int, or a one-line :class:`UsageError` if it is not in 0…2⁶³−1."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UsageError(f"seed {seed!r} is not a whole number; give a seed such as 0 or 42.")
    if not 0 <= int(seed) <= MAX_SEED:
        raise UsageError(f"seed {seed} is out of range; give a whole number from 0 to 2**63-1.")
    return int(seed)


def _check_rate(sampling_rate_hz: float) -> None:
    if not (math.isfinite(sampling_rate_hz) and 10.0 <= sampling_rate_hz <= 2000.0):
        raise UsageError(
            f"sampling rate {sampling_rate_hz!r} Hz is out of range; use 10 to 2000 Hz."
        )


def sensor_setup(
    side: str,
    faults: SensorFaults,
    sampling_rate_hz: float,
    seed: int,
    *,
    quaternions: bool = False,
) -> tuple[list[SensorInfo], list[SensorSynth]]:
    """The two sensors of a simulated session and their sample generators."""
    root = np.random.SeedSequence([int(seed), 0x51_4D])
    sensors: list[SensorInfo] = []
    synths: list[SensorSynth] = []
    for segment, seq in zip(("shin", "foot"), root.spawn(2), strict=True):
        placement = Placement(segment=segment, side=side)
        sensors.append(
            SensorInfo(
                sensor_id=placement.label,
                family="simulated",
                placement=placement,
                sampling_rate_hz=sampling_rate_hz,
                name=f"simulated {segment}",
                firmware=f"companion-sim {SIMULATOR_VERSION}",
                axis_mapping="identity",
                has_quaternion=quaternions,
                has_counter=True,
            )
        )
        synths.append(
            SensorSynth(
                segment,
                faults.for_segment(segment),
                sampling_rate_hz,
                seq,
                quaternions=quaternions,
            )
        )
    return sensors, synths


def gaps_of(sensor_id: str, t_s: np.ndarray, keep: np.ndarray) -> list[Gap]:
    """Gaps (reason ``dropped``) of a kept-sample mask over the nominal stamps ``t_s``."""
    return _gaps(sensor_id, t_s, keep)


def _gaps(sensor_id: str, t_s: np.ndarray, keep: np.ndarray) -> list[Gap]:
    gaps: list[Gap] = []
    dropped = ~keep
    if not np.any(dropped):
        return gaps
    edges = np.diff(dropped.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1
    ends = np.flatnonzero(edges == -1) + 1
    for s, e in zip(starts, ends, strict=True):
        gaps.append(
            Gap(
                sensor_id=sensor_id,
                t_start_s=float(t_s[s - 1]),
                t_end_s=float(t_s[e]),
                n_missing=int(e - s),
                reason="dropped",
            )
        )
    return gaps


def _fill_truth(motion: Motion, annotations: list[dict[str, Any]]) -> None:
    """Angle-valued truth fields of annotations, from the truth curves on a dense grid."""

    def curve(t0: float, t1: float) -> dict[str, np.ndarray]:
        n = max(3, math.ceil((t1 - t0) * _TRUTH_EVAL_HZ) + 1)
        t = np.linspace(t0, t1, n)
        return truth_angles(motion.pose(t), motion.side_sign)

    for a in annotations:
        if a["kind"] == "truth.rep":
            c = curve(a["t_start_s"], a["t_lower_end_s"])["truth_ankle_sagittal_deg"]
            bottom = float(c[0])
            peak = float(np.min(c)) if a["exercise"] == "calf_raise" else float(np.max(c))
            a["bottom_angle_deg"] = bottom
            a["peak_angle_deg"] = peak
            a["rom_deg"] = abs(peak - bottom)
        elif a["kind"] == "truth.hold":
            c = curve(a["t_start_s"], a["t_end_s"])
            sag = c["truth_ankle_sagittal_deg"]
            a["hold_angle_deg"] = float(np.mean(sag))
            a["hold_angle_min_deg"] = float(np.min(sag))
            a["hold_angle_max_deg"] = float(np.max(sag))
            a["shin_inclination_deg"] = float(np.mean(c["truth_shin_inclination_deg"]))
            a["knee_tracking_deg"] = float(np.mean(c["truth_knee_tracking_deg"]))
        elif a["kind"] == "truth.squat":
            c = curve(a["t_start_s"], a["t_end_s"])["truth_ankle_sagittal_deg"]
            a["peak_angle_deg"] = float(np.max(c))


def _round_times(annotations: list[dict[str, Any]]) -> None:
    """Round times to 1 µs so annotations read cleanly (far below any sample period)."""
    for a in annotations:
        for k, v in list(a.items()):
            if isinstance(v, float) and (k.endswith("_s") or k.endswith("_deg")):
                a[k] = round(v, 6) + 0.0  # + 0.0 turns −0.0 into 0.0
            elif isinstance(v, list) and k.endswith("_s"):
                a[k] = [round(float(x), 6) for x in v]


def _session(
    motion: Motion,
    annotations: list[dict[str, Any]],
    *,
    n_samples: int,
    sampling_rate_hz: float,
    side: str,
    faults: SensorFaults,
    seed: int,
    extra: dict[str, Any],
    notes: str,
    plan: dict[str, Any] | None = None,
    quaternions: bool = False,
) -> Session:
    t_nom = np.arange(n_samples, dtype=np.float64) / sampling_rate_hz
    t_last = float(t_nom[-1])
    sensors, synths = sensor_setup(side, faults, sampling_rate_hz, seed, quaternions=quaternions)
    chunks: dict[str, ImuChunk] = {}
    gaps: list[Gap] = []
    for info, synth in zip(sensors, synths, strict=True):
        # Generated in pieces to bound memory (the derivatives need several poses per
        # sample); the synthesiser's state makes the pieces join seamlessly.
        blocks = [
            synth.generate(motion, min(_BLOCK_SAMPLES, n_samples - k0))
            for k0 in range(0, n_samples, _BLOCK_SAMPLES)
        ]
        keep = np.concatenate([b.keep for b in blocks])
        keep[-1] = True  # and a recording ends with one

        def joined(name: str, keep: np.ndarray = keep, blocks: list = blocks) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in blocks])[keep]

        chunks[info.sensor_id] = ImuChunk(
            sensor_id=info.sensor_id,
            placement=info.placement,
            t_s=joined("t_s"),
            acc_m_s2=joined("acc_m_s2"),
            gyr_dps=joined("gyr_dps"),
            counter=joined("counter"),
            quat_wxyz=None if blocks[0].quat_wxyz is None else joined("quat_wxyz"),
        )
        gaps.extend(_gaps(info.sensor_id, t_nom, keep))
    pieces = [
        truth_angles(motion.pose(t_nom[k0 : k0 + _BLOCK_SAMPLES]), motion.side_sign)
        for k0 in range(0, n_samples, _BLOCK_SAMPLES)
    ]
    truth = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
    references = {
        name: ReferenceTrack(name=name, t_s=t_nom, values=values) for name, values in truth.items()
    }
    # Only what was completed inside the recording is truth (a cut set or rep is not).
    kept = [a for a in annotations if a["t_end_s"] <= t_last + 1e-9]
    _fill_truth(motion, kept)
    _round_times(kept)
    return Session(
        sensors=sensors,
        chunks=chunks,
        start_time_utc=START_TIME_UTC,
        app_version=__version__,
        gaps=gaps,
        annotations=kept,
        references=references,
        plan=plan,
        notes=notes,
        source="simulator",
        extra={
            **extra,
            "seed": int(seed),
            "faults": faults.to_dict(),
            "side": side,
            "sampling_rate_hz": float(sampling_rate_hz),
            "simulator_version": SIMULATOR_VERSION,
        },
    )


def simulate(
    scenario: str | Path | Scenario,
    *,
    seed: int = 0,
    duration_s: float | None = None,
    sampling_rate_hz: float = 100.0,
    side: str = "left",
    sensor_faults: SensorFaults | None = None,
    quaternions: bool = False,
) -> Session:
    """Simulate a scenario: two IMU streams (shin, foot) plus the truth.

    ``scenario`` is a :class:`Scenario`, a built-in name (see :func:`list_scenarios`) or a
    path to a TOML file. ``duration_s`` repeats the scenario until that much recording
    exists (and cuts it there); None records the scenario once. ``sensor_faults`` defaults
    to :meth:`SensorFaults.none`. ``quaternions`` adds each device's orientation estimate
    (sensor → its own earth frame, z up, heading per ``heading_offset_deg``/
    ``heading_drift_dps``) as ``quat_wxyz``, as AHRS-equipped sensors stream it. The same
    arguments always give the same session.
    """
    sc = Scenario.resolve(scenario)
    side_sign = _side_sign(side)
    _check_rate(sampling_rate_hz)
    faults = sensor_faults if sensor_faults is not None else SensorFaults.none()
    seed = check_seed(seed)
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0.0):
        raise UsageError(f"duration {duration_s!r} s is not positive; give seconds > 0.")
    if duration_s is not None and duration_s > MAX_SESSION_S:
        raise UsageError(
            f"duration {duration_s:g} s is longer than a simulated session may be; "
            f"give at most {MAX_SESSION_S:g} s (24 h)."
        )

    def build(repeats: int) -> tuple[Motion, list[dict[str, Any]]]:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4D4F]))
        return compile_scenario(sc, side_sign=side_sign, rng=rng, repeats=repeats)

    motion, annotations = build(1)
    if duration_s is None and motion.duration_s > MAX_SESSION_S:
        raise UsageError(
            f"scenario {sc.name!r} lasts {motion.duration_s:g} s, longer than a simulated "
            f"session may be; shorten its blocks to at most {MAX_SESSION_S:g} s (24 h) in all."
        )
    if duration_s is not None:
        if duration_s > motion.duration_s:
            motion, annotations = build(math.ceil(duration_s / motion.duration_s))
        total_s = float(duration_s)
    else:
        total_s = motion.duration_s
    n_samples = math.floor(total_s * sampling_rate_hz + 1e-9) + 1
    if n_samples > MAX_SAMPLES_PER_SENSOR:
        raise UsageError(
            f"{total_s:g} s at {sampling_rate_hz:g} Hz is {n_samples:,} samples per sensor, "
            f"more than the simulator holds in memory ({MAX_SAMPLES_PER_SENSOR:,}: 24 h at "
            "10 Hz, 2.4 h at 100 Hz); shorten the duration or lower the rate."
        )
    return _session(
        motion,
        annotations,
        n_samples=n_samples,
        sampling_rate_hz=sampling_rate_hz,
        side=side,
        faults=faults,
        seed=seed,
        extra={"scenario": sc.name, "scenario_spec": sc.to_dict()},
        notes=sc.description,
        plan=sc.plan(side),
        quaternions=quaternions,
    )


def from_angle_curve(
    t_s: np.ndarray,
    ankle_angle_deg: np.ndarray,
    *,
    exercise: str = "calf_raise",
    frontal_deg: np.ndarray | None = None,
    neutral_deg: float | None = None,
    lowpass_hz: float = 8.0,
    lead_in_s: float = 3.0,
    seed: int = 0,
    sampling_rate_hz: float = 100.0,
    side: str = "left",
    sensor_faults: SensorFaults | None = None,
    surface: str = "floor",
    body: Body | None = None,
    name: str = "angle-curve",
) -> Session:
    """Synthesise the shin and foot IMU signals of a measured sagittal ankle-angle curve.

    ``t_s``/``ankle_angle_deg`` (dorsiflexion +) are e.g. a motion-capture trial. The curve
    is re-zeroed at ``neutral_deg`` (default: the median of its first 0.3 s, i.e. the
    person's standing angle), NaN runs shorter than 0.2 s are bridged linearly, then it
    is low-pass filtered (zero-phase, ``lowpass_hz``) and interpolated with a quintic
    spline that starts and ends at rest (C2 throughout). ``exercise`` picks the kinematic
    mapping: ``calf_raise`` (the foot rocks about the MTP with the heel up, the shin
    follows 12 % forward), ``tibialis_raise`` (the toes lift about the ankle, the shin
    stays vertical) or ``stretch`` (the shin carries the angle over a flat foot). An
    optional ``frontal_deg`` curve (inversion +) is applied as foot inversion. A still
    lead-in of ``lead_in_s`` (annotated ``truth.still``) precedes it.
    The truth references hold the angles the sensors actually encode.
    """
    _check_rate(sampling_rate_hz)
    side_sign = _side_sign(side)
    if exercise not in ("calf_raise", "tibialis_raise", "stretch"):
        raise UsageError(
            f"unknown exercise {exercise!r} for an angle curve; "
            "use calf_raise, tibialis_raise or stretch."
        )
    if surface not in ("floor", "step"):
        raise UsageError(f"unknown surface {surface!r}; use floor or step.")
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    a = np.asarray(ankle_angle_deg, dtype=np.float64).reshape(-1)
    if t.shape != a.shape or t.shape[0] < 10:
        raise UsageError("the angle curve needs matching t_s and angle arrays of >= 10 samples.")
    if not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
        raise UsageError("the angle curve's t_s must be finite and strictly increasing.")
    fr = None if frontal_deg is None else np.asarray(frontal_deg, dtype=np.float64).reshape(-1)
    if fr is not None and fr.shape != t.shape:
        raise UsageError("frontal_deg must have the same length as t_s.")

    def bridge(values: np.ndarray, what: str) -> np.ndarray:
        bad = ~np.isfinite(values)
        if not np.any(bad):
            return values
        if np.all(bad):
            raise UsageError(f"the {what} curve holds no finite value.")
        run = 0
        longest = 0
        for b in bad:
            run = run + 1 if b else 0
            longest = max(longest, run)
        if longest * float(np.median(np.diff(t))) > 0.2:
            raise UsageError(
                f"the {what} curve has a gap of {longest} missing samples (> 0.2 s); "
                "cut the trial or fill the gap first."
            )
        out = values.copy()
        out[bad] = np.interp(t[bad], t[~bad], values[~bad])
        return out

    a = bridge(a, "ankle-angle")
    rate_in = 1.0 / float(np.median(np.diff(t)))
    if neutral_deg is None:
        neutral_deg = float(np.median(a[t <= t[0] + 0.3]))
    a = a - neutral_deg
    if fr is not None:
        fr = bridge(fr, "frontal-angle")
        fr = fr - float(np.median(fr[t <= t[0] + 0.3]))

    def smooth(x: np.ndarray) -> np.ndarray:
        if lowpass_hz < rate_in / 2.0 and x.shape[0] > 30:
            sos = butter(4, lowpass_hz, fs=rate_in, output="sos")
            return sosfiltfilt(sos, x)
        return x

    a = smooth(a)
    # A quintic spline clamped with zero velocity and acceleration at both ends, so the
    # curve joins the still lead-in and the still tail C2.
    t_rel = t - t[0] + lead_in_s + 1.0
    rest_bc = ([(1, 0.0), (2, 0.0)], [(1, 0.0), (2, 0.0)])
    spline_a = make_interp_spline(t_rel, a, k=5, bc_type=rest_bc)
    spline_f = None if fr is None else make_interp_spline(t_rel, smooth(fr), k=5, bc_type=rest_bc)
    t_first, t_last = float(t_rel[0]), float(t_rel[-1])
    a0, a1 = float(a[0]), float(a[-1])
    f0 = 0.0 if spline_f is None else float(spline_f(t_first))
    f1 = 0.0 if spline_f is None else float(spline_f(t_last))
    lean = 0.12

    def dofs_of(angle: np.ndarray, inv: np.ndarray) -> np.ndarray:
        out = np.zeros((angle.shape[0], 4))
        if exercise == "calf_raise":
            shin = -lean * angle
            out[:, 2] = shin
            out[:, 0] = shin - angle
        else:
            # Stretch: the shin carries the angle over a flat foot. Toe raise: the toes
            # lift about the ankle while the shin stays put.
            out[:, 2] = angle if exercise == "stretch" else 0.0
            out[:, 0] = out[:, 2] - angle
        out[:, 1] = inv
        return out

    def overlay(tt: np.ndarray) -> np.ndarray:
        inside = np.clip(tt, t_first, t_last)
        angle = spline_a(inside)
        inv = np.zeros_like(angle) if spline_f is None else spline_f(inside)
        # Lead-in: ease from neutral to the curve's first value (C2) over the last 1 s.
        w = min_jerk((tt - (t_first - 1.0)) / 1.0)
        angle = np.where(tt < t_first, w * a0, angle)
        inv = np.where(tt < t_first, w * f0, inv)
        angle = np.where(tt > t_last, a1, angle)
        inv = np.where(tt > t_last, f1, inv)
        return dofs_of(angle, inv)

    body = body or Body()
    tail_s = 1.0
    duration = t_last + tail_s
    motion = Motion(
        track=HermiteTrack(np.array([0.0]), np.zeros((1, 4))),
        body=body,
        side_sign=side_sign,
        duration_s=duration,
        overlays=[overlay],
        step_intervals=[(0.0, duration)] if surface == "step" else [],
    )
    faults = sensor_faults if sensor_faults is not None else SensorFaults.none()
    annotations: list[dict[str, Any]] = [
        {
            "kind": "truth.still",
            "t_start_s": 0.0,
            "t_end_s": lead_in_s,
            "calibration": True,
            "sway_deg": 0.0,
            "repeat_index": 0,
        },
        {
            "kind": "truth.curve",
            "exercise": exercise,
            "t_start_s": t_first,
            "t_end_s": t_last,
            "neutral_deg": float(neutral_deg),
            "lowpass_hz": float(lowpass_hz),
            "repeat_index": 0,
        },
    ]
    n_samples = math.floor(duration * sampling_rate_hz + 1e-9) + 1
    return _session(
        motion,
        annotations,
        n_samples=n_samples,
        sampling_rate_hz=sampling_rate_hz,
        side=side,
        faults=faults,
        seed=int(seed),
        extra={"scenario": name, "angle_curve": {"exercise": exercise, "surface": surface}},
        notes=f"sensor signals synthesised from a measured ankle-angle curve ({name})",
    )
