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

How it is fitted (fast enough for the GUI thread: well under a millisecond per transition):

* every shape and its derivative are tabulated once on a fine grid of τ (linear
  interpolation, error < 1e-6 of the step);
* each shape starts from the 10 % and 90 % level crossings of the data (its own τ at those
  fractions gives ``t0`` and ``D``), free levels from a linear least-squares solve;
* all shapes are scored there at once (one array operation), and the best few are refined
  together by a damped Gauss–Newton (Levenberg–Marquardt) with the analytic Jacobian;
* the lowest residual wins.

Hold entries (``free="from"``, once per stretch hold) keep the original scipy least-squares
fit (:func:`_fit_least_squares`, tens of milliseconds): see its docstring.
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
_SHAPES: tuple[float | str | tuple[float, float], ...] = (*_BETA_KS, *_BETA_AB, "cos")

_N_TAB = 4096  # table intervals over τ in [0, 1]
_N_REFINE = 3  # shapes refined to convergence (4 gave the same benchmark table, to the digit)
_N_PRE = 16  # shapes (best at their starting values) that get those steps
_N_PRE_ITER = 2  # damped steps for every shape before choosing the best few
_N_ITER = 12  # Levenberg-Marquardt iterations (most converge in 3-5)
_D_MIN_S, _D_MAX_S = 0.05, 30.0
_STEP_TOL_S = 1e-4  # converged when an accepted step moves t0 and D less than this


def _shape_exact(name: float | str | tuple[float, float], tau: np.ndarray) -> np.ndarray:
    tc = np.clip(tau, 0.0, 1.0)
    if name == "cos":
        return 0.5 - 0.5 * np.cos(math.pi * tc)
    a, b = name if isinstance(name, tuple) else (float(name), float(name))
    return betainc(a, b, tc)


def _shape_deriv_exact(name: float | str | tuple[float, float], tau: np.ndarray) -> np.ndarray:
    tc = np.clip(tau, 0.0, 1.0)
    if name == "cos":
        return 0.5 * math.pi * np.sin(math.pi * tc)
    a, b = name if isinstance(name, tuple) else (float(name), float(name))
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    with np.errstate(divide="ignore"):
        lg = (a - 1.0) * np.log(tc) + (b - 1.0) * np.log1p(-tc) - log_beta
    return np.exp(lg)


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    grid = np.linspace(0.0, 1.0, _N_TAB + 1)
    s = np.stack([_shape_exact(k, grid) for k in _SHAPES])
    ds = np.stack([_shape_deriv_exact(k, grid) for k in _SHAPES])
    ds[~np.isfinite(ds)] = 0.0
    # τ at which each shape crosses 10 % and 90 % (for the starting values).
    tau10 = np.array([float(np.interp(0.1, row, grid)) for row in s])
    tau90 = np.array([float(np.interp(0.9, row, grid)) for row in s])
    # One row per (shape, interval): value and derivative at both ends, so a single
    # gather gives everything the linear interpolation needs.
    tab = np.stack([s[:, :-1], s[:, 1:], ds[:, :-1], ds[:, 1:]], axis=2)
    return tab.reshape(-1, 4), tau10, tau90


_TAB, _TAU10, _TAU90 = _tables()


def _eval(rows: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape values and derivatives for shapes ``rows`` (k,) at ``tau`` (k, n)."""
    x = np.clip(tau, 0.0, 1.0) * _N_TAB
    i = np.minimum(x.astype(np.intp), _N_TAB - 1)
    w = x - i
    v = _TAB[i + (rows * _N_TAB)[:, None]]  # (k, n, 4)
    s0, s1, d0, d1 = v[..., 0], v[..., 1], v[..., 2], v[..., 3]
    inside = (tau > 0.0) & (tau < 1.0)
    return s0 + w * (s1 - s0), np.where(inside, d0 + w * (d1 - d0), 0.0)


def _levels(
    s: np.ndarray, y: np.ndarray, lf: np.ndarray, lt: np.ndarray, free: str
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares free level(s) for fixed shapes ``s`` (k, n)."""
    if free == "none":
        return lf, lt
    if free == "to":
        # y - lf = (lt - lf) s
        den = np.einsum("kn,kn->k", s, s)
        num = np.einsum("kn,n->k", s, y) - lf * s.sum(axis=1)
        lt2 = lf + np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return lf, np.where(den > 0, lt2, lt)
    if free == "from":
        c = 1.0 - s
        den = np.einsum("kn,kn->k", c, c)
        num = np.einsum("kn,n->k", c, y) - lt * np.einsum("kn,kn->k", s, c)
        lf2 = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return np.where(den > 0, lf2, lf), lt
    # both: y = lf (1 - s) + lt s
    c = 1.0 - s
    a11 = np.einsum("kn,kn->k", c, c)
    a12 = np.einsum("kn,kn->k", c, s)
    a22 = np.einsum("kn,kn->k", s, s)
    b1 = c @ y
    b2 = s @ y
    det = a11 * a22 - a12 * a12
    ok = np.abs(det) > 1e-12 * np.maximum(a11 * a22, 1e-300)
    safe = np.where(ok, det, 1.0)
    lf2 = (a22 * b1 - a12 * b2) / safe
    lt2 = (a11 * b2 - a12 * b1) / safe
    return np.where(ok, lf2, lf), np.where(ok, lt2, lt)


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
    if free not in ("none", "from", "to", "both"):
        msg = f"free must be 'none', 'from', 'to' or 'both', got {free!r}"
        raise ValueError(msg)
    if free == "from":
        return _fit_least_squares(t_s, x, level_from=level_from, level_to=level_to, free=free)
    ok = np.isfinite(x) & np.isfinite(t_s)
    t = np.asarray(t_s, dtype=np.float64)[ok]
    y = np.asarray(x, dtype=np.float64)[ok]
    free_level = level_from if free == "from" else level_to
    if not (math.isfinite(level_from) and math.isfinite(level_to)):
        return math.nan, math.nan, math.nan
    if t.size < 5 or abs(level_to - level_from) < 1e-6:
        mid = float(t[t.size // 2]) if t.size else math.nan
        return mid, mid, free_level
    # Work relative to the first sample (well-conditioned times).
    t_ref = float(t[0])
    tr = t - t_ref
    t_lo, t_hi = -5.0, float(tr[-1]) + 5.0
    k_all = np.arange(len(_SHAPES))
    # Starting values from the 10 % / 90 % crossings of the levels; a free end level is only
    # a guess, so the crossings use the data's own end there (a guess past the true level
    # would put the 90 % crossing nowhere). Holds' free levels keep the caller's guesses.
    m = max(3, t.size // 20)
    lvl_from = float(level_from)
    lvl_to = float(np.median(y[-m:])) if free == "to" else float(level_to)
    if abs(lvl_to - lvl_from) < 0.5 * abs(level_to - level_from):
        lvl_from, lvl_to = float(level_from), float(level_to)  # no clear ends: the guesses
    frac = (y - lvl_from) / (lvl_to - lvl_from)
    above10 = np.flatnonzero(frac > 0.1)
    above90 = np.flatnonzero(frac > 0.9)
    t10 = float(tr[above10[0]]) if above10.size else 0.0
    t90 = float(tr[above90[0]]) if above90.size else float(tr[-1])
    if t90 <= t10:
        t90 = t10 + 0.1
    d = np.clip((t90 - t10) / (_TAU90 - _TAU10), _D_MIN_S, _D_MAX_S)
    t0 = np.clip(t10 - _TAU10 * d, t_lo, t_hi)
    lf = np.full(k_all.size, float(level_from))
    lt = np.full(k_all.size, float(level_to))
    # Scored on every other sample (the ranking only picks who gets refined).
    td, yd = tr[::2], y[::2]
    s, _ = _eval(k_all, (td[None, :] - t0[:, None]) / d[:, None])
    lf, lt = _levels(s, yd, lf, lt, free)
    r = lf[:, None] + (lt - lf)[:, None] * s - yd
    cost = (r * r).sum(axis=1)
    cost = np.where(np.isfinite(cost), cost, np.inf)
    fit_from = free in ("from", "both")
    fit_to = free in ("to", "both")
    st = [k_all, t0, d, lf, lt, cost, np.full(k_all.size, 1e-3)]
    if free in ("none", "to"):
        # A few damped steps for every shape, then only the best few go on.
        order = np.argsort(st[5], kind="stable")[:_N_PRE]
        st = [v[order] for v in st]
        st = _refine(st, td, yd, fit_from, fit_to, _N_PRE_ITER, t_lo, t_hi)
        order = np.argsort(st[5], kind="stable")[:_N_REFINE]
        st = [v[order] for v in st]
        n_iter = _N_ITER
    else:
        # Holds (free start and/or end level) are rare and ill-conditioned: every shape.
        n_iter = 4 * _N_ITER
    _, p_t0, p_d, p_lf, p_lt, c, _ = _refine(st, tr, y, fit_from, fit_to, n_iter, t_lo, t_hi)
    if not np.isfinite(c).any():
        return math.nan, math.nan, math.nan
    b = int(np.argmin(c))
    t_begin = float(p_t0[b]) + t_ref
    lvl = {"none": free_level, "from": float(p_lf[b]), "to": float(p_lt[b])}.get(
        free, float(p_lt[b])
    )
    return t_begin, t_begin + float(p_d[b]), lvl


def _refine(
    st: list[np.ndarray],
    tr: np.ndarray,
    y: np.ndarray,
    fit_from: bool,
    fit_to: bool,
    n_iter: int,
    t_lo: float,
    t_hi: float,
) -> list[np.ndarray]:
    """Levenberg-Marquardt on every shape of ``st`` at once (analytic Jacobian)."""
    rows, p_t0, p_d, p_lf, p_lt, c, lam = st
    eye = np.eye(2 + int(fit_from) + int(fit_to))
    s, ds = _eval(rows, (tr[None, :] - p_t0[:, None]) / p_d[:, None])
    r0 = p_lf[:, None] + (p_lt - p_lf)[:, None] * s - y
    c = (r0 * r0).sum(axis=1)
    c = np.where(np.isfinite(c), c, np.inf)
    for _ in range(n_iter):
        tau = (tr[None, :] - p_t0[:, None]) / p_d[:, None]
        r = p_lf[:, None] + (p_lt - p_lf)[:, None] * s - y
        g = (p_lt - p_lf)[:, None] * ds / p_d[:, None]
        cols = [-g, -g * tau]
        if fit_from:
            cols.append(1.0 - s)
        if fit_to:
            cols.append(s)
        jac = np.stack(cols, axis=1)  # (k, p, n)
        jtj = jac @ jac.transpose(0, 2, 1)
        jtr = (jac @ r[:, :, None])[:, :, 0]
        diag = np.diagonal(jtj, axis1=1, axis2=2)
        a = jtj + lam[:, None, None] * (eye * np.maximum(diag, 1e-12)[:, :, None])
        try:
            step = -np.linalg.solve(a, jtr[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        n_t0 = np.clip(p_t0 + step[:, 0], t_lo, t_hi)
        n_d = np.clip(p_d + step[:, 1], _D_MIN_S, _D_MAX_S)
        j = 2
        n_lf, n_lt = p_lf, p_lt
        if fit_from:
            n_lf = p_lf + step[:, j]
            j += 1
        if fit_to:
            n_lt = p_lt + step[:, j]
        s2, ds2 = _eval(rows, (tr[None, :] - n_t0[:, None]) / n_d[:, None])
        r2 = n_lf[:, None] + (n_lt - n_lf)[:, None] * s2 - y
        c2 = (r2 * r2).sum(axis=1)
        better = np.isfinite(c2) & (c2 < c)
        small = (np.abs(step[:, 0]) < _STEP_TOL_S) & (np.abs(step[:, 1]) < _STEP_TOL_S)
        p_t0 = np.where(better, n_t0, p_t0)
        p_d = np.where(better, n_d, p_d)
        p_lf = np.where(better, n_lf, p_lf)
        p_lt = np.where(better, n_lt, p_lt)
        c = np.where(better, c2, c)
        s = np.where(better[:, None], s2, s)
        ds = np.where(better[:, None], ds2, ds)
        lam = np.where(better, lam * 0.3, lam * 10.0)
        if np.all(small | (lam > 1e6)):  # a step this small, taken or not: converged
            break
    return [rows, p_t0, p_d, p_lf, p_lt, c, lam]


def _fit_least_squares(
    t_s: np.ndarray, x: np.ndarray, *, level_from: float, level_to: float, free: str
) -> tuple[float, float, float]:
    """The original fit: scipy's trust-region least squares per shape, numeric Jacobians
    (tens of ms). Kept for hold entries (``free="from"``): when the entry window starts in
    position (a bouncing stretch) the fit is ill-posed and the benchmark's hold timings
    rest on where this optimiser settles, not on the lowest residual."""
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
            return lf + (lt - lf) * _shape_exact(shape, (t - t0) / d) - y

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
