"""Stretch holds: a held dorsiflexion, timed only while in position (streaming).

A hold starts when the ankle is dorsiflexed by at least ``hold_min_dorsi_deg`` and nearly
still, and is confirmed once it has stayed within ``hold_band_deg`` of that level for
``hold_min_s``. It ends when the angle has been out of the band for ``hold_exit_s``. Entry and
exit are then fitted as smooth transitions (:mod:`.phases`) so ``t_start_s``/``t_end_s`` mark
reaching and leaving the position, not threshold crossings.

* time in position: time within the band of the held (median) angle;
* bouncing: swings of at least ``bounce_min_amplitude_deg`` that reverse within 1 s
  (breathing deepens the stretch slowly and does not count);
* knee tracking: mean/min and the share of time caving in (below ``knee_in_threshold_deg``);
* knee: from the hint (``stretch_straight``/``stretch_bent``) or inferred from the hold angle.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from companion.analysis.events import (
    AnalysisEvent,
    Hold,
    HoldEnded,
    HoldStarted,
    HoldUpdate,
    Warning,
)
from companion.analysis.phases import fit_transition
from companion.analysis.settings import AnalysisSettings

if TYPE_CHECKING:
    from companion.analysis.engine import SessionAnalyzer

__all__ = ["HoldTracker", "count_bounces"]

_BOUNCE_MAX_HALF_PERIOD_S = 1.0
_KNEE_WARN_S = 2.0
_MOVE_REST_DPS = 2.0  # slower than this between two moves counts as at rest


def count_bounces(t_s: np.ndarray, angle_deg: np.ndarray, *, min_amplitude_deg: float) -> int:
    """Number of quick down-and-up oscillations (zig-zag with hysteresis)."""
    ext: list[tuple[float, float]] = []  # alternating extrema (t, value)
    tt_all = t_s.tolist()
    vv_all = angle_deg.tolist()
    if not vv_all:
        return 0
    # Find the first swing to set the direction.
    hi_t, hi_v = tt_all[0], vv_all[0]
    lo_t, lo_v = tt_all[0], vv_all[0]
    start = len(vv_all)
    direction = 0
    for k, (tt, vv) in enumerate(zip(tt_all, vv_all, strict=True)):
        if vv > hi_v:
            hi_t, hi_v = tt, vv
        if vv < lo_v:
            lo_t, lo_v = tt, vv
        if hi_v - vv >= min_amplitude_deg:
            ext.append((hi_t, hi_v))
            direction, cur_t, cur_v, start = -1, tt, vv, k + 1
            break
        if vv - lo_v >= min_amplitude_deg:
            ext.append((lo_t, lo_v))
            direction, cur_t, cur_v, start = 1, tt, vv, k + 1
            break
    for tt, vv in zip(tt_all[start:], vv_all[start:], strict=True):
        if direction > 0:
            if vv > cur_v:
                cur_t, cur_v = tt, vv
            elif cur_v - vv >= min_amplitude_deg:
                ext.append((cur_t, cur_v))
                direction, cur_t, cur_v = -1, tt, vv
        elif vv < cur_v:
            cur_t, cur_v = tt, vv
        elif vv - cur_v >= min_amplitude_deg:
            ext.append((cur_t, cur_v))
            direction, cur_t, cur_v = 1, tt, vv
    quick = 0
    for (t0, v0), (t1, v1) in itertools.pairwise(ext):
        if v0 > v1 and t1 - t0 <= _BOUNCE_MAX_HALF_PERIOD_S:
            quick += 1
    return quick


class HoldTracker:
    """Streaming stretch-hold detector reading the analyzer's channel lists."""

    def __init__(self, settings: AnalysisSettings, hint: str | None, an: SessionAnalyzer) -> None:
        self.s = settings
        self.an = an
        self.hint = hint
        self.enabled = hint not in ("calf_raise", "tibialis_raise")
        self.state = "none"
        self.i_cand = 0
        self.level = 0.0
        self.i_last_in = 0
        self.i_prev_end = 0
        self.next_update_t = 0.0
        self.knee_in_since: float | None = None
        self.knee_warned = False
        self.bounce_warned = False

    def update_block(self, i0: int, i1: int, out: list[AnalysisEvent]) -> None:
        """Rows ``i0:i1`` of the analyzer's current block, as :meth:`update` on each row;
        rows that cannot start a hold are skipped with array operations."""
        if not self.enabled:
            return
        an = self.an
        cols = an._blk
        i = i0
        while i < i1:
            if self.state == "none" and cols is not None:
                a, b = i - an._blk_i0, i1 - an._blk_i0
                start = cols.valid[a:b] & (cols.sag[a:b] >= self.s.hold_min_dorsi_deg)
                start &= np.abs(cols.vel[a:b]) < self.s.plateau_vel_dps
                hit = np.flatnonzero(start)
                if hit.size == 0:
                    return
                i += int(hit[0])
            self.update(i, out)
            i += 1

    def update(self, i: int, out: list[AnalysisEvent]) -> None:
        if not self.enabled:
            return
        an = self.an
        s = self.s
        if not an._valid[i]:
            if self.state == "cand":
                self.state = "none"
            return
        a = an._sag[i]
        t = an._t[i]
        if self.state == "none":
            if a >= s.hold_min_dorsi_deg and abs(an._vel[i]) < s.plateau_vel_dps:
                self.state = "cand"
                self.i_cand = i
                self.level = a
        elif self.state == "cand":
            if abs(a - self.level) > s.hold_band_deg or a < s.hold_min_dorsi_deg:
                self.state = "none"
                return
            if t - an._t[self.i_cand] >= s.hold_min_s:
                seg = np.array(an._sag[self.i_cand : i + 1])
                self.level = float(np.median(seg))
                self.state = "hold"
                self.i_last_in = i
                self.next_update_t = t + 1.0
                self.knee_in_since = None
                self.knee_warned = False
                self.bounce_warned = False
                out.append(HoldStarted(t_s=t, angle_deg=self.level))
        elif self.state == "hold":
            in_band = abs(a - self.level) <= s.hold_band_deg
            if in_band:
                self.i_last_in = i
            elif t - an._t[self.i_last_in] >= s.hold_exit_s:
                self._end(i, out)
                return
            k = an._knee[i]
            if k < s.knee_in_threshold_deg:
                if self.knee_in_since is None:
                    self.knee_in_since = t
                if not self.knee_warned and t - self.knee_in_since >= _KNEE_WARN_S:
                    self.knee_warned = True
                    out.append(
                        Warning(
                            t_s=t,
                            kind="knee_in",
                            message="Knee caving in: push it out over the little toe.",
                        )
                    )
            else:
                self.knee_in_since = None
            if t >= self.next_update_t:
                self.next_update_t += 1.0
                seg_t = np.array(an._t[self.i_cand : i + 1])
                seg = np.array(an._sag[self.i_cand : i + 1])
                ok = np.isfinite(seg)
                tip = (
                    float(np.sum(np.abs(seg[ok] - self.level) <= s.hold_band_deg))
                    / s.output_rate_hz
                )
                out.append(
                    HoldUpdate(t_s=t, time_in_position_s=tip, angle_deg=a, in_position=in_band)
                )
                if not self.bounce_warned:
                    nb = count_bounces(
                        seg_t[ok], seg[ok], min_amplitude_deg=s.bounce_min_amplitude_deg
                    )
                    if nb >= s.bounce_min_count:
                        self.bounce_warned = True
                        out.append(
                            Warning(
                                t_s=t,
                                kind="bounce",
                                message="Bouncing in the stretch: hold still and breathe.",
                            )
                        )

    def _end(self, i: int, out: list[AnalysisEvent]) -> None:
        an = self.an
        s = self.s
        rate = s.output_rate_hz
        self.state = "none"
        a0 = self.i_cand
        a1 = self.i_last_in
        t_all = np.array(an._t)
        sag_all = np.array(an._sag)
        level = self.level
        # Entry: from where the angle was last below a fifth of the level, plus margin.
        j = a0
        lo = max(self.i_prev_end, a0 - int(10 * rate))
        while j > lo and not (math.isfinite(sag_all[j]) and sag_all[j] < 0.2 * level):
            j -= 1
        # ... but not before the lean-in itself started: the velocity comes to rest between
        # two moves (e.g. raising the toes on the wall, then leaning in).
        k = a0
        while k > j and not (math.isfinite(an._vel[k]) and abs(an._vel[k]) < _MOVE_REST_DPS):
            k -= 1
        j = max(j, k)
        e0 = max(lo, j - int(0.5 * rate))
        ent_hi = min(a0 + int(2.0 * rate), a1)
        # The position reached is the low edge of the hold (bounces and deeper breaths
        # only go further), so the entry aims at a low quantile, the exit leaves from one.
        base_in = float(np.nanpercentile(sag_all[a0 : min(a0 + int(5.0 * rate), a1) + 1], 20))
        x0 = max(a0, a1 - int(4.0 * rate))
        base_out = float(np.nanpercentile(sag_all[x0 : a1 + 1], 20))
        # After bouncing, the exit leaves from the last return to the base: fit from there.
        seg = sag_all[x0 : a1 + 1]
        ok = np.isfinite(seg)
        if (
            ok.sum() > 3
            and count_bounces(
                t_all[x0 : a1 + 1][ok], seg[ok], min_amplitude_deg=s.bounce_min_amplitude_deg
            )
            >= 2
        ):
            base_lo = float(np.percentile(seg[ok], 10))
            vel = np.array(an._vel[x0 : a1 + 1])
            at_base = np.flatnonzero(ok & (seg <= base_lo + 0.5) & (np.abs(vel) < _MOVE_REST_DPS))
            if at_base.size:
                x0 = x0 + int(at_base[-1])
                base_out = float(seg[at_base[-1]])
        try:
            _, t_in, _ = fit_transition(
                t_all[e0 : ent_hi + 1],
                sag_all[e0 : ent_hi + 1],
                level_from=float(np.nanmedian(sag_all[e0 : e0 + max(1, int(0.3 * rate))])),
                level_to=base_in,
                free="from",
            )
        except ValueError:
            t_in = float(t_all[a0])
        try:
            t_out, _, _ = fit_transition(
                t_all[x0 : i + 1],
                sag_all[x0 : i + 1],
                level_from=base_out,
                level_to=float(sag_all[i]),
                free="both",
            )
        except ValueError:
            t_out = float(t_all[a1])
        if not (math.isfinite(t_in) and math.isfinite(t_out)) or t_out <= t_in:
            t_in, t_out = float(t_all[a0]), float(t_all[a1])
        m = (t_all >= t_in) & (t_all <= t_out) & np.isfinite(sag_all)
        if m.sum() < 3:
            t_in, t_out = float(t_all[a0]), float(t_all[a1])
            m = (t_all >= t_in) & (t_all <= t_out) & np.isfinite(sag_all)
        seg = sag_all[m]
        seg_t = t_all[m]
        self.i_prev_end = i
        # The hold was confirmed (HoldStarted) after hold_min_s in position, so it is always
        # reported, even when the fitted entry and exit come out a little shorter (a 3.0 s
        # lunge-test hold was fitted 2.995 s and silently dropped, its start announced and
        # never ended).
        if seg.size < 3:
            return
        knee = np.array(an._knee)[m]
        shin = np.array(an._shin_incl)[m]
        level = float(np.median(seg))
        tip = float(np.sum(np.abs(seg - level) <= s.hold_band_deg)) / rate
        nb = count_bounces(seg_t, seg, min_amplitude_deg=s.bounce_min_amplitude_deg)
        kin_frac = float(np.mean(knee < s.knee_in_threshold_deg))
        if self.hint == "stretch_straight":
            kn, src = "straight", "hint"
        elif self.hint == "stretch_bent":
            kn, src = "bent", "hint"
        elif level >= s.bent_knee_min_deg:
            kn, src = "bent", "inferred"
        elif level <= s.straight_knee_max_deg:
            kn, src = "straight", "inferred"
        else:
            kn, src = "unknown", "none"
        hold = Hold(
            t_start_s=t_in,
            t_end_s=t_out,
            time_in_position_s=min(tip, t_out - t_in),
            peak_angle_deg=float(np.max(seg)),
            mean_angle_deg=float(np.mean(seg)),
            n_bounces=nb,
            bouncing=nb >= s.bounce_min_count,
            knee_in=kin_frac >= s.knee_in_min_fraction,
            knee_tracking_mean_deg=float(np.mean(knee)),
            knee_tracking_min_deg=float(np.min(knee)),
            knee_in_fraction=kin_frac,
            knee=kn,
            knee_source=src,
            shin_inclination_mean_deg=float(np.mean(shin)),
        )
        for j in np.flatnonzero(m).tolist():
            if an._phase[j] == "":
                an._phase[j] = "stretch"
        out.append(HoldEnded(t_s=float(t_all[i]), hold=hold))

    def finish(self, out: list[AnalysisEvent]) -> None:
        if self.state == "hold" and self.an._t:
            self._end(len(self.an._t) - 1, out)
