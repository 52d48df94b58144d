"""Calf-raise and tibialis-raise reps, their phases, and sets (streaming, per grid sample).

A rep is an excursion of the sagittal ankle angle away from a bottom level and back,
*driven by the foot* (heel lift: calf raise, plantarflexion; toe lift: tibialis raise,
dorsiflexion) while the shin stays nearly still. That rule is what keeps walking, squats,
lunges, step-ups and stretches from counting: their ankle excursions come from the shin.

Per sample: ``bottom`` → (excursion > ``rep_on_deg``, foot-driven) → ``up`` → (falls back
from the peak) → ``down`` → (near the bottom, slow) → ``settle`` → (stopped) → the rep is
measured: each transition (rise, lower) is fitted by a smooth step (:mod:`.phases`), which
gives the phase boundaries without the lag of thresholds. The rep is emitted at once, so a
:class:`RepCompleted` arrives within about 0.3 s of the lowering's end; the rep ends at the
bottom (``rest_s`` = 0 unless the next rise started before the rep was measured). The pause
between two reps is ``next.t_start_s − t_lower_end_s``.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import lfilter

from companion.analysis.events import (
    AnalysisEvent,
    PhaseChanged,
    Rep,
    RepCompleted,
    RepDiscarded,
    RepStarted,
    SetCompleted,
    SetSummary,
    Warning,
)
from companion.analysis.phases import fit_transition
from companion.analysis.settings import AnalysisSettings

if TYPE_CHECKING:
    from companion.analysis.engine import SessionAnalyzer

__all__ = ["RepTracker"]

_EXERCISE = {-1: "calf_raise", 1: "tibialis_raise"}
_SETTLE_VEL_DPS = 1.0  # the lowering has ended: slower than this ...
_SETTLE_S = 0.3  # ... for this long (the fit then sees the bottom, not a cut-off tail)
_SETTLE_MAX_S = 0.8  # ... or at most this long after the arrival near the bottom, and at
_SETTLE_TAIL_SHARE = 0.8  # least this share of the time from the lowering's detection to it
# (a slow lowering's minimum-jerk tail, from 85 % of the way down to its end, lasts ~0.8 times
# the time from 25 % to 85 %: measured at a fixed 0.8 s, a 4 s lowering's fit saw a cut-off
# tail and came out 0.4-0.8 s short).
_BASE_TAU_S = 0.5
_PUMP_GAP_S = 1.5
_PUMP_LOOKBACK_S = 1.0
_STILL_FOR_BASE_S = 0.6
_NEW_BOTTOM_S = 4.0
_MAX_GAP_IN_REP_S = 1.0
_STOPPED_DPS = 1.0  # the ankle has stopped (a hold, not a turnaround)
_STOPPED_TOP_S = 0.4  # ... for at least this long at the top
_REST_DPS = 2.0  # slower than this: at rest before a rise
_PRE_REST_S = 0.4  # rest kept before the rise for its level
_DIP_LOOKBACK_S = 0.8  # a counter-movement dip is looked for this long before the onset
_DIP_AHEAD_S = 0.1  # ... and this long after it
_DIP_MIN_DEG = 1.5  # ... and counts when it goes this far past the level before it
_DIP_REF_END_S = 0.6  # that level: the median from _DIP_LOOKBACK_S to this long before the dip
_DIP_REF_MIN_ROWS = 5  # ... over at least this many rows (else no dip is looked for)
_DIP_SMOOTH_S = 0.2  # the dip's turnaround: the deepest point of its 0.2-s centred moving mean
_CREEP_MIN_DEG = 0.1  # a hold whose level creeps more than this: each end has its own level
_FAST_WINDOW = 512  # rows examined per fast-path step (block processing)
_SLOW_BURST = 24  # rows taken one by one when a fast path made no progress


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred mean of the finite values of ``x`` over ``n`` rows (NaN where none)."""
    if n <= 1:
        return x.astype(float, copy=True)
    ok = np.isfinite(x)
    c_sum = np.concatenate(([0.0], np.cumsum(np.where(ok, x, 0.0))))
    c_num = np.concatenate(([0], np.cumsum(ok)))
    lo = np.clip(np.arange(x.size) - n // 2, 0, x.size)
    hi = np.clip(lo + n, 0, x.size)
    num = c_num[hi] - c_num[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(num > 0, (c_sum[hi] - c_sum[lo]) / np.maximum(num, 1), np.nan)


def _longest_false_run(mask: np.ndarray) -> int:
    best = cur = 0
    for ok in mask.tolist():
        cur = 0 if ok else cur + 1
        best = max(best, cur)
    return best


class RepTracker:
    """Streaming rep/phase/set detector reading the analyzer's channel lists."""

    def __init__(self, settings: AnalysisSettings, hint: str | None, an: SessionAnalyzer) -> None:
        self.s = settings
        self.an = an
        if hint == "calf_raise":
            self.dirs: tuple[int, ...] = (-1,)
        elif hint == "tibialis_raise":
            self.dirs = (1,)
        elif hint is not None and hint.startswith("stretch"):
            self.dirs = ()
        else:
            self.dirs = (-1, 1)
        self.state = "bottom"
        self.b: float | None = None  # bottom level of the ankle angle
        self.fb = 0.0  # foot pitch at the bottom
        self.sb = 0.0  # shin inclination at the bottom
        self.i_base = 0  # first index of the current bottom period
        self.d = 0
        self.i_cross = 0
        self.peak = 0.0
        self.i_peak = 0
        self.i_arrive = 0
        self.i_down = 0
        self.settle_max_s = _SETTLE_MAX_S
        self.i_slow = -1
        self.x_settle_min = 0.0
        self.i_settle_min = 0
        self.top_announced = False
        # sets
        self.set_index = -1
        self.set_exercise: str | None = None
        self.set_reps: list[Rep] = []
        self.t_last_lower_end = -math.inf
        self.i_last_end = 0
        self.last_move_dir = 0
        self.n_still = 0
        self.n_invalid = 0
        self.last_move_end_t = -math.inf
        self._k_base = (1.0 / settings.output_rate_hz) / _BASE_TAU_S
        self._c_base = 1.0 - self._k_base

    # ----------------------------------------------------------------------------------
    def _x(self, i: int) -> float:
        assert self.b is not None
        return self.d * (self.an._sag[i] - self.b)

    def update(self, i: int, out: list[AnalysisEvent]) -> None:
        an = self.an
        t = an._t[i]
        if self.set_exercise is not None and t - self.t_last_lower_end > self.s.set_rest_s:
            self._close_set(out, t)
        if not self.dirs:
            return
        if not an._valid[i]:
            self.n_invalid += 1
            if (
                self.state != "bottom"
                and self.n_invalid > _MAX_GAP_IN_REP_S * self.s.output_rate_hz
            ):
                self._abort(i, out, "gap")
            return
        self.n_invalid = 0
        a = an._sag[i]
        v = an._vel[i]
        if self.b is None:
            # Neutral standing is 0 for every angle by calibration.
            self.b, self.fb, self.sb = 0.0, 0.0, 0.0
            self.i_base = i
        dt = 1.0 / self.s.output_rate_hz
        if self.state == "bottom":
            self._bottom(i, a, v, dt, out)
        elif self.state == "up":
            self._up(i, a, v, out)
        elif self.state == "down":
            self._down(i, a, v, out)
        elif self.state == "settle":
            self._settle(i, v, out)

    # ---------------------------------------------------------------- block processing
    def update_block(self, i0: int, i1: int, out: list[AnalysisEvent]) -> None:
        """Rows ``i0:i1`` (the analyzer's current block): the same result as calling
        :meth:`update` on each row. Stretches where nothing can happen but the state's
        bookkeeping (the bottom following a still ankle, the peak rising, the lowering under
        way) are consumed with array operations; every other row goes through
        :meth:`update`. Which rows take which path never changes the result: the fast paths
        do the same arithmetic as the per-row code."""
        if not self.dirs:
            return
        i = i0
        while i < i1:
            st = self.state
            if st == "bottom":
                j = self._fast_bottom(i, i1)
            elif st == "up":
                j = self._fast_up(i, i1)
            elif st == "down":
                j = self._fast_down(i, i1)
            else:
                j = i
            if j >= i1:
                return
            # A few rows one by one: the row that stopped the fast path and, when the fast
            # path made no progress, a burst more (its set-up costs dozens of rows).
            e = min(i1, j + (1 if j > i else _SLOW_BURST))
            for k in range(j, e):
                self.update(k, out)
            i = e

    def _window(self, i: int, i1: int):
        """Array views of rows ``i:min(i1, i + _FAST_WINDOW)`` of the current block."""
        an = self.an
        cols = an._blk
        assert cols is not None
        a = i - an._blk_i0
        b = min(i1, i + _FAST_WINDOW) - an._blk_i0
        return cols, a, b

    def _set_close_mask(self, t: np.ndarray) -> np.ndarray | None:
        if self.set_exercise is None:
            return None
        return (t - self.t_last_lower_end) > self.s.set_rest_s

    def _fast_bottom(self, i: int, i1: int) -> int:
        """Consume bottom rows until one could start a rep or move the bottom oddly."""
        if self.b is None:
            return i
        cols, a, b = self._window(i, i1)
        t = cols.t[a:b]
        n = t.size
        stop = n
        sc = self._set_close_mask(t)
        if sc is not None and sc.any():
            stop = int(np.argmax(sc))
        valid = cols.valid[a : a + stop]
        vi = np.flatnonzero(valid)
        if vi.size == 0:
            self.n_invalid += stop
            return i + stop
        ang = cols.sag[a:b][vi]
        slow = np.abs(cols.vel[a:b][vi]) < self.s.plateau_vel_dps
        # Consecutive slow (valid) rows, carrying the count in.
        cs = np.cumsum(slow)
        last_fast = np.maximum.accumulate(np.where(slow, 0, cs))
        n_still = cs - last_fast
        first_fast = np.flatnonzero(~slow)
        if first_fast.size:
            n_still[: first_fast[0]] += self.n_still
        else:
            n_still += self.n_still
        dt = 1.0 / self.s.output_rate_hz
        m = n_still * dt >= _STILL_FOR_BASE_S  # assuming |dev| < rep_on (checked below)
        k, c = self._k_base, self._c_base
        b_before = np.full(vi.size, self.b)
        mi = np.flatnonzero(m)
        if mi.size:
            y = lfilter([k], [1.0, -c], ang[mi], zi=[c * self.b])[0]
            # After masked row mi[q] the level is y[q]; row r sees the last update before it.
            upd = np.searchsorted(mi, np.arange(vi.size), side="left") - 1
            has = upd >= 0
            b_before[has] = y[upd[has]]
        dev = ang - b_before
        bad = np.flatnonzero(np.abs(dev) >= self.s.rep_on_deg)
        nv = int(bad[0]) if bad.size else vi.size  # valid rows consumed
        if bad.size:
            stop = int(vi[nv])  # rows before the first row that needs the per-row code
        if nv == 0:
            self.n_invalid += stop
            return i + stop
        # Commit the state after valid row nv - 1 (and the invalid rows after it).
        self.n_still = int(n_still[nv - 1])
        mq = mi[mi < nv]
        if mq.size:
            q = mq.size - 1
            self.b = float(y[q])
            fp = cols.foot[a:b][vi][mq]
            sp = cols.shin[a:b][vi][mq]
            self.fb = float(lfilter([k], [1.0, -c], fp, zi=[c * self.fb])[0][-1])
            self.sb = float(lfilter([k], [1.0, -c], sp, zi=[c * self.sb])[0][-1])
        self.n_invalid = stop - int(vi[nv - 1]) - 1
        return i + stop

    def _rep_stops(self, cols, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of a rep in progress: x, and the rows that need the per-row code whatever
        the state (invalid, set closing, shin moving, too long)."""
        assert self.b is not None
        t = cols.t[a:b]
        x = self.d * (cols.sag[a:b] - self.b)
        stop = ~cols.valid[a:b]
        stop |= ~(np.abs(cols.shin[a:b] - self.sb) < self.s.max_shin_range_deg)
        stop |= (t - self.an._t[self.i_cross]) > self.s.max_rep_s
        sc = self._set_close_mask(t)
        if sc is not None:
            stop |= sc
        return t, x, stop

    def _fast_up(self, i: int, i1: int) -> int:
        """Consume rise rows while only the peak moves."""
        cols, a, b = self._window(i, i1)
        _, x, stop = self._rep_stops(cols, a, b)
        xv = np.where(stop, -np.inf, x)
        pk = np.maximum.accumulate(np.concatenate([[self.peak], xv]))
        prev, pk = pk[:-1], pk[1:]
        s = self.s
        small = pk < s.rep_min_rom_deg
        ev = np.where(
            small,
            x < 0.5 * s.rep_on_deg,
            (x < pk - np.maximum(3.0, 0.25 * pk))
            | (
                (not self.top_announced)
                & (np.abs(cols.vel[a:b]) < s.plateau_vel_dps)
                & (x > 0.7 * pk)
            ),
        )
        ev |= stop
        hit = np.flatnonzero(ev)
        n = int(hit[0]) if hit.size else b - a
        if n:
            rose = np.flatnonzero(x[:n] > prev[:n])
            if rose.size:
                self.peak = float(pk[n - 1])
                self.i_peak = i + int(rose[-1])
            self.n_invalid = 0
        return i + n

    def _fast_down(self, i: int, i1: int) -> int:
        """Consume lowering rows until the ankle turns back up or slows near a bottom."""
        cols, a, b = self._window(i, i1)
        _, x, stop = self._rep_stops(cols, a, b)
        s = self.s
        slow = np.abs(cols.vel[a:b]) < s.plateau_vel_dps
        ev = stop | (x > self.peak)
        ev |= (x < -s.rep_on_deg) & slow
        ev |= (x <= max(2.0, 0.15 * self.peak)) & slow
        hit = np.flatnonzero(ev)
        n = int(hit[0]) if hit.size else b - a
        if n:
            self.n_invalid = 0
        return i + n

    def _bottom(self, i: int, a: float, v: float, dt: float, out: list[AnalysisEvent]) -> None:
        an = self.an
        assert self.b is not None
        dev = a - self.b
        if abs(v) < self.s.plateau_vel_dps:
            self.n_still += 1
        else:
            self.n_still = 0
        still_s = self.n_still * dt
        if still_s >= _STILL_FOR_BASE_S and (
            abs(dev) < self.s.rep_on_deg or still_s >= _NEW_BOTTOM_S
        ):
            # Near the bottom: follow it. Far from it: only a long stillness (longer than
            # any top hold) makes a new bottom (e.g. heels dropped off a step).
            # First-order follower, written as lfilter computes it (see _fast_bottom).
            k, c = self._k_base, self._c_base
            self.b = k * a + c * self.b
            self.fb = k * an._foot_pitch[i] + c * self.fb
            self.sb = k * an._shin_incl[i] + c * self.sb
        for d in self.dirs:
            if d * dev > self.s.rep_on_deg:
                dfoot = -(an._foot_pitch[i] - self.fb)  # heel lift lowers the ankle angle
                if (
                    abs(dfoot) >= self.s.min_foot_share * abs(dev)
                    and abs(an._shin_incl[i] - self.sb) < self.s.max_shin_range_deg
                ):
                    self._start(i, d, out)
                else:
                    # Shin-driven: not a rep; let the bottom follow.
                    pass
                break

    def _start(self, i: int, d: int, out: list[AnalysisEvent]) -> None:
        self.state = "up"
        self.d = d
        self.i_cross = i
        self.peak = self._x(i)
        self.i_peak = i
        self.top_announced = False
        ex = _EXERCISE[d]
        if self.set_exercise is not None and self.set_exercise != ex:
            self._close_set(out, self.an._t[i])
        rep_index = len(self.set_reps)
        t = self.an._t[i]
        out.append(
            RepStarted(
                t_s=t,
                exercise=ex,
                set_index=self.set_index + (1 if self.set_exercise is None else 0),
                rep_index=rep_index if self.set_exercise is not None else 0,
            )
        )
        out.append(PhaseChanged(t_s=t, phase="rise", exercise=ex))

    def _shin_ok(self, i: int) -> bool:
        return abs(self.an._shin_incl[i] - self.sb) < self.s.max_shin_range_deg

    def _up(self, i: int, a: float, v: float, out: list[AnalysisEvent]) -> None:
        x = self._x(i)
        t = self.an._t[i]
        if not self._shin_ok(i) or t - self.an._t[self.i_cross] > self.s.max_rep_s:
            self._abort(i, out, "too_long" if self._shin_ok(i) else "shin_moved")
            return
        if x > self.peak:
            self.peak, self.i_peak = x, i
        if self.peak < self.s.rep_min_rom_deg:
            if x < 0.5 * self.s.rep_on_deg:
                self._abort(i, out, "too_small")
            return
        if not self.top_announced and abs(v) < self.s.plateau_vel_dps and x > 0.7 * self.peak:
            self.top_announced = True
            out.append(PhaseChanged(t_s=t, phase="hold", exercise=_EXERCISE[self.d]))
        if x < self.peak - max(3.0, 0.25 * self.peak):
            self.state = "down"
            self.i_down = i
            out.append(PhaseChanged(t_s=t, phase="lower", exercise=_EXERCISE[self.d]))

    def _down(self, i: int, a: float, v: float, out: list[AnalysisEvent]) -> None:
        x = self._x(i)
        t = self.an._t[i]
        if not self._shin_ok(i) or t - self.an._t[self.i_cross] > self.s.max_rep_s:
            self._abort(i, out, "too_long" if self._shin_ok(i) else "shin_moved")
            return
        if x > self.peak:
            self.peak, self.i_peak = x, i
            self.state = "up"
            return
        if x < -self.s.rep_on_deg and abs(v) < self.s.plateau_vel_dps:
            # Went past the old bottom and stopped: what looked like a rep of this direction
            # was the bottom moving (e.g. heels dropping on a step edge), and the move just
            # made is a rep of the other direction from the level the ankle rested at.
            j = i
            while j > self.i_cross and self._x(j) < 0.0:
                j -= 1
            self._abort(i, out, "bottom_moved")
            self.i_base = max(0, j - int(self.s.output_rate_hz))
            self.b = self._rest_level(j)
            self.fb = self.an._foot_pitch[j]
            self.sb = self.an._shin_incl[j]
            self._bottom(i, a, v, 1.0 / self.s.output_rate_hz, out)
            return
        if x <= max(2.0, 0.15 * self.peak) and abs(v) < self.s.plateau_vel_dps:
            self.state = "settle"
            self.i_arrive = i
            self.settle_max_s = max(
                _SETTLE_MAX_S, _SETTLE_TAIL_SHARE * (t - self.an._t[self.i_down])
            )
            self.i_slow = -1
            self.x_settle_min, self.i_settle_min = x, i
            out.append(PhaseChanged(t_s=t, phase="rest", exercise=_EXERCISE[self.d]))

    def _rest_level(self, j: int) -> float:
        """Median angle of the slow samples in the second before index ``j``."""
        an = self.an
        lo = max(0, j - int(self.s.output_rate_hz))
        vals = [
            an._sag[k]
            for k in range(lo, j + 1)
            if an._valid[k] and abs(an._vel[k]) < self.s.plateau_vel_dps
        ]
        return float(np.median(vals)) if vals else an._sag[j]

    def _settle(self, i: int, v: float, out: list[AnalysisEvent]) -> None:
        t = self.an._t[i]
        x = self._x(i)
        if x < self.x_settle_min:
            self.x_settle_min, self.i_settle_min = x, i
        elif x > self.x_settle_min + self.s.rep_on_deg:
            # The next rep left the bottom before this one settled (a short rest, or the
            # arrival seen late across a gap): measure this rep up to its turnaround at the
            # bottom, then let the bottom logic start the new one at this row.
            self._finalize(i, out, i_end=self.i_settle_min)
            if self.state == "bottom":
                self._bottom(i, self.an._sag[i], v, 1.0 / self.s.output_rate_hz, out)
            return
        if abs(v) < _SETTLE_VEL_DPS:
            if self.i_slow < 0:
                self.i_slow = i
        else:
            self.i_slow = -1
        if (self.i_slow >= 0 and t - self.an._t[self.i_slow] >= _SETTLE_S) or (
            t - self.an._t[self.i_arrive] >= self.settle_max_s
        ):
            self._finalize(i, out)

    def _abort(self, i: int, out: list[AnalysisEvent], reason: str) -> None:
        if self.state != "bottom":
            out.append(RepDiscarded(t_s=self.an._t[i], exercise=_EXERCISE[self.d], reason=reason))
        self.state = "bottom"
        self.n_still = 0
        self.i_base = i

    # ----------------------------------------------------------------------------------
    def _finalize(self, i_now: int, out: list[AnalysisEvent], i_end: int | None = None) -> None:
        """Measure the rep whose samples end at row ``i_end`` (default ``i_now``, the row
        being processed, whose time stamps the events): a :class:`RepCompleted`, or a
        :class:`RepDiscarded` saying why the movement was not a rep."""
        ex = _EXERCISE[self.d]
        why = self._measure(i_now, out, i_end)
        if why is not None:
            out.append(RepDiscarded(t_s=self.an._t[i_now], exercise=ex, reason=why))

    def _measure(self, i_now: int, out: list[AnalysisEvent], i_end: int | None) -> str | None:
        """The body of :meth:`_finalize`; returns why the rep was not counted, or None."""
        i = i_now if i_end is None else i_end
        an = self.an
        s = self.s
        d = self.d
        rate = s.output_rate_hz
        i0 = max(self.i_last_end, self.i_base, self.i_cross - int(3.0 * rate))
        # Start the window just before the rise itself: where the ankle last rested before
        # the crossing (an earlier move, e.g. leaning back on the wall, is another level).
        k = self.i_cross
        while k > i0 and not (an._valid[k] and abs(an._vel[k]) < _REST_DPS):
            k -= 1
        i0 = max(i0, k - int(_PRE_REST_S * rate))
        t = np.array(an._t[i0 : i + 1])
        ang = np.array(an._sag[i0 : i + 1])
        vel = np.array(an._vel[i0 : i + 1])
        valid = np.array(an._valid[i0 : i + 1])
        self.state = "bottom"
        self.i_base = i
        self.n_still = 0
        gap_rows = _longest_false_run(valid[max(0, self.i_cross - i0 - int(rate)) :])
        if gap_rows > int(_MAX_GAP_IN_REP_S * rate):
            return "gap"  # a long gap inside the rep: drop it rather than guess
        x = d * ang
        # Samples interpolated across short gaps are kept: dropping them from the fits was
        # measured to do more harm (an onset inside the gap loses its anchor) than good.
        x_fit = x
        c = self.i_cross - i0
        ar = self.i_arrive - i0
        slow = np.abs(vel) < s.plateau_vel_dps
        pre = x[:c][slow[:c]]
        assert self.b is not None
        lvl0 = float(np.median(pre)) if pre.size else d * self.b
        peak_x = float(np.nanmax(x[c : ar + 1]))
        top_mask = slow[c : ar + 1] & (x[c : ar + 1] >= lvl0 + 0.7 * (peak_x - lvl0))
        top_idx = np.flatnonzero(top_mask) + c
        lvl_in = lvl_out = math.nan
        if top_idx.size >= 3:
            top = x[top_idx]
            stopped = np.abs(vel[top_idx]) < _STOPPED_DPS
            # A top where the ankle stops is a hold: the median of the stopped part. Without
            # a stop it is only a turnaround, where a median would sit below the peak.
            if stopped.sum() >= _STOPPED_TOP_S * rate:
                # The hold's own level: the slow ends of the rise and the lowering sit
                # below it, and a level a few tenths low delays the fitted start of the
                # lowering by ~0.15 s (minimum-jerk tails are flat).
                lvl_top = float(np.nanmedian(top[stopped]))
                # The measured angle can creep a few tenths of a degree during a hold
                # while the orientation filter settles after a fast rise (gyro scale
                # error, accelerometer bias). Minimum-jerk starts are so flat that a
                # 0.02-deg level error moves a fitted boundary by ~0.1 s: where the hold
                # creeps, the rise ends at the hold's starting level and the lowering
                # leaves from its final level (a line through the stopped part).
                # Realistic x34 seeds: lowering within 0.1 s 98.3 -> 99.1 %, top hold
                # 99.2 -> 99.6 %; random-tempo sessions with a phase off by > 0.15 s 24
                # -> 11 of 300.
                ts, ys = t[top_idx][stopped], top[stopped]
                fin = np.isfinite(ys)
                if fin.sum() >= 5:
                    ts, ys = ts[fin] - ts[fin][0], ys[fin]
                    slope, start = np.polyfit(ts, ys, 1)
                    creep = float(slope * ts[-1])
                    if abs(creep) > _CREEP_MIN_DEG:
                        lvl_in, lvl_out = float(start), float(start + creep)
            else:
                lvl_top = float(np.nanpercentile(top, 90))
            i_top = int(top_idx[top_idx.size // 2])
        else:
            i_top = int(np.nanargmax(x[c : ar + 1])) + c
            lvl_top = peak_x
        lvl1 = float(x[-1])
        rom = lvl_top - lvl0
        if not math.isfinite(lvl_in):
            lvl_in = lvl_out = lvl_top
        if rom < s.rep_min_rom_deg:
            return "too_small"
        # Which segment moved: the foot must carry the excursion, the shin stay still.
        foot = np.array(an._foot_pitch[i0 : i + 1])
        shin = np.array(an._shin_incl[i0 : i + 1])
        foot_top = float(np.median(foot[top_idx])) if top_idx.size >= 3 else float(foot[i_top])
        dfoot = abs(foot_top - self.fb)
        if not math.isfinite(dfoot):
            return "no_data"
        if dfoot < s.min_foot_share * rom:
            return "foot_still"
        if float(np.nanmax(shin[c : ar + 1]) - np.nanmin(shin[c : ar + 1])) > s.max_shin_range_deg:
            return "shin_moved"
        # Ankle pumps (toes up, heel up, alternating without a pause) are not reps: the
        # opposite excursion is already under way, or the previous one just ended.
        opposite_now = float(x[-1]) < lvl0 - s.rep_on_deg
        t_r0, t_r1, _ = fit_transition(
            t[: i_top + 1], x_fit[: i_top + 1], level_from=lvl0, level_to=lvl_in
        )
        j0 = max(0, self.i_cross - int((_PUMP_GAP_S + 1.0) * rate))
        back = [
            d * (an._sag[j] - self.b)
            for j in range(j0, self.i_cross)
            if an._valid[j] and an._t[j] >= t_r0 - _PUMP_LOOKBACK_S
        ]
        opposite_before = (
            self.last_move_dir == -d and t_r0 - self.last_move_end_t < _PUMP_GAP_S
        ) or (bool(back) and min(back) < lvl0 - max(s.rep_on_deg, 0.4 * rom))
        self.last_move_dir, self.last_move_end_t = d, an._t[i]
        if opposite_now or opposite_before or not math.isfinite(t_r0):
            return "ankle_pump" if (opposite_now or opposite_before) else "no_fit"
        # A counter-movement: as the heel unloads, the ankle first dips the other way
        # (the shin tips forward over the foot) and only then rises; the heel leaves the
        # ground at the dip's turnaround, where the fitted smooth step starts 0.04-0.15 s
        # late. The turnaround is the deepest point of the dip's 0.2-s moving mean: on a
        # flat-bottomed dip one sample's wobble otherwise decides it (Subject01G: the
        # deepest sample came 0.12 s after heel-off). Motion capture + heel insoles, 10
        # floor trials: within 0.07 s of heel-off on all (before: 9 within 0.04 s, one 0.12 s).
        # The dip is slow, so the rest level (lvl0) may already include it: its depth is
        # measured from the level just before it.
        dip = (t >= t_r0 - _DIP_LOOKBACK_S) & (t <= t_r0 + _DIP_AHEAD_S) & np.isfinite(x)
        if dip.any():
            xs = _moving_mean(x, max(1, round(_DIP_SMOOTH_S * rate)))
            dip &= np.isfinite(xs)
        if dip.any():
            k_dip = int(np.flatnonzero(dip)[np.argmin(xs[dip])])
            j_dip = i0 + k_dip
            r0 = max(self.i_last_end, j_dip - int(_DIP_LOOKBACK_S * rate))
            r1 = j_dip - int(_DIP_REF_END_S * rate)
            ref = [d * an._sag[j] for j in range(r0, r1) if an._valid[j]]
            if (
                len(ref) >= _DIP_REF_MIN_ROWS
                and float(x[k_dip]) < float(np.median(ref)) - _DIP_MIN_DEG
            ):
                t_r0 = float(t[k_dip])
        # The bottom may not quite be reached when the rep is measured: fit its level too,
        # within what the samples after arrival allow.
        tail = x[ar:]
        lo = float(np.nanmin(tail)) - 0.05 * rom
        hi = float(np.nanmax(tail))
        t_l0, t_l1, lvl1 = fit_transition(
            t[i_top:], x_fit[i_top:], level_from=lvl_out, level_to=lvl1, free="to"
        )
        if not lo <= lvl1 <= hi:
            lvl1 = min(max(lvl1, lo), hi)
            t_l0, t_l1, _ = fit_transition(
                t[i_top:], x_fit[i_top:], level_from=lvl_out, level_to=lvl1
            )
        elif math.isfinite(t_l1) and t_l1 > float(t[-1]):
            # The fitted end lies past the last sample: the free bottom level was guessed
            # from a cut-off tail. Refit to the level the ankle came to rest at.
            lvl1 = float(np.nanmedian(x[max(ar, x.size - int(_SETTLE_S * rate)) :]))
            t_l0, t_l1, _ = fit_transition(
                t[i_top:], x_fit[i_top:], level_from=lvl_out, level_to=lvl1
            )
        if not all(map(math.isfinite, (t_r1, t_l0, t_l1))):
            return "no_fit"
        if t_l1 - t_r0 < s.min_rep_s or t_l1 - t_l0 < s.min_lower_s:
            return "twitch"  # a twitch or a drop, not a rep
        self.last_move_end_t = t_l1
        assert self.b is not None
        # The bottom this rep came back to (refined while still).
        self.b, self.fb, self.sb = an._sag[i], an._foot_pitch[i], an._shin_incl[i]
        if t_r1 > t_l0:  # no hold: the fits overlap at the peak
            mid = 0.5 * (t_r1 + t_l0)
            t_r1 = t_l0 = mid
        t_r0 = min(t_r0, t_r1)
        t_l1 = max(t_l1, t_l0)
        in_rep = (t >= t_r0) & (t <= t_l1)
        moving = (t >= t_r0) & (t <= t_l1) & ~((t > t_r1) & (t < t_l0))
        speed = np.abs(vel)
        mean_v = float(np.nanmean(speed[moving])) if moving.any() else 0.0
        peak_v = float(np.nanmax(speed[in_rep])) if in_rep.any() else 0.0
        ex = _EXERCISE[d]
        if self.set_exercise is None:
            self.set_index += 1
            self.set_exercise = ex
            self.set_reps = []
        roms = [r.rom_deg for r in self.set_reps] + [rom]
        med = statistics.median(roms)
        rep = Rep(
            exercise=ex,
            set_index=self.set_index,
            rep_index=len(self.set_reps),
            t_start_s=t_r0,
            t_rise_end_s=t_r1,
            t_hold_end_s=t_l0,
            t_lower_end_s=t_l1,
            t_end_s=t_l1,
            rise_s=t_r1 - t_r0,
            hold_s=t_l0 - t_r1,
            lower_s=t_l1 - t_l0,
            rest_s=0.0,
            rom_deg=rom,
            peak_angle_deg=float(d * lvl_top),
            mean_velocity_dps=mean_v,
            peak_velocity_dps=peak_v,
            partial=rom < s.partial_fraction * med,
            no_hold=(t_l0 - t_r1) < s.min_hold_s,
            rushed_lowering=(t_l1 - t_l0) < s.rushed_lowering_s,
            gap_s=gap_rows / rate,
        )
        self.set_reps.append(rep)
        self.t_last_lower_end = t_l1
        # The next rep's window may start where this one's lowering ended (its rest then
        # gives the next rise its starting level), not where it was measured.
        k_end = i0 + int(np.searchsorted(t, t_l1, side="left"))
        self.i_last_end = self.i_base = min(max(k_end, i0), i)
        # Phase labels for the per-sample channels.
        label = f"{rep.set_index}.{rep.rep_index}"
        for j in range(i0, i + 1):
            tj = an._t[j]
            if tj < t_r0:
                continue
            ph = "rise" if tj < t_r1 else "hold" if tj < t_l0 else "lower" if tj < t_l1 else "rest"
            an._phase[j] = ph
            an._rep[j] = label
        out.append(RepCompleted(t_s=an._t[i_now], rep=rep))
        if rep.rushed_lowering:
            out.append(
                Warning(
                    t_s=an._t[i_now],
                    kind="rushed_lowering",
                    message=f"Lowering took {rep.lower_s:.1f} s: lower slowly, over about 3 s.",
                )
            )
        return None

    def _close_set(self, out: list[AnalysisEvent], t_s: float) -> None:
        if self.set_exercise is None or not self.set_reps:
            self.set_exercise = None
            return
        reps = self.set_reps
        out.append(
            SetCompleted(
                t_s=t_s,
                set=SetSummary(
                    exercise=self.set_exercise,
                    set_index=self.set_index,
                    t_start_s=reps[0].t_start_s,
                    t_end_s=reps[-1].t_end_s,
                    n_reps=len(reps),
                    median_rom_deg=float(statistics.median(r.rom_deg for r in reps)),
                ),
            )
        )
        self.set_exercise = None
        self.set_reps = []

    def finish(self, out: list[AnalysisEvent]) -> None:
        if self.an._t and self.state != "bottom":
            last = len(self.an._t) - 1
            if self.state == "settle":
                # The recording ended while the ankle was arriving at the bottom: the rep
                # is whole, measure it with what there is.
                self._finalize(last, out)
            else:
                self._abort(last, out, "ended")
        self._close_set(out, self.an._t[-1] if self.an._t else 0.0)
