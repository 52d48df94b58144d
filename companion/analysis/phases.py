"""Phase boundaries of a transition between two plateaus, by fitting a smooth step.

Human (and simulated minimum-jerk) movements leave and reach a plateau gently: any
threshold on angle or velocity detects the start late and the end early, by a share of the
phase's duration (≈ 0.2 s on a 3 s lowering). Instead the transition is fitted, in the least-
squares sense, by a smooth step ``level_from + (level_to − level_from)·S((t − t0)/D)`` from
a small dictionary of shapes (regularised incomplete beta functions ``I_τ(a, b)``: symmetric
ones, of which a = b = 3 is the minimum-jerk profile, asymmetric ones for moves that leave
gently and arrive abruptly or the reverse, and a raised cosine), and the boundaries are ``t0``
and ``t0 + D`` of the best fit. On the public motion-capture calf raises the fitted end of the
lowering lands within 0.04 s of the insole's heel-on (docs/benchmarks/accuracy.txt).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares
from scipy.special import betainc

__all__ = ["fit_transition"]

_BETA_KS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.5)
# Asymmetric shapes I_τ(a, b): a sets how gently the move leaves, b how gently it arrives
# (real lowerings often arrive more abruptly than they leave: the heel lands).
_BETA_AB = tuple((a, b) for a in (1.5, 2.0, 3.0, 4.0) for b in (1.25, 1.5, 2.0, 3.0, 4.0) if a != b)


def _shape(name: float | str | tuple[float, float], tau: np.ndarray) -> np.ndarray:
    tc = np.clip(tau, 0.0, 1.0)
    if name == "cos":
        return 0.5 - 0.5 * np.cos(math.pi * tc)
    if isinstance(name, tuple):
        return betainc(name[0], name[1], tc)
    k = float(name)
    return betainc(k, k, tc)


def fit_transition(
    t_s: np.ndarray,
    x: np.ndarray,
    *,
    level_from: float,
    level_to: float,
    free: str = "none",
) -> tuple[float, float, float]:
    """Fit one smooth transition.

    Parameters
    ----------
    t_s, x
        Samples covering the transition and some plateau on each side (NaNs ignored).
    level_from, level_to
        Plateau levels; the one(s) named by ``free`` (``"from"``, ``"to"``, ``"both"`` or
        ``"none"``) are only initial guesses and are fitted too.

    Returns
    -------
    t_begin_s, t_end_s, level
        The transition's start and end, and the (fitted or given) free level (the end
        level for ``"both"``).
    """
    ok = np.isfinite(x) & np.isfinite(t_s)
    t = np.asarray(t_s, dtype=np.float64)[ok]
    y = np.asarray(x, dtype=np.float64)[ok]
    free_level = level_from if free == "from" else level_to
    if not (math.isfinite(level_from) and math.isfinite(level_to)):
        return math.nan, math.nan, math.nan
    if t.size < 5 or abs(level_to - level_from) < 1e-6:
        mid = float(t[t.size // 2]) if t.size else math.nan
        return mid, mid, free_level
    span = level_to - level_from
    frac = (y - level_from) / span
    # Initial guess from the 10 % and 90 % crossings.
    above10 = np.flatnonzero(frac > 0.1)
    above90 = np.flatnonzero(frac > 0.9)
    t10 = float(t[above10[0]]) if above10.size else float(t[0])
    t90 = float(t[above90[0]]) if above90.size else float(t[-1])
    d0 = max((t90 - t10) / 0.6, 0.1)
    t00 = t10 - 0.2 * d0
    t_lo, t_hi = float(t[0]) - 5.0, float(t[-1]) + 5.0
    n_free = {"none": 0, "from": 1, "to": 1, "both": 2}[free]
    best: tuple[float, float, float, float] | None = None
    for shape in (*_BETA_KS, *_BETA_AB, "cos"):

        def resid(p: np.ndarray, shape: float | str | tuple[float, float] = shape) -> np.ndarray:
            t0, d = p[0], p[1]
            lf, lt = level_from, level_to
            if free == "from":
                lf = p[2]
            elif free == "to":
                lt = p[2]
            elif free == "both":
                lf, lt = p[2], p[3]
            return lf + (lt - lf) * _shape(shape, (t - t0) / d) - y

        guesses = {
            "none": [],
            "from": [level_from],
            "to": [level_to],
            "both": [level_from, level_to],
        }
        p0 = [t00, d0, *guesses[free]]
        lb = [t_lo, 0.05] + [-math.inf] * n_free
        ub = [t_hi, 30.0] + [math.inf] * n_free
        p0[0] = min(max(p0[0], t_lo + 1e-6), t_hi - 1e-6)
        try:
            sol = least_squares(resid, np.asarray(p0), bounds=(lb, ub), x_scale="jac")
        except ValueError:  # non-finite residuals: no fit
            continue
        cost = float(sol.cost)
        if best is None or cost < best[0]:
            lvl = {"none": free_level, "from": float(sol.x[-1]), "to": float(sol.x[-1])}.get(
                free, float(sol.x[-1])
            )
            best = (cost, float(sol.x[0]), float(sol.x[1]), lvl)
    if best is None:
        return math.nan, math.nan, math.nan
    _, t0, d, lvl = best
    return t0, t0 + d, lvl
