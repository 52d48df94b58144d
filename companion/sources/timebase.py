"""Sample time reconstruction: device counters/timestamps or host arrival times → session time.

Pure: numpy only, no clock, no asyncio. The BLE source feeds each decoded packet together with
the host's arrival time (``loop.time()``, a monotonic clock) and gets back the same packet with
one session time per sample, plus a :class:`~companion.model.Gap` wherever samples are missing.

How time is built
=================

Every sensor has a *sample axis* ``x`` (seconds):

* families with device time (``calf``, Movesense, DOT): ``x`` is the device's own time of each
  sample (``Samples.t_dev_s``), so jitter on the radio never reaches the sample times;
* families without (WitMotion, MetaMotion streaming): ``x = k / rate`` where ``k`` counts
  samples since the connection started, *including the ones that were lost* (see below).

``x`` is mapped to the session clock by a straight line fitted to the **lower envelope** of
``d = t_host - x`` (arrival time minus sample axis): a sample can arrive late (connection
interval, OS scheduling, a stalled link) but never before it was measured, so the smallest
``d`` in each block of ``ENVELOPE_BLOCK_S`` is the best estimate of "sample time + minimum
latency". A least-squares line through the last ``ENVELOPE_WINDOW_BLOCKS`` block minima gives
the offset and its slope: the slope *is* the slow skew between the sensor's crystal and the
host clock, so all sensors end up on the one host-based session clock and stay there.

Gaps
====

* Device time: a jump of more than 1.5 periods between consecutive samples is a gap of
  ``round(jump / period) - 1`` samples; a sample at or before the previous one is a duplicate
  and is dropped.
* No device time: a lost sample shifts the arrival times of *all later samples* one period
  later than the envelope predicts. Because one late notification looks the same as one lost
  sample, samples are held for ``horizon_s`` (default 0.15 s, several connection intervals)
  and a gap is declared only when the smallest excess delay over everything that arrived since
  reaches a whole period (less a margin, :data:`EXCESS_MARGIN`). This costs ``horizon_s``
  of display latency for these families and makes bursts (a stalled link delivering many
  notifications at once) harmless.
* A reconnect (:meth:`SensorClock.new_connection`) always ends in a gap with
  ``reason="disconnected"`` between the last sample before and the first after.

Nothing is ever interpolated: a gap is reported, never filled.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from companion.model import Gap

__all__ = [
    "ENVELOPE_BLOCK_S",
    "ENVELOPE_WINDOW_BLOCKS",
    "ClockFit",
    "SensorClock",
    "Stamped",
    "StreamStats",
]

ENVELOPE_BLOCK_S = 1.0
"""Length of one envelope block on the sample axis, s: long enough that most blocks hold a
sample that arrived with the minimum latency (dozens of connection events), short enough that
the fit follows crystal drift (tens of ppm → tens of µs per block)."""
ENVELOPE_WINDOW_BLOCKS = 60
"""Blocks in the skew fit (one minute): the slope of 50 ppm crystals is resolved to a few ppm."""
MIN_BLOCKS_FOR_SLOPE = 8
"""Below this many completed blocks the fit is a constant offset (the slope would be noise)."""
REANCHOR_S = 0.5
"""After a reconnect, device time that disagrees with the running fit by more than this is
treated as a restarted device clock (new epoch) instead of a continuation."""
PACKETS_PER_BLOCK = 10
"""An envelope block spans at least this many packets (see ``SensorClock._size_blocks``)."""
WARMUP_MIN_PACKETS = 4
"""Device time: packets seen before the first samples of an epoch are stamped."""
MAX_DEVICE_SKEW = 1e-3
"""Largest crystal error believed for a device clock (1000 ppm; real ones are ±20–100 ppm)."""
EXCESS_MARGIN = 0.15
"""Tolerance, in periods, for the envelope sitting above a sample's true minimum latency.
Without device time, a lost sample is found exactly while the spread of the link latency
(connection interval + OS jitter) stays below ``1 − EXCESS_MARGIN`` periods; with a longer
connection interval the totals stay exact but a gap can land a sample or two off."""
MAX_EXCESS_MARGIN = 0.45
"""Upper limit of the adaptive margin (see ``SensorClock._margin``)."""
SPREAD_WINDOW_PACKETS = 200
"""Finalised packets whose latency above the envelope sets the adaptive margin."""
SPREAD_QUANTILE = 98.0
"""Percentile of those latencies taken as the link's spread (a few late packets ignored)."""
LOSS_FOLLOWS = 0.2
"""A packet whose excess delay is this many periods below that of every packet after it is
followed by a loss (with one sample per connection event its own latency is at most the
connection interval, so the next packets sit at least ``T − interval`` higher)."""
LOCAL_PACKETS = 12
"""Finalised packets whose smallest latency is the local floor of the envelope (several
cycles of the connection-event pattern, short against the sawtooth of its minimum)."""


class ClockFit:
    """Lower-envelope line ``offset(x) = c0 + c1·(x − x_ref)`` of ``d = t − x``.

    ``add(x, d)`` takes samples in increasing ``x``; ``offset(x)`` evaluates the line. The
    line never lies above the minimum of the block being filled, so a sudden latency drop
    (or the first seconds) is taken into account at once.
    """

    def __init__(
        self,
        *,
        block_s: float = ENVELOPE_BLOCK_S,
        window_blocks: int = ENVELOPE_WINDOW_BLOCKS,
        max_below_s: float | None = None,
        max_skew: float | None = None,
    ) -> None:
        self.block_s = float(block_s)
        self.max_below_s = max_below_s
        self.max_skew = max_skew
        self._blocks: deque[tuple[float, float]] = deque(maxlen=int(window_blocks))
        self._cur_id: int | None = None
        self._cur_x = 0.0
        self._cur_d = math.inf
        self._c0 = 0.0
        self._c1 = 0.0
        self._x_ref = 0.0
        self._fitted = False
        self.rejected = 0

    @property
    def empty(self) -> bool:
        return self._cur_id is None

    @property
    def skew(self) -> float:
        """Fitted slope: host seconds per sample-axis second minus one (e.g. 5e-5 = 50 ppm)."""
        return self._c1

    def add(self, x: np.ndarray, d: np.ndarray) -> None:
        ids = np.floor(np.asarray(x) / self.block_s).astype(np.int64)
        for bid in np.unique(ids):
            sel = ids == bid
            dx = d[sel]
            if self.max_below_s is not None and self._fitted:
                # a point far below the line is an index error upstream, not a faster link
                ok = dx >= self.offset(x[sel]) - self.max_below_s
                if not ok.all():
                    self.rejected += int((~ok).sum())
                    if not ok.any():
                        continue
                    dx = np.where(ok, dx, np.inf)
            i = int(np.argmin(dx))
            xm, dm = float(x[sel][i]), float(dx[i])
            if self._cur_id is None or bid == self._cur_id:
                self._cur_id = int(bid)
                if dm < self._cur_d:
                    self._cur_x, self._cur_d = xm, dm
            elif bid > self._cur_id:
                self._blocks.append((self._cur_x, self._cur_d))
                self._cur_id = int(bid)
                self._cur_x, self._cur_d = xm, dm
                self._refit()
            # samples of an older block (cannot happen with increasing x) are ignored

    def _refit(self) -> None:
        n = len(self._blocks)
        if n == 0:
            return
        xs = np.array([b[0] for b in self._blocks])
        ds = np.array([b[1] for b in self._blocks])
        self._x_ref = float(xs[-1])
        if n < MIN_BLOCKS_FOR_SLOPE:
            self._c0, self._c1 = float(ds.min()), 0.0
        else:
            xr = xs - self._x_ref
            c1, c0 = np.polyfit(xr, ds, 1)
            # A block whose minimum sits far above the line saw no prompt arrival (a partial
            # block, a decoder that held a packet): it is not part of the envelope. Refit
            # without such upper outliers.
            resid = ds - (c0 + c1 * xr)
            mad = float(np.median(np.abs(resid)))
            keep = resid <= 3.0 * mad + 0.0005
            if keep.sum() >= MIN_BLOCKS_FOR_SLOPE and not keep.all():
                c1, c0 = np.polyfit(xr[keep], ds[keep], 1)
            if self.max_skew is not None and abs(c1) > self.max_skew:
                c1 = math.copysign(self.max_skew, c1)
                c0 = float(np.min(ds - c1 * xr))
            self._c0, self._c1 = float(c0), float(c1)
        self._fitted = True

    def offset(self, x: np.ndarray | float) -> np.ndarray:
        xa = np.asarray(x, dtype=np.float64)
        if self._cur_id is None:
            msg = "ClockFit.offset called before any sample was added"
            raise RuntimeError(msg)
        if not self._fitted:
            return np.full(xa.shape, self._cur_d)
        line = self._c0 + self._c1 * (xa - self._x_ref)
        # never above the envelope of the block being filled
        excess = self._c0 + self._c1 * (self._cur_x - self._x_ref) - self._cur_d
        if excess > 0:
            line = line - excess
        return line


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Stamped:
    """A pushed packet with its session times.

    ``keep`` selects the samples to use (``None``: all of them); samples outside it were
    duplicates. ``gap_before`` is the gap that ends at this packet's first kept sample.
    """

    payload: object
    t_s: np.ndarray
    t_host_s: float
    keep: np.ndarray | None = None
    gap_before: Gap | None = None
    x_s: np.ndarray | None = None
    """Sample-axis values (device time or k/rate), for diagnostics."""


@dataclass(slots=True)
class _Pending:
    payload: object
    t_host_s: float
    n: int


class SensorClock:
    """Session times and gaps for one sensor's stream (see the module docstring).

    Parameters
    ----------
    sensor_id
        Used in the :class:`Gap` items.
    rate_hz
        Nominal sampling rate.
    t0_host_s
        Host time of session ``t_s = 0``.
    has_device_time
        Whether pushed packets carry ``t_dev_s``.
    horizon_s
        Hold time for families without device time (see module docstring).
    warmup_s
        Device time: the first packets of a session are held this long so the envelope has
        seen enough arrivals before the first sample is stamped.
    """

    def __init__(
        self,
        *,
        sensor_id: str,
        rate_hz: float,
        t0_host_s: float,
        has_device_time: bool,
        horizon_s: float = 0.15,
        warmup_s: float = 0.5,
        block_s: float = ENVELOPE_BLOCK_S,
        window_blocks: int = ENVELOPE_WINDOW_BLOCKS,
    ) -> None:
        if rate_hz <= 0:
            msg = f"rate_hz must be positive, got {rate_hz}"
            raise ValueError(msg)
        self.sensor_id = sensor_id
        self.rate_hz = float(rate_hz)
        self.period_s = 1.0 / self.rate_hz
        self.t0_host_s = float(t0_host_s)
        self.has_device_time = bool(has_device_time)
        self.horizon_s = float(horizon_s)
        self._block_s = block_s
        self._window_blocks = window_blocks
        self._fit = self._new_fit()
        self._pending: deque[_Pending] = deque()
        self.warmup_s = float(warmup_s)
        self._warmup: list[tuple[float, int, object, np.ndarray]] | None = (
            [] if has_device_time and warmup_s > 0 else None
        )
        self._k_next = 0  # next sample index (no device time)
        self._spread: deque[float] = deque(maxlen=LOCAL_PACKETS)
        self._above: deque[float] = deque(maxlen=SPREAD_WINDOW_PACKETS)
        self._missing_so_far = 0  # cumulative lost samples inside the pending window
        self._last_x: float | None = None
        self._last_t: float | None = None
        self._reconnected = False
        self._x_shift = 0.0  # device-time epoch shift after a restarted device clock
        self.samples_out = 0
        self.samples_missing = 0
        self.duplicates_dropped = 0
        self.gaps = 0

    def _new_fit(self) -> ClockFit:
        return ClockFit(
            block_s=self._block_s,
            window_blocks=self._window_blocks,
            # without device time an over-counted gap shows as samples one period "early";
            # the envelope must not follow them (it would make every later gap one too big)
            max_below_s=None if self.has_device_time else 0.5 * self.period_s,
            # crystals are within a few hundred ppm; without device time the axis is k/rate
            # and a cheap sensor's real rate can be percent away from its nominal one
            max_skew=MAX_DEVICE_SKEW if self.has_device_time else None,
        )

    # -- public ------------------------------------------------------------------------
    @property
    def skew(self) -> float:
        return self._fit.skew

    def new_connection(self) -> list[Stamped]:
        """The link was lost and re-established: the next sample starts after a gap.

        Returns the packets still held from the old connection (call it when the link
        drops, or at the latest before pushing the first packet of the new connection).
        """
        out = self.flush(math.inf, force=True)
        if self._warmup is not None:
            self._warmup = None
        self._reconnected = True
        if not self.has_device_time:
            # counting restarts: the old epoch's fit does not describe the new k axis
            self._fit = self._new_fit()
            self._k_next = 0
            self._spread.clear()  # relative to the old fit; the link's spread (_above) stays
        return out

    def push(
        self,
        t_host_s: float,
        n: int,
        payload: object,
        t_dev_s: np.ndarray | None = None,
    ) -> list[Stamped]:
        """A packet of ``n`` samples arrived at host time ``t_host_s``.

        Returns the packets whose times are final (device time: this one at once; otherwise
        those older than the horizon). Call :meth:`flush` regularly (and with ``force`` at the
        end of a connection) to release held packets.
        """
        if n <= 0:
            return []
        if self.has_device_time:
            if t_dev_s is None or len(t_dev_s) != n:
                msg = f"{self.sensor_id}: device-time family pushed without t_dev_s"
                raise ValueError(msg)
            t_dev = np.asarray(t_dev_s, np.float64)
            if self._reconnected and self._last_x is not None and not self._fit.empty:
                self._maybe_reanchor(t_host_s, t_dev)
            if self._warmup is not None:
                # first packets of the session: learn the envelope before stamping anything
                x = t_dev + self._x_shift
                self._fit.add(x[-1:], np.array([t_host_s - self.t0_host_s - x[-1]]))
                self._warmup.append((t_host_s, n, payload, t_dev))
                return self.flush(t_host_s)
            return [self._stamp_device(t_host_s, n, payload, t_dev)]
        out: list[Stamped] = []
        self._pending.append(_Pending(payload=payload, t_host_s=float(t_host_s), n=int(n)))
        out.extend(self.flush(t_host_s))
        return out

    def flush(self, now_host_s: float, *, force: bool = False) -> list[Stamped]:
        """Release held packets that arrived more than ``horizon_s`` before ``now_host_s``."""
        out: list[Stamped] = []
        if self._warmup:
            long_enough = now_host_s - self._warmup[0][0] >= self.warmup_s
            # at least a few packets (a batching sensor may send one every half second)
            if force or (long_enough and len(self._warmup) >= WARMUP_MIN_PACKETS):
                held, self._warmup = self._warmup, None
                self._size_blocks(held)
                out.extend(self._stamp_device(*h) for h in held)
            return out
        while self._pending and (force or self._pending[0].t_host_s <= now_host_s - self.horizon_s):
            out.append(self._stamp_arrival())
        return out

    # -- device time -------------------------------------------------------------------
    def _stamp_device(self, t_host_s: float, n: int, payload: object, t_dev: np.ndarray) -> Stamped:
        h = t_host_s - self.t0_host_s
        x = t_dev + self._x_shift
        gap: Gap | None = None
        keep: np.ndarray | None = None
        T = self.period_s
        if self._last_x is not None:
            fresh = x > self._last_x + 0.5 * T
            if not fresh.all():
                self.duplicates_dropped += int((~fresh).sum())
                if not fresh.any():
                    return Stamped(
                        payload=payload,
                        t_s=np.full(n, np.nan),
                        t_host_s=t_host_s,
                        keep=fresh,
                        x_s=x,
                    )
                keep = fresh
        xk = x if keep is None else x[keep]
        # envelope: the last sample of a packet is the one sent right before the packet
        self._fit.add(xk[-1:], np.array([h - xk[-1]]))
        t = xk + self._fit.offset(xk)
        t = self._monotonic(t)
        if self._last_x is not None or self._reconnected:
            gap = self._gap_between(t[0], xk[0])
        self._reconnected = False
        self._last_x = float(xk[-1])
        self._last_t = float(t[-1])
        self.samples_out += len(xk)
        if keep is not None:
            full = np.full(n, np.nan)
            full[keep] = t
            t = full
        return Stamped(payload=payload, t_s=t, t_host_s=t_host_s, keep=keep, gap_before=gap, x_s=x)

    def _size_blocks(self, held: list[tuple[float, int, object, np.ndarray]]) -> None:
        """Envelope blocks must hold several packets: a sensor that batches many samples per
        notification (Polar: ~0.7 s per frame) gets proportionally longer blocks."""
        n_typ = float(np.median([h[1] for h in held]))
        block = max(ENVELOPE_BLOCK_S, PACKETS_PER_BLOCK * n_typ * self.period_s)
        if block == self._block_s:
            return
        self._block_s = block
        self._fit = self._new_fit()
        for t_host, _, _, t_dev in held:
            x = t_dev + self._x_shift
            self._fit.add(x[-1:], np.array([t_host - self.t0_host_s - x[-1]]))

    def _maybe_reanchor(self, t_host_s: float, t_dev: np.ndarray) -> None:
        """After a reconnect: does the device clock continue where it was? If it paused
        (device time counts streamed samples), restarted or wrapped, start a new epoch on
        the host's time line and learn its envelope again (warm-up)."""
        h = t_host_s - self.t0_host_s
        x = t_dev + self._x_shift
        x_pred = h - float(self._fit.offset(x[-1]))
        assert self._last_x is not None
        if abs(x_pred - x[-1]) > REANCHOR_S or x[0] <= self._last_x:
            self._x_shift += x_pred - x[-1]
            self._fit = self._new_fit()
            self._last_x = None
            if self.warmup_s > 0:
                self._warmup = []

    def _gap_between(self, t_first: float, x_first: float) -> Gap | None:
        if self._last_t is None:
            return None
        T = self.period_s
        reason = "disconnected" if self._reconnected else "dropped"
        if self._last_x is not None and not self._reconnected:
            jump = x_first - self._last_x
        else:
            jump = t_first - self._last_t
        n_missing = max(0, round(jump / T) - 1)
        if n_missing == 0 and reason == "dropped":
            return None
        self.samples_missing += n_missing
        self.gaps += 1
        return Gap(
            sensor_id=self.sensor_id,
            t_start_s=self._last_t,
            t_end_s=float(t_first),
            n_missing=int(n_missing),
            reason=reason,
        )

    def _monotonic(self, t: np.ndarray) -> np.ndarray:
        """Keep times strictly increasing across packets (fit updates move them slightly)."""
        if self._last_t is None:
            return t
        floor = self._last_t + 0.1 * self.period_s
        if t[0] < floor:
            t = t + (floor - t[0])
        return t

    # -- arrival time ------------------------------------------------------------------
    def _margin(self) -> float:
        """Tolerance, in periods, for the envelope sitting above the latency of the samples
        being decided.

        The smallest latency in a block is not constant: connection events and samples drift
        through each other (crystal skew), so it follows a sawtooth whose downward steps
        (2.5 ms for 10 ms samples and a 7.5 ms connection interval) leave the fitted envelope
        above the new minimum for a while. The margin is as large as the observed latency
        spread allows (a lost sample still adds a whole period above the largest latency
        seen), so a step never hides a lost sample; never below ``EXCESS_MARGIN``.
        """
        if len(self._above) < 20:
            return EXCESS_MARGIN
        q = float(np.percentile(np.fromiter(self._above, float), SPREAD_QUANTILE))
        return min(MAX_EXCESS_MARGIN, max(EXCESS_MARGIN, 1.0 - q / self.period_s - 0.05))

    def _local_floor(self) -> float:
        """Smallest latency above the envelope among the last few finalised packets."""
        return min(self._spread) if self._spread else 0.0

    def _stamp_arrival(self) -> Stamped:
        T = self.period_s
        first = self._pending[0]
        # tentative indices of everything pending, contiguous after the last finalised one
        ns = np.array([p.n for p in self._pending])
        hs = np.array([p.t_host_s - self.t0_host_s for p in self._pending])
        last_idx = self._k_next + np.cumsum(ns) - 1  # index of each packet's last sample
        x_last = last_idx * T
        d = hs - x_last
        if self._fit.empty:
            # nothing fitted yet: anchor on the smallest delay among pending packets
            self._fit.add(x_last[:1], np.array([d.min()]))
        excess = d - self._fit.offset(x_last) - self._local_floor()
        e0 = float(excess[0])
        rest = float(np.min(excess[1:])) if len(excess) > 1 else math.inf
        smin = min(e0, rest)  # suffix minimum from the first pending packet on
        # latency is at least the envelope and at most envelope + spread, so m lost samples
        # put the excess in [m·T, m·T + spread): floor, with a margin for envelope noise
        if rest >= e0 + LOSS_FOLLOWS * T:
            # everything after this packet is later by a good part of a period: a loss follows
            # it. Its own excess is then the only evidence, and a high one is a late
            # arrival (the largest latency of the pattern), not a loss before it.
            m = max(0, math.floor(e0 / T + EXCESS_MARGIN))
        else:
            m = max(0, math.floor(smin / T + self._margin()))
        if self._reconnected and self._last_t is not None:
            m = 0  # a new epoch: the gap comes from the session clock, not from k
        self._pending.popleft()
        k0 = self._k_next + m
        n = first.n
        x = (k0 + np.arange(n)) * T
        h = first.t_host_s - self.t0_host_s
        if not (self._reconnected and self._last_t is not None):
            e = float(h - x[-1] - self._fit.offset(x[-1]))
            self._above.append(e - self._local_floor())
            self._spread.append(e)
        self._fit.add(x[-1:], np.array([h - x[-1]]))
        t = x + self._fit.offset(x)
        t = self._monotonic(t)
        gap: Gap | None = None
        if self._last_t is not None:
            if self._reconnected:
                gap = self._gap_between(float(t[0]), float(x[0]))
            elif m > 0:
                self.samples_missing += m
                self.gaps += 1
                gap = Gap(
                    sensor_id=self.sensor_id,
                    t_start_s=self._last_t,
                    t_end_s=float(t[0]),
                    n_missing=m,
                    reason="dropped",
                )
        self._reconnected = False
        self._k_next = k0 + n
        self._last_x = float(x[-1])
        self._last_t = float(t[-1])
        self.samples_out += n
        return Stamped(payload=first.payload, t_s=t, t_host_s=first.t_host_s, gap_before=gap, x_s=x)


@dataclass(slots=True)
class StreamStats:
    """Running statistics of one sensor's stream (effective rate, loss, age, latency).

    Pure bookkeeping: the caller passes host times in.
    """

    window_s: float = 2.0
    received: int = 0
    missing: int = 0
    last_arrival_host_s: float | None = None
    last_latency_s: float | None = None
    _arrivals: deque[tuple[float, int]] = field(default_factory=deque)

    def on_samples(self, t_host_s: float, n: int, latency_s: float | None) -> None:
        self.received += n
        self.last_arrival_host_s = t_host_s
        self.last_latency_s = latency_s
        self._arrivals.append((t_host_s, n))

    def on_missing(self, n: int) -> None:
        self.missing += n

    def effective_rate_hz(self, now_host_s: float) -> float:
        """Samples per second over the last ``window_s`` of arrivals.

        The window ends at the last arrival while it is recent (samples may be released a
        little late, see ``SensorClock.horizon_s``), else at ``now_host_s`` so a stalled
        stream shows a falling rate.
        """
        end = now_host_s
        if self.last_arrival_host_s is not None and now_host_s - self.last_arrival_host_s < 0.5:
            end = self.last_arrival_host_s
        while self._arrivals and self._arrivals[0][0] <= end - self.window_s:
            self._arrivals.popleft()
        n = sum(k for t, k in self._arrivals if t <= end)
        return n / self.window_s

    @property
    def loss_pct(self) -> float:
        total = self.received + self.missing
        return 100.0 * self.missing / total if total else 0.0

    def age_s(self, now_host_s: float) -> float:
        if self.last_arrival_host_s is None:
            return math.inf
        return max(0.0, now_host_s - self.last_arrival_host_s)
