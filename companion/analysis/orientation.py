"""Per-sensor orientation: imufusion's AHRS behind one adapter.

Only the direction of *up* in the sensor frame is used downstream: it is
gravity-referenced and therefore drift-free without a magnetometer, whereas the heading of
a 6-axis filter drifts. The gyroscope, with imufusion's offset estimator applied, is kept
for calibration and velocities.

imufusion 1.3.3 API (get/set methods, accelerometer in g, gyroscope in deg/s) is used
here and nowhere else.
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import imufusion
import numpy as np

from companion.analysis.settings import AnalysisSettings
from companion.model import GRAVITY_M_S2, ImuChunk

__all__ = ["OrientationTracker", "run_beside", "up_from_quaternion"]


_PRIME_S = 1.0  # samples held back to find a still start, s
_PRIME_STILL_DPS = 2.0  # ... still when every sample is within this of the mean rate
_PRIME_ACC_TOL_M_S2 = 0.5  # ... and |acc| within this of g
_GAP_PERIODS = 1.5  # a sample period longer than this many nominal ones is a gap
_SNAP_GAP_S = 0.3  # after a gap longer than this (measured: from 0.1 or 0.2 s the steps
# the snap puts into rest levels cost more rep timing than the bridge errors it removes) ...
_SNAP_WINDOW_S = 1.0  # ... the first still sample within this time ...
_SNAP_STILL_DPS = 3.0  # ... (every rate axis below this ...
_SNAP_ACC_TOL_G = 0.03  # ... and |acc| within this of 1 g) gives the tilt


def up_from_quaternion(q_wxyz: np.ndarray) -> np.ndarray:
    """Unit "up" (earth +z) expressed in the sensor frame for sensor→earth quaternions.

    ``q_wxyz`` is (n, 4) scalar first; returns (n, 3). The earth frame must have z up
    (NWU/ENU), as every supported device family streams.
    """
    q = np.asarray(q_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    # Third row of the rotation matrix R(q) (sensor -> earth): R^T e_z.
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1)


def _quat_up_to_z(acc: np.ndarray) -> np.ndarray:
    """Scalar-first quaternion (sensor→earth) turning the measured "up" onto earth +z."""
    a = np.asarray(acc, dtype=np.float64)
    n = float(np.linalg.norm(a))
    if not math.isfinite(n) or n == 0.0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    a = a / n
    w = 1.0 + a[2]  # cos(angle) + 1 for the half-angle form
    if w < 1e-9:  # upside down: half a turn about x
        return np.array([0.0, 1.0, 0.0, 0.0])
    q = np.array([w, a[1], -a[0], 0.0])  # (1 + a·z, a × z)
    return q / np.linalg.norm(q)


class OrientationTracker:
    """Streaming AHRS for one sensor.

    Parameters
    ----------
    settings
        Analysis settings (the ``ahrs_*`` and ``bias_*`` fields).
    sampling_rate_hz
        Nominal rate, used to configure imufusion; the measured sample period is fed per
        sample.

    ``update(chunk)`` returns, per sample, ``t_s`` (n,), ``up`` (n, 3) unit up vector in the
    sensor frame, ``gyr_dps`` (n, 3) offset-corrected angular velocity and ``acc_m_s2``.
    Rows with non-finite input are dropped (they are gaps, not data).
    """

    def __init__(self, settings: AnalysisSettings, sampling_rate_hz: float) -> None:
        self._settings = settings
        self._rate_hz = float(sampling_rate_hz)
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(
            imufusion.AhrsSettings(
                sample_rate=self._rate_hz,
                convention=imufusion.CONVENTION_NWU,
                gain=settings.ahrs_gain,
                gyroscope_range=settings.gyroscope_range_dps,
                acceleration_rejection=settings.ahrs_acceleration_rejection_deg,
                magnetic_rejection=0.0,
                rejection_timeout=settings.ahrs_rejection_timeout_s,
            )
        )
        self._bias = imufusion.Bias()
        self._bias.set_settings(
            imufusion.BiasSettings(
                sample_rate=self._rate_hz,
                stationary_threshold=settings.bias_stationary_threshold_dps,
                stationary_period=settings.bias_stationary_period_s,
            )
        )
        self._t_last_s: float | None = None
        self._g_prev: np.ndarray | None = None  # the last corrected rate (bridges gaps)
        self._snap_s = 0.0  # time left to take the tilt from a still sample after a gap
        self._pending: list[tuple] | None = []
        self._pending_t_last: float | None = None
        self.initial_offset_dps: tuple[float, float, float] | None = None
        """Gyroscope offset taken from a still start (deg/s), or None."""

    def update(self, chunk: ImuChunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Process a chunk; returns the rows finished so far (see the class docstring).

        The first ``_PRIME_S`` of samples are held back: when they are still, their mean
        angular velocity is the gyroscope offset to start from and their mean specific
        force the initial tilt (imufusion's own estimator only engages after seconds of
        rest, and a large offset would tilt "up" by offset / gain in the meantime).
        """
        t = chunk.t_s
        acc = chunk.acc_m_s2
        gyr = chunk.gyr_dps
        ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        # Beyond any accelerometer's range: garbage, not data.
        ok &= np.abs(acc).max(axis=1, initial=0.0) <= self._settings.max_acc_m_s2
        quat = chunk.quat_wxyz
        if quat is not None:
            ok &= np.isfinite(quat).all(axis=1) & (np.abs(quat).sum(axis=1) > 0)
        last = self._t_last_s if self._pending is None else self._pending_t_last
        if last is not None:
            ok &= t > last
            # Keep time strictly increasing within the chunk too.
        if not ok.all():
            t, acc, gyr = t[ok], acc[ok], gyr[ok]
            quat = None if quat is None else quat[ok]
        if t.size > 1:
            keep = np.concatenate([[True], np.diff(t) > 0])
            if not keep.all():
                t, acc, gyr = t[keep], acc[keep], gyr[keep]
                quat = None if quat is None else quat[keep]
        if self._pending is not None:
            if t.size:
                self._pending.append((t, acc, gyr, quat))
                self._pending_t_last = float(t[-1])
                t_first = float(self._pending[0][0][0])
                if self._pending_t_last - t_first < _PRIME_S:
                    return _empty()
            else:
                return _empty()
            return self._prime()
        return self._process(t, acc, gyr, quat)

    def flush(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Process samples still held back (end of a recording shorter than the priming)."""
        if self._pending is not None and self._pending:
            return self._prime()
        self._pending = None
        return _empty()

    def _prime(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        parts = self._pending or []
        self._pending = None
        t = np.concatenate([p[0] for p in parts])
        acc = np.concatenate([p[1] for p in parts])
        gyr = np.concatenate([p[2] for p in parts])
        quats = [p[3] for p in parts]
        quat = None if any(q is None for q in quats) else np.concatenate(quats)
        m = t <= t[0] + _PRIME_S
        g_mean = gyr[m].mean(axis=0)
        a_norm = np.linalg.norm(acc[m], axis=1)
        still = (
            float(np.max(np.abs(gyr[m] - g_mean))) < _PRIME_STILL_DPS
            and float(np.max(np.abs(a_norm - GRAVITY_M_S2))) < _PRIME_ACC_TOL_M_S2
        )
        if still:
            self._bias.set_offset(np.asarray(g_mean, dtype=np.float32))
            self.initial_offset_dps = tuple(float(x) for x in g_mean)
            a0 = acc[m].mean(axis=0) / GRAVITY_M_S2
        else:
            a0 = acc[0] / GRAVITY_M_S2
        if quat is None:
            # Start from the measured tilt (heading 0) instead of the identity.
            self._ahrs.set_quaternion(_quat_up_to_z(a0))
        return self._process(t, acc, gyr, quat)

    def _process(
        self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, quat: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = t.shape[0]
        up = np.empty((n, 3))
        gyr_out = np.empty((n, 3))
        if n == 0:
            return t, up, gyr_out, acc
        acc_g = acc / GRAVITY_M_S2
        nominal = 1.0 / self._rate_hz
        max_dt = self._settings.max_sample_period_s
        # Measured sample periods (the first against the previous chunk's last sample).
        dt = np.empty(n)
        dt[1:] = np.minimum(np.diff(t), max_dt)
        dt[0] = nominal if self._t_last_s is None else min(float(t[0]) - self._t_last_s, max_dt)
        # The tight loop: Python lists in, bound methods, no per-sample numpy indexing, and
        # the cyclic garbage collector paused (the loop makes a few small objects per sample
        # and no cycles; the collector's passes over a long session's heap cost ~30 %).
        with paused_gc():
            bias_update = self._bias.update
            # Column lists zipped into tuples (zip reuses its tuple: no per-row list).
            g_rows = [bias_update(g) for g in zip(*(gyr[:, c].tolist() for c in range(3)))]
            gyr_out = np.concatenate(g_rows).reshape(n, 3).astype(np.float64)
            if quat is None:
                ahrs = self._ahrs
                set_period = ahrs.set_sample_period
                fuse = ahrs.update_no_magnetometer
                set_quaternion = ahrs.set_quaternion
                gravity = ahrs.get_gravity
                u_rows = []
                append = u_rows.append
                acc_rows = zip(*(acc_g[:, c].tolist() for c in range(3)))
                gap_dt = _GAP_PERIODS * nominal
                g_prev = self._g_prev
                snap_s = self._snap_s
                for d, g, a in zip(dt.tolist(), g_rows, acc_rows, strict=True):
                    if d > gap_dt and g_prev is not None:
                        # Samples were lost: bridge the gap in nominal steps on the
                        # gyroscope alone (rate interpolated between the samples on each
                        # side, no accelerometer: none was measured). One long step fed the
                        # post-gap specific force for the whole gap: a 0.27 s gap in a
                        # lowering tilted the foot 0.7 deg (now < 0.05 deg).
                        if d > _SNAP_GAP_S:
                            snap_s = _SNAP_WINDOW_S
                        k = round(d / nominal)
                        d = d / k
                        set_period(d)
                        for j in range(1, k):
                            w = j / k
                            fuse((1.0 - w) * g_prev + w * g, gravity())
                    set_period(d)
                    fuse(g, a)
                    if snap_s > 0.0:
                        # A long gap can hide the end of a movement, which the bridge
                        # cannot know (a 0.45 s gap over the end of a rise: up to 5 deg
                        # off). At the first still sample after it, the tilt is the
                        # measured one.
                        snap_s -= d
                        if (
                            abs(g[0]) < _SNAP_STILL_DPS
                            and abs(g[1]) < _SNAP_STILL_DPS
                            and abs(g[2]) < _SNAP_STILL_DPS
                            and abs(math.hypot(*a) - 1.0) < _SNAP_ACC_TOL_G
                        ):
                            set_quaternion(_quat_up_to_z(np.asarray(a)))
                            snap_s = 0.0
                    append(gravity())
                    g_prev = g
                self._g_prev = g_prev
                self._snap_s = snap_s
                up = np.concatenate(u_rows).reshape(n, 3).astype(np.float64)
        self._t_last_s = float(t[-1])
        if quat is not None:
            up = up_from_quaternion(quat)
        norm = np.linalg.norm(up, axis=1, keepdims=True)
        up = up / np.where(norm > 0, norm, 1.0)
        if not math.isfinite(float(up.sum())):
            up = np.nan_to_num(up)
        return t, up, gyr_out, acc


_BESIDE_MIN_SAMPLES = 60_000  # below this the fork and the transfer cost more than they save


_T = TypeVar("_T")


def run_beside(job: Callable[[], _T], n_samples: int) -> Callable[[], _T]:
    """Start ``job`` in a forked child process when that can win; returns a ``result()``
    callable that gives ``job()``'s return value (and runs it here when it was not forked).

    For a batch analysis the two sensors' AHRS loops (imufusion has no batch API and holds
    the interpreter) can run at once. The child is forked only where it is safe and useful:
    a POSIX fork, a single-threaded process (no Qt/BLE threads whose locks a child could
    inherit), not inside a multiprocessing worker (scoring many files already keeps every
    core busy), more than one CPU, and a long enough recording. Any failure in the child
    falls back to computing here, so the result never depends on which path ran.
    """
    if (
        not hasattr(os, "fork")
        or n_samples < _BESIDE_MIN_SAMPLES
        or (os.cpu_count() or 1) < 2
        or threading.active_count() != 1
        or multiprocessing.current_process().daemon
        or multiprocessing.parent_process() is not None
    ):
        return job
    try:
        r, w = os.pipe()
    except OSError:
        return job
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return job
    if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
        code = 0
        try:
            os.close(r)
            data = pickle.dumps(job(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)

    def result() -> _T:
        with os.fdopen(r, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return job()
        return pickle.loads(data)

    return result


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a tight loop (restored afterwards)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    z3 = np.empty((0, 3))
    return np.empty(0), z3, z3.copy(), z3.copy()
