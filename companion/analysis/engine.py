"""The streaming analysis engine: chunks in, events and per-sample angles out.

:class:`SessionAnalyzer` takes shin and foot :class:`~companion.model.ImuChunk`\\ s of one
leg, interleaved, in any sizes. Per sensor, an :class:`OrientationTracker` (imufusion)
gives "up" in the sensor frame; the two sensors are resampled onto one time grid
(``output_rate_hz``, grid points ``k / output_rate_hz`` of the session clock), so alignment
never depends on how the chunks were cut. Every later step works one grid sample at a
time in plain Python floats: calibration (rows are buffered until it is done, then
replayed), angles, reps and phases, stretch holds. The batch function
:func:`analyze_session` is this same engine fed one chunk per sensor.

Grid samples whose neighbouring sensor samples are more than ``max_interp_gap_s`` apart
are *invalid*: their angles are NaN and they never start, continue or end a rep or a hold
(a rep interrupted by a gap is dropped rather than guessed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from companion.analysis.angles import AngleComputer
from companion.analysis.calibration import Calibration, estimate_axis
from companion.analysis.events import (
    AnalysisEvent,
    CalibrationDone,
    Hold,
    RepCompleted,
    SetCompleted,
    SetSummary,
    Warning,
)
from companion.analysis.events import Rep as Rep
from companion.analysis.holds import HoldTracker
from companion.analysis.orientation import OrientationTracker, paused_gc, run_beside
from companion.analysis.reps import RepTracker
from companion.analysis.settings import DEFAULT_SETTINGS, AnalysisSettings
from companion.model import GRAVITY_M_S2, ImuChunk, Segment, Session

__all__ = [
    "CHANNEL_NAMES",
    "EXERCISE_HINTS",
    "AnalysisResult",
    "AngleFrame",
    "SessionAnalyzer",
    "analyze_session",
]

EXERCISE_HINTS = (
    "calf_raise",
    "tibialis_raise",
    "stretch",
    "stretch_straight",
    "stretch_bent",
)

CHANNEL_NAMES = (
    "t_s",
    "ankle_sagittal_deg",
    "ankle_frontal_deg",
    "shin_inclination_deg",
    "foot_pitch_deg",
    "knee_tracking_deg",
    "ankle_velocity_dps",
)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AngleFrame:
    """Per-sample output rows (one per grid sample), column arrays of equal length.

    ``phase`` labels: ``""`` (none), ``rise``, ``hold``, ``lower``, ``rest`` (inside a calf
    or tibialis set), ``stretch`` (inside a stretch hold). ``rep`` is the running rep
    number ("set.rep", e.g. ``"0.3"``) or ``""``. Angles are NaN where ``valid`` is False.
    Phase labels are assigned when a rep completes, so rows returned incrementally carry
    the label known at that time; the whole-session frame carries the final labels.
    """

    t_s: np.ndarray
    ankle_sagittal_deg: np.ndarray
    ankle_frontal_deg: np.ndarray
    shin_inclination_deg: np.ndarray
    foot_pitch_deg: np.ndarray
    knee_tracking_deg: np.ndarray
    ankle_velocity_dps: np.ndarray
    valid: np.ndarray
    phase: np.ndarray
    rep: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            "t_s": self.t_s,
            "ankle_sagittal_deg": self.ankle_sagittal_deg,
            "ankle_frontal_deg": self.ankle_frontal_deg,
            "shin_inclination_deg": self.shin_inclination_deg,
            "foot_pitch_deg": self.foot_pitch_deg,
            "knee_tracking_deg": self.knee_tracking_deg,
            "ankle_velocity_dps": self.ankle_velocity_dps,
            "valid": self.valid,
            "phase": self.phase,
            "rep": self.rep,
        }


@dataclass(kw_only=True, eq=False)
class AnalysisResult:
    """Everything :func:`analyze_session` found."""

    reps: list[Rep]
    sets: list[SetSummary]
    holds: list[Hold]
    warnings: list[Warning]
    channels: AngleFrame
    calibration: Calibration | None
    events: list[AnalysisEvent]
    side: str
    notes: list[str] = field(default_factory=list)

    @property
    def calibration_flagged_fallback(self) -> bool:
        return self.calibration is None or self.calibration.flagged_fallback


class _SensorStream:
    """Orientation output of one sensor (numpy arrays), kept until the grid has passed it."""

    __slots__ = ("_parts", "acc", "gyr", "t", "tracker", "up")

    def __init__(self, tracker: OrientationTracker) -> None:
        self.tracker = tracker
        self.t = np.empty(0)
        self.up = np.empty((0, 3))
        self.gyr = np.empty((0, 3))
        self.acc = np.empty((0, 3))
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, chunk: ImuChunk) -> None:
        self._append(*self.tracker.update(chunk))

    def whole_beside(self, chunk: ImuChunk):
        """Batch only: start this sensor's whole recording (``chunk``, then the end of the
        recording) in a child process where that wins (:func:`run_beside`); the returned
        ``collect()`` adds the samples, exactly as :meth:`add` then :meth:`flush` would."""
        tracker = self.tracker

        def job():
            parts = (tracker.update(chunk), tracker.flush())
            return parts, tracker.initial_offset_dps

        result = run_beside(job, len(chunk))

        def collect() -> None:
            parts, offset = result()
            for p in parts:
                self._append(*p)
            # The tracker here has seen nothing: mark it as past its priming, so that a
            # later flush() (finish) adds nothing, as after the in-process path.
            tracker._pending = None
            tracker.initial_offset_dps = offset

        return collect

    def flush(self) -> None:
        self._append(*self.tracker.flush())

    def _append(self, t: np.ndarray, up: np.ndarray, gyr: np.ndarray, acc: np.ndarray) -> None:
        if t.size:
            self._parts.append((t, up, gyr, acc))

    def merge(self) -> None:
        """Join the parts added since the last call onto the kept samples."""
        if not self._parts:
            return
        parts = self._parts
        self._parts = []
        self.t = np.concatenate([self.t, *(p[0] for p in parts)])
        self.up = np.concatenate([self.up, *(p[1] for p in parts)])
        self.gyr = np.concatenate([self.gyr, *(p[2] for p in parts)])
        self.acc = np.concatenate([self.acc, *(p[3] for p in parts)])

    def sample(self, tk: np.ndarray, max_gap_s: float):
        """Interpolated (up, gyr, acc, ok, bracket width s) at the grid times ``tk`` (all
        within [t[0], t[-1]]; per element the same arithmetic whatever the chunking), then
        drops the samples no later grid point needs."""
        t = self.t
        n = t.size
        j = np.maximum(np.searchsorted(t, tk, side="right") - 1, 0)
        jn = np.minimum(j + 1, n - 1)
        t0 = t[j]
        t1 = t[jn]
        exact = (t0 == tk) | (jn == j)
        den = np.where(exact, 1.0, t1 - t0)
        w = np.where(exact, 0.0, (tk - t0) / den)
        ok = np.where(exact, t0 == tk, (t1 - t0) <= max_gap_s)
        width = np.where(exact, 0.0, t1 - t0)

        def lerp(v: np.ndarray) -> list[np.ndarray]:
            v0 = v[j]
            v1 = v[jn]
            return [
                np.where(exact, v0[:, c], v0[:, c] + w * (v1[:, c] - v0[:, c])) for c in range(3)
            ]

        ux, uy, uz = lerp(self.up)
        nrm = np.sqrt(ux * ux + uy * uy + uz * uz)
        nrm = np.where(exact | (nrm == 0.0), 1.0, nrm)
        up = [ux / nrm, uy / nrm, uz / nrm]
        gyr = lerp(self.gyr)
        acc = lerp(self.acc)
        keep = int(j[-1])
        if keep:
            self.t = t[keep:]
            self.up = self.up[keep:]
            self.gyr = self.gyr[keep:]
            self.acc = self.acc[keep:]
        return up, gyr, acc, ok, width


@dataclass(slots=True, eq=False)
class _Block:
    """Grid rows of both sensors as contiguous column arrays (x, y, z lists of arrays)."""

    t: np.ndarray
    valid: np.ndarray
    bridged: np.ndarray
    up_s: list[np.ndarray]
    up_f: list[np.ndarray]
    gyr_s: list[np.ndarray]
    gyr_f: list[np.ndarray]
    acc_s: np.ndarray
    acc_f: np.ndarray
    accv_s: list[np.ndarray]

    def __len__(self) -> int:
        return int(self.t.size)

    def rows(self, a: int, b: int) -> list[_Row]:
        """Rows ``a:b`` as :class:`_Row` objects (for the per-row calibration)."""

        def tup(cols: list[np.ndarray]) -> list[tuple[float, float, float]]:
            return list(zip(*(c[a:b].tolist() for c in cols), strict=True))

        return [
            _Row(
                t=t,
                valid=v,
                bridged=br,
                up_s=us,
                up_f=uf,
                gyr_s=gs,
                gyr_f=gf,
                acc_s=as_,
                acc_f=af,
                accv_s=av,
            )
            for t, v, br, us, uf, gs, gf, as_, af, av in zip(
                self.t[a:b].tolist(),
                self.valid[a:b].tolist(),
                self.bridged[a:b].tolist(),
                tup(self.up_s),
                tup(self.up_f),
                tup(self.gyr_s),
                tup(self.gyr_f),
                self.acc_s[a:b].tolist(),
                self.acc_f[a:b].tolist(),
                tup(self.accv_s),
                strict=True,
            )
        ]

    def tail(self, a: int) -> _Block:
        return _Block(
            t=self.t[a:],
            valid=self.valid[a:],
            bridged=self.bridged[a:],
            up_s=[c[a:] for c in self.up_s],
            up_f=[c[a:] for c in self.up_f],
            gyr_s=[c[a:] for c in self.gyr_s],
            gyr_f=[c[a:] for c in self.gyr_f],
            acc_s=self.acc_s[a:],
            acc_f=self.acc_f[a:],
            accv_s=[c[a:] for c in self.accv_s],
        )

    @staticmethod
    def from_rows(rows: list[_Row]) -> _Block:
        def cols(vals: list[tuple[float, float, float]]) -> list[np.ndarray]:
            arr = np.array(vals, dtype=np.float64).reshape(-1, 3)
            return [np.ascontiguousarray(arr[:, c]) for c in range(3)]

        return _Block(
            t=np.array([r.t for r in rows], dtype=np.float64),
            valid=np.array([r.valid for r in rows], dtype=bool),
            bridged=np.array([r.bridged for r in rows], dtype=bool),
            up_s=cols([r.up_s for r in rows]),
            up_f=cols([r.up_f for r in rows]),
            gyr_s=cols([r.gyr_s for r in rows]),
            gyr_f=cols([r.gyr_f for r in rows]),
            acc_s=np.array([r.acc_s for r in rows], dtype=np.float64),
            acc_f=np.array([r.acc_f for r in rows], dtype=np.float64),
            accv_s=cols([r.accv_s for r in rows]),
        )


@dataclass(slots=True)
class _Row:
    t: float
    valid: bool
    up_s: tuple[float, float, float]
    up_f: tuple[float, float, float]
    gyr_s: tuple[float, float, float]
    gyr_f: tuple[float, float, float]
    acc_s: float
    acc_f: float
    accv_s: tuple[float, float, float]
    bridged: bool = False
    """Interpolated across missing samples (a short gap): fine for angles, not for timing."""


class _Calibrator:
    """Streaming calibration: finds the stance, then the axes (see calibration.py)."""

    def __init__(self, settings: AnalysisSettings, side: str, exercise_hint: str | None) -> None:
        self.s = settings
        self.side = side
        self.hint = exercise_hint
        self.rows: list[_Row] = []
        self.t_first: float | None = None
        self.run_start: int | None = None
        self.stance: tuple[int, int] | None = None
        self.fallback = False
        self.rot_s = 0.0
        self.rot_f = 0.0
        self.tilt_s = 0.0
        self.t_invalid_since: float | None = None
        self.t_tilted: float | None = None
        self.notes: list[str] = []

    def _still(self, r: _Row) -> bool:
        thr = self.s.still_gyr_dps
        tol = self.s.still_acc_tol_m_s2
        gs, gf = r.gyr_s, r.gyr_f
        return (
            r.valid
            and gs[0] * gs[0] + gs[1] * gs[1] + gs[2] * gs[2] < thr * thr
            and gf[0] * gf[0] + gf[1] * gf[1] + gf[2] * gf[2] < thr * thr
            and abs(r.acc_s - GRAVITY_M_S2) < tol
            and abs(r.acc_f - GRAVITY_M_S2) < tol
        )

    def _close_run(self, end: int, *, final: bool) -> None:
        if self.run_start is None or self.stance is not None:
            return
        start = self.run_start
        dur = self.rows[end - 1].t - self.rows[start].t
        assert self.t_first is not None
        late = self.rows[start].t - self.t_first > self.s.stance_search_s
        if dur >= self.s.stance_min_s:
            self.stance = (start, end)
            self.fallback = late
        elif (late or final) and dur >= self.s.fallback_still_min_s:
            self.stance = (start, end)
            self.fallback = True
        self.run_start = None

    def add(self, r: _Row) -> Calibration | None:
        """Feed one row; returns the calibration when it completes."""
        self.rows.append(r)
        i = len(self.rows) - 1
        if self.t_first is None:
            self.t_first = r.t
        if self.stance is None:
            if not r.valid:
                # A short gap does not end a still period; a long one does.
                if self.t_invalid_since is None:
                    self.t_invalid_since = r.t
                if r.t - self.t_invalid_since > _STILL_GAP_S:
                    self._close_run(i, final=False)
                return None
            self.t_invalid_since = None
            if self._still(r):
                if self.run_start is None:
                    self.run_start = i
            else:
                self._close_run(i, final=False)
            return None
        # Axis window after the stance.
        if r.valid and i > 0:
            dt = r.t - self.rows[i - 1].t
            bs, bf = self._bias()
            gs_ = (r.gyr_s[0] - bs[0], r.gyr_s[1] - bs[1], r.gyr_s[2] - bs[2])
            gf_ = (r.gyr_f[0] - bf[0], r.gyr_f[1] - bf[1], r.gyr_f[2] - bf[2])
            self.rot_s += _perp_norm(gs_, self._up("s")) * dt
            self.rot_f += _perp_norm(gf_, self._up("f")) * dt
        t_end_stance = self.rows[self.stance[1] - 1].t
        if r.valid:
            u0 = self._up("s")
            d = r.up_s[0] * u0[0] + r.up_s[1] * u0[1] + r.up_s[2] * u0[2]
            self.tilt_s = max(self.tilt_s, math.degrees(math.acos(max(-1.0, min(1.0, d)))))
            if self.t_tilted is None and self.tilt_s >= self.s.axis_min_rotation_deg + 0.5:
                self.t_tilted = r.t
        if (
            max(self.rot_s, self.rot_f) >= self.s.axis_rotation_deg
            and self.t_tilted is not None
            and r.t - self.t_tilted >= _AXIS_EXTRA_S
        ) or r.t - t_end_stance >= self.s.axis_timeout_s:
            return self._solve()
        return None

    def finish(self) -> Calibration | None:
        if self.stance is None:
            self._close_run(len(self.rows), final=True)
        if self.stance is None or self.stance[1] >= len(self.rows) - 1:
            # Still only (or nothing still): neutral from the stance, axes unknown.
            if self.stance is None:
                return None
        return self._solve()

    def _bias(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Residual gyroscope offsets (deg/s) over the stance: the imufusion estimator
        needs a few still seconds before it adapts, the stance gives them at once."""
        cached = getattr(self, "_bias_cache", None)
        if cached is None:
            assert self.stance is not None
            a, b = self.stance
            rows = [r for r in self.rows[a:b] if r.valid]
            bs = np.array([r.gyr_s for r in rows]).mean(axis=0)
            bf = np.array([r.gyr_f for r in rows]).mean(axis=0)
            cached = (tuple(bs.tolist()), tuple(bf.tolist()))
            self._bias_cache = cached
        return cached

    def _up(self, which: str) -> tuple[float, float, float]:
        cached = getattr(self, "_up_cache", None)
        if cached is None:
            assert self.stance is not None
            a, b = self.stance
            rows = [r for r in self.rows[a:b] if r.valid]
            us = np.array([r.up_s for r in rows]).mean(axis=0)
            uf = np.array([r.up_f for r in rows]).mean(axis=0)
            us /= np.linalg.norm(us)
            uf /= np.linalg.norm(uf)
            cached = (tuple(us.tolist()), tuple(uf.tolist()))
            self._up_cache = cached
        return cached[0] if which == "s" else cached[1]

    def _solve(self) -> Calibration:
        assert self.stance is not None
        a, b = self.stance
        up_s = np.array(self._up("s"))
        up_f = np.array(self._up("f"))
        win = [r for r in self.rows[b:] if r.valid]
        if len(win) >= 3:
            t = np.array([r.t for r in win])
            dt = np.diff(t, prepend=t[0])
            dt[dt > self.s.max_interp_gap_s] = 0.0
            bs, bf = self._bias()
            gs = np.array([r.gyr_s for r in win]) - np.array(bs)
            gf = np.array([r.gyr_f for r in win]) - np.array(bf)
            ax_s, trav_s, sign_s = estimate_axis(
                gs, up_s, dt, excursion_deg=self.s.sign_excursion_deg
            )
            ax_f, trav_f, sign_f = estimate_axis(
                gf, up_f, dt, excursion_deg=self.s.sign_excursion_deg
            )
        else:
            ax_s, trav_s, sign_s = _any_perp(up_s), 0.0, 0.0
            ax_f, trav_f, sign_f = _any_perp(up_f), 0.0, 0.0
        notes = []
        if len(win) >= 3:
            # Foot: which way is "heel up"? Lifting the heel pivots the foot about the toes
            # and lifts the ankle (the shin sensor accelerates up and down); lifting the toes
            # pivots about the heel and leaves the ankle where it is.
            acc_s = np.array([r.acc_s for r in win]) - GRAVITY_M_S2
            # Foot pitch about the provisional axis from the drift-free "up" vectors.
            uf = np.array([r.up_f for r in win])
            ap_f = np.cross(ax_f, up_f)
            phi = np.arctan2(-(uf @ ap_f), uf @ up_f)
            # Only where the shin is nearly still (pumps, raises), not in walking.
            calm = (
                np.convolve(
                    (np.linalg.norm(gs, axis=1) > _CALM_SHIN_DPS).astype(float), np.ones(51), "same"
                )
                == 0
            )
            heel_sign = _heel_up_sign(t, phi, acc_s, calm)
            if heel_sign != 0.0:
                ax_f = ax_f * heel_sign
                sign_f = 1.0
                notes.append("foot forward direction from the ankle lift of heel raises")
            else:
                toes_first = self.hint in (
                    "tibialis_raise",
                    "stretch",
                    "stretch_straight",
                    "stretch_bent",
                )
                if sign_f != 0.0:
                    ax_f = ax_f * sign_f * (-1.0 if toes_first else 1.0)
                else:
                    notes.append("foot never pitched clearly: its forward direction is provisional")
            # Shin: in calf raises the shin follows the heel lift forward, so its rate
            # correlates positively with the foot's; otherwise its first clear excursion is
            # forward (backward when leaning against a wall for tibialis raises).
            # The shin often tilts only a few degrees, where residual gyroscope offsets
            # (still being learnt by imufusion) matter: take its axis from how its "up"
            # vector moved instead (it moves along the anterior axis, ⊥ the hinge).
            us = np.array([r.up_s for r in win])
            dev = us - np.outer(us @ up_s, up_s)
            tilt_deg = np.degrees(np.linalg.norm(dev, axis=1))
            if float(np.max(tilt_deg)) >= self.s.axis_min_rotation_deg:
                _, vecs = np.linalg.eigh(dev.T @ dev)
                ap = vecs[:, -1] - np.dot(vecs[:, -1], up_s) * up_s
                ap /= np.linalg.norm(ap)
                ax_s = np.cross(up_s, ap)
                trav_s = max(trav_s, float(np.max(tilt_deg)))
            ap_s = np.cross(ax_s, up_s)
            theta = np.degrees(np.arctan2(-(us @ ap_s), us @ up_s))  # shin forward tilt
            foot_pitch = np.degrees(np.arctan2(-(uf @ np.cross(ax_f, up_f)), uf @ up_f))
            corr = _corr(theta, foot_pitch)
            big = np.flatnonzero(np.abs(theta) > self.s.sign_excursion_deg)
            # Heel raises move the ankle (and the shin riding on it) up AND forward, toward
            # the toes: the shin's acceleration along its anterior axis follows the lift.
            acc_v = np.array([r.accv_s for r in win])
            lin = acc_v - GRAVITY_M_S2 * us
            fwd_corr = _forward_corr(
                t, phi * heel_sign if heel_sign != 0.0 else None, lin @ ap_s, calm
            )
            fwd_dir, dir_corr = (None, 0.0)
            if heel_sign != 0.0:
                lin_h = lin - np.outer(lin @ up_s, up_s)
                fwd_dir, dir_corr = _forward_direction(t, phi * heel_sign, lin_h, calm)
            if fwd_dir is not None and dir_corr >= _FWD_DIR_MIN_CORR:
                # The direction itself, not only its sign: independent of how the shin
                # later tilts (a stretch with the knee caving in tilts it sideways too).
                ax_s = np.cross(up_s, fwd_dir)
                sign_s = 1.0
                trav_s = max(trav_s, self.s.axis_min_rotation_deg)
                notes.append(
                    f"shin axes from the ankle's forward travel in heel lifts (r={dir_corr:.2f})"
                )
            elif heel_sign != 0.0 and abs(fwd_corr) >= 0.3:
                ax_s = ax_s * math.copysign(1.0, fwd_corr)
                sign_s = 1.0
                notes.append(
                    f"shin forward direction from the ankle's forward travel in heel lifts "
                    f"(r={fwd_corr:.2f})"
                )
            elif trav_s >= self.s.axis_min_rotation_deg and abs(corr) >= 0.3 and heel_sign != 0.0:
                ax_s = ax_s * math.copysign(1.0, corr)
                sign_s = 1.0
                notes.append(
                    f"shin forward direction from its coupling to the heel lift (r={corr:.2f})"
                )
            elif big.size:
                first = math.copysign(1.0, float(theta[big[0]]))
                ax_s = ax_s * first * (-1.0 if self.hint == "tibialis_raise" else 1.0)
                sign_s = 1.0
                notes.append("shin forward direction from its first clear tilt (assumed forward)")
            else:
                sign_s = 0.0
                notes.append("shin never tilted clearly: its forward direction is provisional")
        conf_s = trav_s >= self.s.axis_min_rotation_deg and sign_s != 0.0
        conf_f = trav_f >= self.s.axis_min_rotation_deg and sign_f != 0.0
        if self.fallback:
            notes.append("no calibration stance found: neutral taken from the first still period")
        return Calibration(
            side=self.side,
            up_shin=tuple(up_s.tolist()),
            up_foot=tuple(up_f.tolist()),
            ml_shin=tuple(ax_s.tolist()),
            ml_foot=tuple(ax_f.tolist()),
            t_stance_start_s=self.rows[a].t,
            t_stance_end_s=self.rows[b - 1].t,
            t_done_s=self.rows[-1].t,
            flagged_fallback=self.fallback,
            shin_axis_confident=conf_s,
            foot_axis_confident=conf_f,
            method="fallback: first still period + first motions"
            if self.fallback
            else "stance+motion",
            notes=tuple(notes),
        )


_CALM_SHIN_DPS = 30.0  # shin rates below this (±0.25 s) count for the heel-lift cue
_HEEL_MIN_R2 = 0.2  # the ankle-lift model must explain this share of the shin's vertical acc
_HEEL_MIN_MARGIN = 0.1  # ... and this much more than the best model with the other sign
_STILL_GAP_S = 0.5  # a gap longer than this ends a still period
_AXIS_EXTRA_S = 1.0  # keep collecting this long after the shin first tilted clearly
_FWD_DIR_MIN_CORR = 0.6  # accept the shin's forward direction from heel lifts above this r


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else 0.0


def _forward_direction(
    t: np.ndarray, phi_heel_rad: np.ndarray, lin_h: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray | None, float]:
    """Horizontal direction (shin frame) in which the shin accelerates with heel lifts.

    Regresses the shin's horizontal linear acceleration on the heel-lift template (second
    derivative of ``sin(max(phi, 0))``); returns the unit direction and the correlation of
    the template with the acceleration along it.
    """
    if t.size < 20 or mask.sum() <= 50:
        return None, 0.0
    h = np.sin(np.clip(phi_heel_rad, 0.0, None))
    tmpl = np.gradient(np.gradient(h, t), t)[mask]
    a = lin_h[mask] - lin_h[mask].mean(axis=0)
    tmpl = tmpl - tmpl.mean()
    den = float(tmpl @ tmpl)
    if den <= 0.0:
        return None, 0.0
    b = (tmpl @ a) / den
    nb = float(np.linalg.norm(b))
    if nb == 0.0:
        return None, 0.0
    d = b / nb
    return d, _corr(tmpl, a @ d)


def _forward_corr(
    t: np.ndarray, phi_rad: np.ndarray | None, acc_ap: np.ndarray, mask: np.ndarray
) -> float:
    """Correlation of the shin's anterior acceleration with the heel-lift template."""
    if phi_rad is None or t.size < 20 or mask.sum() <= 50:
        return 0.0
    h = np.sin(np.clip(phi_rad, 0.0, None))
    acc = np.gradient(np.gradient(h, t), t)
    return _corr(acc[mask], acc_ap[mask])


def _heel_up_sign(
    t: np.ndarray, phi_rad: np.ndarray, acc_vert: np.ndarray, mask: np.ndarray
) -> float:
    """+1 if positive ``phi`` lifts the heel (ankle rises), −1 if negative does, 0 if unclear.

    Lifting the heel pivots the foot about the toes and lifts the ankle by about
    ``L·sin(phi)``; lifting the toes on flat ground pivots about the heel and leaves the
    ankle where it is; on a step edge the foot pivots about the toes both ways (``L·sin(phi)``
    throughout). The shin sensor's vertical acceleration is compared with the second
    derivative of each of the four hypotheses (heel up on the + or − side, floor or step);
    the best one, with a positive lever arm ``L``, gives the sign.
    """
    if t.size < 20 or mask.sum() <= 50:
        return 0.0
    tp = np.gradient(np.gradient(np.sin(np.clip(phi_rad, 0.0, None)), t), t)[mask]
    tn = np.gradient(np.gradient(np.sin(np.clip(phi_rad, None, 0.0)), t), t)[mask]
    y = acc_vert[mask] - float(np.mean(acc_vert[mask]))
    ss = float(y @ y)
    if ss <= 0.0:
        return 0.0
    # Four hypotheses (heel up on the + / − side, flat ground / step edge), each a template
    # whose lever arm L must come out positive; the best explained variance wins.
    hyps = {
        (1.0, "floor"): tp,
        (-1.0, "floor"): -tn,
        (1.0, "step"): tp + tn,
        (-1.0, "step"): -(tp + tn),
    }
    r2 = {}
    for key, tmpl in hyps.items():
        x = tmpl - float(np.mean(tmpl))
        den = float(x @ x)
        lever = float(x @ y) / den if den > 0 else 0.0
        r2[key] = (lever * lever * den) / ss if lever > 0 else 0.0
    best = max(r2, key=lambda k: r2[k])
    other = max(v for k, v in r2.items() if k[0] != best[0])
    if r2[best] < _HEEL_MIN_R2 or r2[best] - other < _HEEL_MIN_MARGIN:
        return 0.0
    return best[0]


def _perp_norm(g: tuple[float, float, float], u: tuple[float, float, float]) -> float:
    d = g[0] * u[0] + g[1] * u[1] + g[2] * u[2]
    x, y, z = g[0] - d * u[0], g[1] - d * u[1], g[2] - d * u[2]
    return math.sqrt(x * x + y * y + z * z)


def _any_perp(u: np.ndarray) -> np.ndarray:
    e = np.eye(3)[int(np.argmin(np.abs(u)))]
    v = e - np.dot(e, u) * u
    return v / np.linalg.norm(v)


class SessionAnalyzer:
    """Streaming analysis of one leg (shin + foot sensor).

    Parameters
    ----------
    settings
        :class:`AnalysisSettings`; :data:`DEFAULT_SETTINGS` unless given.
    side
        ``"left"`` or ``"right"``: chunks whose placement is on the other side are ignored.
    calibration
        A known calibration (skips the stance/axis search), or None.
    exercise_hint
        One of :data:`EXERCISE_HINTS` or None: restricts reps to that exercise, fixes the
        foot's first excursion for calibration and the knee state of stretches.
    sampling_rate_hz
        Nominal sensor rate used to configure imufusion (the measured sample period is fed
        per sample); 100 Hz when not given.
    angles_only
        Compute only orientation, calibration and the per-sample angles: no rep or hold
        detection (so no phase fits). The live window draws such an analyzer's rows while the
        full one may still be measuring a rep; the rows are the same (the trackers only read
        the angle channels), the rep/phase label channels stay empty.

    ``feed(chunk)`` returns the events the new data completed; ``finish()`` flushes the end
    of the recording. ``frames_since_last()`` and ``frames()`` give the per-sample angles.
    """

    def __init__(
        self,
        settings: AnalysisSettings = DEFAULT_SETTINGS,
        *,
        side: str,
        calibration: Calibration | None = None,
        exercise_hint: str | None = None,
        sampling_rate_hz: float = 100.0,
        angles_only: bool = False,
    ) -> None:
        if side not in ("left", "right"):
            msg = f"side must be 'left' or 'right', got {side!r}"
            raise ValueError(msg)
        if exercise_hint is not None and exercise_hint not in EXERCISE_HINTS:
            msg = f"exercise_hint must be one of {EXERCISE_HINTS} or None, got {exercise_hint!r}"
            raise ValueError(msg)
        self.settings = settings
        self.side = side
        self.exercise_hint = exercise_hint
        self._shin = _SensorStream(OrientationTracker(settings, sampling_rate_hz))
        self._foot = _SensorStream(OrientationTracker(settings, sampling_rate_hz))
        self._k_next: int | None = None
        self._calibrator: _Calibrator | None = None
        self.calibration: Calibration | None = calibration
        self._angles: AngleComputer | None = None
        if calibration is None:
            self._calibrator = _Calibrator(settings, side, exercise_hint)
        else:
            self._angles = AngleComputer(calibration)
        # Channels (whole session).
        self._t: list[float] = []
        self._sag: list[float] = []
        self._front: list[float] = []
        self._shin_incl: list[float] = []
        self._foot_pitch: list[float] = []
        self._knee: list[float] = []
        self._vel: list[float] = []
        self._valid: list[bool] = []
        self._bridged: list[bool] = []
        self._bridge_s = 2.5 / float(sampling_rate_hz)
        self._phase: list[str] = []
        self._rep: list[str] = []
        self._n_returned = 0
        self._events: list[AnalysisEvent] = []
        self._blk: _Cols | None = None
        self._blk_i0 = 0
        self.angles_only = bool(angles_only)
        self._reps: RepTracker | _NoTracking
        self._holds: HoldTracker | _NoTracking
        if self.angles_only:
            self._reps, self._holds = _NoTracking(), _NoTracking()
        else:
            self._reps = RepTracker(settings, exercise_hint, self)
            self._holds = HoldTracker(settings, exercise_hint, self)
        self._finished = False
        self.n_invalid_rows = 0

    # ----------------------------------------------------------------- public API
    def feed(self, chunk: ImuChunk) -> list[AnalysisEvent]:
        """Consume one chunk (shin or foot of this side) and return the new events."""
        if self._finished:
            msg = "SessionAnalyzer.feed() after finish()"
            raise RuntimeError(msg)
        if chunk.placement.side.value != self.side or len(chunk) == 0:
            return []
        stream = self._shin if chunk.placement.segment == Segment.SHIN else self._foot
        stream.add(chunk)
        out: list[AnalysisEvent] = []
        self._advance(out)
        self._events.extend(out)
        return out

    def finish(self) -> list[AnalysisEvent]:
        """End of the recording: close open reps, sets and holds; return their events."""
        out: list[AnalysisEvent] = []
        if not self._finished:
            self._finished = True
            self._shin.flush()
            self._foot.flush()
            self._advance(out)
            if self._calibrator is not None:
                cal = self._calibrator.finish()
                if cal is not None:
                    self._start(cal, out)
                else:
                    t_end = self._calibrator.rows[-1].t if self._calibrator.rows else 0.0
                    out.append(
                        Warning(
                            t_s=t_end,
                            kind="uncalibrated",
                            message="No still period was found, so no angles could be computed; "
                            "start with 2-3 s of standing still.",
                        )
                    )
                    for r in self._calibrator.rows:
                        self._append_invalid(r.t)
                    self._calibrator = None
            self._reps.finish(out)
            self._holds.finish(out)
            self._events.extend(out)
        return out

    @property
    def events(self) -> list[AnalysisEvent]:
        return list(self._events)

    def frames(self) -> AngleFrame:
        """All per-sample rows computed so far."""
        return self._frame(0, len(self._t))

    def frames_since_last(self) -> AngleFrame:
        """Rows computed since the previous call."""
        a, b = self._n_returned, len(self._t)
        self._n_returned = b
        return self._frame(a, b)

    # ----------------------------------------------------------------- internals
    def _frame(self, a: int, b: int) -> AngleFrame:
        return AngleFrame(
            t_s=np.array(self._t[a:b], dtype=np.float64),
            ankle_sagittal_deg=np.array(self._sag[a:b], dtype=np.float64),
            ankle_frontal_deg=np.array(self._front[a:b], dtype=np.float64),
            shin_inclination_deg=np.array(self._shin_incl[a:b], dtype=np.float64),
            foot_pitch_deg=np.array(self._foot_pitch[a:b], dtype=np.float64),
            knee_tracking_deg=np.array(self._knee[a:b], dtype=np.float64),
            ankle_velocity_dps=np.array(self._vel[a:b], dtype=np.float64),
            valid=np.array(self._valid[a:b], dtype=bool),
            phase=np.array(self._phase[a:b], dtype=object),
            rep=np.array(self._rep[a:b], dtype=object),
        )

    def _advance(self, out: list[AnalysisEvent]) -> None:
        s, f = self._shin, self._foot
        s.merge()
        f.merge()
        if s.t.size == 0 or f.t.size == 0:
            return
        rate = self.settings.output_rate_hz
        if self._k_next is None:
            self._k_next = math.ceil(max(float(s.t[0]), float(f.t[0])) * rate - 1e-9)
        end = min(float(s.t[-1]), float(f.t[-1]))
        k_last = math.floor(end * rate + 1e-6) + 1
        if k_last < self._k_next:
            return
        tk = np.arange(self._k_next, k_last + 1, dtype=np.int64) / rate
        tk = tk[tk <= end]
        n = tk.size
        if n == 0:
            return
        self._k_next += n
        gap = self.settings.max_interp_gap_s
        up_s, gyr_s, acc_s, ok_s, w_s = s.sample(tk, gap)
        up_f, gyr_f, acc_f, ok_f, w_f = f.sample(tk, gap)
        blk = _Block(
            t=tk,
            valid=ok_s & ok_f,
            bridged=np.maximum(w_s, w_f) > self._bridge_s,
            up_s=up_s,
            up_f=up_f,
            gyr_s=gyr_s,
            gyr_f=gyr_f,
            acc_s=np.sqrt(acc_s[0] ** 2 + acc_s[1] ** 2 + acc_s[2] ** 2),
            acc_f=np.sqrt(acc_f[0] ** 2 + acc_f[1] ** 2 + acc_f[2] ** 2),
            accv_s=acc_s,
        )
        i = 0
        while i < n and self._calibrator is not None:
            # Calibration goes row by row (the first seconds only), in slices.
            e = min(n, i + _CAL_SLICE_ROWS)
            for r in blk.rows(i, e):
                i += 1
                cal = self._calibrator.add(r)
                if cal is not None:
                    self._start(cal, out)
                    break
        if i < n and self._calibrator is None:
            self._process_block(blk.tail(i) if i else blk, out)

    def _start(self, cal: Calibration, out: list[AnalysisEvent]) -> None:
        assert self._calibrator is not None
        rows = self._calibrator.rows
        self._calibrator = None
        self.calibration = cal
        self._angles = AngleComputer(cal)
        out.append(
            CalibrationDone(
                t_s=cal.t_done_s, flagged_fallback=cal.flagged_fallback, summary=cal.to_dict()
            )
        )
        if cal.flagged_fallback:
            out.append(
                Warning(
                    t_s=cal.t_done_s,
                    kind="calibration_fallback",
                    message="No calibration stance was found; angles use the first still "
                    "period as neutral and may be offset.",
                )
            )
        if rows:
            self._process_block(_Block.from_rows(rows), out)

    def _append_invalid(self, t: float) -> None:
        nan = math.nan
        self._t.append(t)
        self._sag.append(nan)
        self._front.append(nan)
        self._shin_incl.append(nan)
        self._foot_pitch.append(nan)
        self._knee.append(nan)
        self._vel.append(nan)
        self._valid.append(False)
        self._bridged.append(True)
        self._phase.append("")
        self._rep.append("")

    def _process_block(self, blk: _Block, out: list[AnalysisEvent]) -> None:
        """Angles for a block of grid rows (vectorised), then reps and holds over it."""
        assert self._angles is not None
        n = len(blk)
        sag, front, shin, foot, knee = self._angles.angles_arrays(blk.up_s, blk.up_f)
        vel = self._angles.sagittal_rate_arrays(blk.gyr_s, blk.gyr_f)
        valid = blk.valid.copy()
        for ch in (sag, front, shin, foot, knee, vel):
            valid &= np.isfinite(ch)
        nan = math.nan
        cols = _Cols(
            t=blk.t,
            sag=np.where(valid, sag, nan),
            front=np.where(valid, front, nan),
            shin=np.where(valid, shin, nan),
            foot=np.where(valid, foot, nan),
            knee=np.where(valid, knee, nan),
            vel=np.where(valid, vel, nan),
            valid=valid,
        )
        self.n_invalid_rows += n - int(np.count_nonzero(valid))
        i0 = len(self._t)
        with paused_gc():
            self._extend(cols, blk.bridged)
        self._blk = cols
        self._blk_i0 = i0
        ev_r: list[AnalysisEvent] = []
        ev_h: list[AnalysisEvent] = []
        try:
            self._reps.update_block(i0, i0 + n, ev_r)
            self._holds.update_block(i0, i0 + n, ev_h)
        finally:
            self._blk = None
        if ev_r and ev_h:
            # Per row, rep events come before hold events (every event is stamped with the
            # time of the row that produced it): the same order as row-by-row processing.
            out.extend(sorted(ev_r + ev_h, key=lambda e: e.t_s))
        else:
            out.extend(ev_r or ev_h)

    def _extend(self, cols: _Cols, bridged: np.ndarray) -> None:
        n = int(cols.t.size)
        self._t.extend(cols.t.tolist())
        self._sag.extend(cols.sag.tolist())
        self._front.extend(cols.front.tolist())
        self._shin_incl.extend(cols.shin.tolist())
        self._foot_pitch.extend(cols.foot.tolist())
        self._knee.extend(cols.knee.tolist())
        self._vel.extend(cols.vel.tolist())
        self._valid.extend(cols.valid.tolist())
        self._bridged.extend((bridged | ~cols.valid).tolist())
        self._phase.extend([""] * n)
        self._rep.extend([""] * n)


@dataclass(slots=True, eq=False)
class _Cols:
    """The channels of the block being processed, as arrays (for the trackers' fast paths:
    row ``i`` of the session is element ``i - SessionAnalyzer._blk_i0``)."""

    t: np.ndarray
    sag: np.ndarray
    front: np.ndarray
    shin: np.ndarray
    foot: np.ndarray
    knee: np.ndarray
    vel: np.ndarray
    valid: np.ndarray


_CAL_SLICE_ROWS = 256  # rows converted at a time for the per-row calibration


class _NoTracking:
    """Stands in for the rep and hold trackers of an ``angles_only`` analyzer."""

    def update_block(self, i0: int, i1: int, out: list[AnalysisEvent]) -> None:
        return None

    def finish(self, out: list[AnalysisEvent]) -> None:
        return None


def analyze_session(
    session: Session,
    *,
    settings: AnalysisSettings = DEFAULT_SETTINGS,
    exercise_hint: str | None = None,
    side: str | None = None,
    calibration: Calibration | None = None,
) -> AnalysisResult:
    """Analyse a whole recording: the streaming engine fed one chunk per sensor.

    The leg is the first side that has both a shin and a foot sensor (or ``side``). Each
    sensor's whole chunk is fed once (shin, then foot); the engine aligns them on ``t_s``, so
    the result is identical to any live chunking (``tests/analysis/test_engine.py``). A
    calibration stored in ``session.calibration`` is not reused unless passed explicitly.
    """
    from companion.errors import CompanionError

    sides = [side] if side else ["left", "right"]
    chosen = None
    for sd in sides:
        sh = session.find("shin", sd)
        ft = session.find("foot", sd)
        if (
            sh is not None
            and ft is not None
            and sh.sensor_id in session.chunks
            and ft.sensor_id in session.chunks
        ):
            chosen = (sd, sh, ft)
            break
    if chosen is None:
        msg = (
            "The session has no shin and foot sensor pair on one leg"
            f"{'' if side is None else f' ({side})'}; record with one sensor on the shin and one "
            "on the foot of the same leg."
        )
        raise CompanionError(msg)
    sd, sh, ft = chosen
    an = SessionAnalyzer(
        settings,
        side=sd,
        calibration=calibration,
        exercise_hint=exercise_hint,
        sampling_rate_hz=float(sh.sampling_rate_hz),
    )
    cs, cf = session.chunks[sh.sensor_id], session.chunks[ft.sensor_id]
    events: list[AnalysisEvent] = []
    if len(cf) and cf.placement.side.value == an.side:
        # The foot's AHRS loop runs beside the shin's (a child process, where that wins);
        # the samples are the same, so are the events (``feed`` of the foot = add + advance).
        collect = an._foot.whole_beside(cf)
        try:
            events += an.feed(cs)
        finally:
            collect()  # always reaps the child
        out: list[AnalysisEvent] = []
        an._advance(out)
        an._events.extend(out)
        events += out
    else:
        events += an.feed(cs)
        events += an.feed(cf)
    events += an.finish()
    reps = [e.rep for e in events if isinstance(e, RepCompleted)]
    sets = [e.set for e in events if isinstance(e, SetCompleted)]
    from companion.analysis.events import HoldEnded

    holds = [e.hold for e in events if isinstance(e, HoldEnded)]
    warnings = [e for e in events if isinstance(e, Warning)]
    return AnalysisResult(
        reps=reps,
        sets=sets,
        holds=holds,
        warnings=warnings,
        channels=an.frames(),
        calibration=an.calibration,
        events=events,
        side=sd,
    )
