"""Smooth (C2) time curves for the simulator's degrees of freedom.

A :class:`HermiteTrack` passes through keyframes ``(t_s, value, velocity)`` with quintic
Hermite segments whose acceleration is zero at every keyframe. With zero velocity at both
ends a segment is exactly the minimum-jerk move ``10τ³ − 15τ⁴ + 6τ⁵``; because value,
velocity and acceleration agree at every keyframe, the whole curve is C2, so positions
differentiated twice (accelerometers) and rotations differentiated once (gyroscopes) stay
continuous. Outside the keyframes the curve holds its first/last value.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HermiteTrack", "min_jerk", "smooth_bump"]


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk blend 0→1 on τ ∈ [0, 1] (clipped outside); C2 at both ends."""
    x = np.clip(tau, 0.0, 1.0)
    return x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)


def smooth_bump(tau: np.ndarray) -> np.ndarray:
    """C2 bump 0→1→0 on τ ∈ [0, 1] (``64 τ³ (1 − τ)³``), zero outside."""
    x = np.clip(tau, 0.0, 1.0)
    return 64.0 * (x * (1.0 - x)) ** 3


class HermiteTrack:
    """Piecewise quintic Hermite curve of ``D`` channels through keyframes.

    ``t_s``: (K,) strictly increasing keyframe times; ``values``: (K, D); ``velocities``:
    (K, D) per second, zero when omitted (minimum-jerk moves). Accelerations are zero at the
    keyframes.
    """

    __slots__ = ("_a", "_t", "_v")

    def __init__(
        self, t_s: np.ndarray, values: np.ndarray, velocities: np.ndarray | None = None
    ) -> None:
        t = np.asarray(t_s, dtype=np.float64)
        a = np.asarray(values, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if t.ndim != 1 or a.shape[0] != t.shape[0] or t.shape[0] < 1:
            msg = "keyframe times and values must have matching first dimensions"
            raise ValueError(msg)
        if t.shape[0] > 1 and not np.all(np.diff(t) > 0.0):
            msg = "keyframe times must be strictly increasing"
            raise ValueError(msg)
        v = np.zeros_like(a) if velocities is None else np.asarray(velocities, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        if v.shape != a.shape:
            msg = "velocities must have the same shape as values"
            raise ValueError(msg)
        self._t, self._a, self._v = t, a, v

    @property
    def t_start_s(self) -> float:
        return float(self._t[0])

    @property
    def t_end_s(self) -> float:
        return float(self._t[-1])

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        """Values at ``t_s`` (any shape ``S``), returned with shape ``S + (D,)``."""
        t = np.asarray(t_s, dtype=np.float64)
        flat = t.reshape(-1)
        kt, ka, kv = self._t, self._a, self._v
        out = np.empty((flat.shape[0], ka.shape[1]))
        if kt.shape[0] == 1:
            out[:] = ka[0]
            return out.reshape(*t.shape, ka.shape[1])
        i = np.clip(np.searchsorted(kt, flat, side="right") - 1, 0, kt.shape[0] - 2)
        t0, t1 = kt[i], kt[i + 1]
        h = t1 - t0
        tau = np.clip((flat - t0) / h, 0.0, 1.0)[:, None]
        tau2 = tau * tau
        tau3 = tau2 * tau
        tau4 = tau3 * tau
        tau5 = tau4 * tau
        h00 = 1.0 - 10.0 * tau3 + 15.0 * tau4 - 6.0 * tau5
        h10 = tau - 6.0 * tau3 + 8.0 * tau4 - 3.0 * tau5
        h01 = 10.0 * tau3 - 15.0 * tau4 + 6.0 * tau5
        h11 = -4.0 * tau3 + 7.0 * tau4 - 3.0 * tau5
        hh = h[:, None]
        out = h00 * ka[i] + h10 * hh * kv[i] + h01 * ka[i + 1] + h11 * hh * kv[i + 1]
        # Beyond the ends the curve holds (velocities there are taken as zero).
        before = flat < kt[0]
        after = flat > kt[-1]
        out[before] = ka[0]
        out[after] = ka[-1]
        return out.reshape(*t.shape, ka.shape[1])
