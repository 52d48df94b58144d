"""Play a saved or simulated :class:`~companion.model.Session` back in session time.

:class:`ReplaySource` is a :class:`~companion.sources.base.SampleSource`: iterating it yields
every sensor's samples as :class:`~companion.model.ImuChunk` slices, in time order, paced so
that ``speed`` seconds of session time pass per second of wall time (``speed=0`` means "as fast
as the consumer takes them"). It can be paused, sped up or slowed down (0.25–16×) and seeked
while it runs; the window drives these from its transport bar.

Gaps stored in the session are yielded as :class:`~companion.model.Gap` items when playback
reaches them, so a replay looks exactly like the live stream that was recorded.

Seeking backwards restarts playback from the first sample and *catches up* to the target
without pacing: streaming analysis has state, and feeding it the same samples in the same
order is the only way to get the same events as the batch path. The ``generation`` counter
goes up on every seek so a consumer can tell a restart happened (see :attr:`rewinds`).

The simulator-driven live source (``companion live --simulate``) is a replay of a freshly
simulated session at 1× with seeking disabled (:meth:`ReplaySource.live`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from companion.errors import UsageError
from companion.model import Gap, SensorInfo, Session
from companion.sources.base import LinkState, LinkStateChanged, SensorStats, SourceItem

__all__ = ["MAX_SPEED", "MIN_SPEED", "ReplaySource"]

CATCH_UP_STEP_S = 2.0
"""Session seconds yielded per step when playing unpaced or catching up after a seek."""
MIN_SPEED = 0.25
MAX_SPEED = 16.0


class ReplaySource:
    """A session played back in (scaled) session time.

    Parameters
    ----------
    session
        What to play.
    speed
        Session seconds per wall second, ``MIN_SPEED``–``MAX_SPEED``; ``0`` plays unpaced
        (as fast as the consumer iterates; used by tests and the batch-equivalence check).
    tick_s
        Wall-clock period of the playback loop, s. Each tick yields the samples whose time
        has come (``tick_s * speed`` session seconds per sensor).
    start_paused
        Start in the paused state (the window's replay does; live simulation does not).
    seekable
        ``False`` for a live-like source: :meth:`seek` raises.
    clock
        Monotonic wall clock in seconds (tests inject a fake one).
    end_when_finished
        End the iteration after the last sample (default: only when not seekable; a
        seekable replay waits at the end for a seek backwards).
    emit_link_states
        Yield a ``streaming`` :class:`LinkStateChanged` per sensor at the start and periodic
        :class:`SensorStats`, like a live source (used by the simulated live mode).
    """

    def __init__(
        self,
        session: Session,
        *,
        speed: float = 1.0,
        tick_s: float = 0.02,
        start_paused: bool = False,
        seekable: bool = True,
        clock: Callable[[], float] = time.monotonic,
        emit_link_states: bool = False,
        end_when_finished: bool | None = None,
    ) -> None:
        if not session.chunks or not any(len(c) for c in session.chunks.values()):
            msg = "the session holds no samples; record or simulate one with samples first"
            raise UsageError(msg)
        self._session = session
        self._chunks = {k: c for k, c in session.chunks.items() if len(c)}
        self._t0_s = min(float(c.t_s[0]) for c in self._chunks.values())
        self._t_end_s = max(float(c.t_s[-1]) for c in self._chunks.values())
        self._gaps = sorted(session.gaps, key=lambda g: g.t_start_s)
        self._tick_s = float(tick_s)
        self._clock = clock
        self._seekable = seekable
        self._emit_link = emit_link_states
        self._end_when_finished = (not seekable) if end_when_finished is None else end_when_finished
        self._wake = asyncio.Event()
        self._speed = 0.0
        self.set_speed(speed)
        self._paused = bool(start_paused)
        self._closed = False
        self._position_s = self._t0_s
        self._catch_up_to_s: float | None = None
        self._started_catch_up = False
        self.generation = 0
        """Incremented by every seek; a consumer resets its state when it changes backwards."""
        self.rewinds = 0
        """How many seeks went backwards (playback restarted from the first sample)."""
        self._finished = False

    # -- SampleSource -----------------------------------------------------------------------
    @property
    def sensors(self) -> list[SensorInfo]:
        return list(self._session.sensors)

    @property
    def session(self) -> Session:
        return self._session

    def __aiter__(self) -> AsyncIterator[SourceItem]:
        return self._run()

    async def close(self) -> None:
        self._closed = True
        self._wake.set()

    # -- transport ------------------------------------------------------------------------------
    @classmethod
    def live(cls, session: Session, **kwargs: object) -> ReplaySource:
        """A live-like source: 1×, not seekable, with link states and sensor statistics."""
        kwargs.setdefault("speed", 1.0)
        return cls(session, seekable=False, emit_link_states=True, **kwargs)  # type: ignore[arg-type]

    @property
    def t_start_s(self) -> float:
        return self._t0_s

    @property
    def t_end_s(self) -> float:
        return self._t_end_s

    @property
    def duration_s(self) -> float:
        return self._t_end_s - self._t0_s

    @property
    def position_s(self) -> float:
        """Session time up to which samples have been yielded."""
        return self._position_s

    @property
    def cursor_s(self) -> float:
        """Where playback is heading: a pending seek's target, else :attr:`position_s`
        (so two quick "forward 5 s" presses move 10 s)."""
        return self._catch_up_to_s if self._catch_up_to_s is not None else self._position_s

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        """All samples have been yielded (a seek backwards clears it)."""
        return self._finished

    @property
    def seekable(self) -> bool:
        return self._seekable

    def set_speed(self, speed: float) -> None:
        """Session seconds per wall second, 0.25–16 (``0`` = unpaced)."""
        speed = float(speed)
        if speed != 0.0 and not MIN_SPEED <= speed <= MAX_SPEED:
            msg = (
                f"replay speed {speed:g}× is out of range; "
                f"choose between {MIN_SPEED:g}× and {MAX_SPEED:g}×"
            )
            raise UsageError(msg)
        self._speed = speed
        self._wake.set()

    def play(self) -> None:
        self._paused = False
        self._wake.set()

    def pause(self) -> None:
        self._paused = True

    def toggle(self) -> bool:
        """Play if paused, pause if playing; returns the new ``paused`` state."""
        if self._paused:
            self.play()
        else:
            self.pause()
        return self._paused

    def seek(self, t_s: float) -> bool:
        """Move playback to session time ``t_s`` (clamped to the session).

        Forward: the samples in between are yielded at once (unpaced), so the analysis sees
        them. Backward: playback restarts from the first sample and catches up to ``t_s``
        unpaced; returns ``True`` in that case so the caller resets its analysis state.
        """
        if not self._seekable:
            msg = "this source is live and cannot seek; open a recording with `companion replay`"
            raise UsageError(msg)
        t = min(max(float(t_s), self._t0_s), self._t_end_s)
        self.generation += 1
        backwards = t < self._position_s
        if backwards:
            self.rewinds += 1
            self._position_s = self._t0_s
            self._finished = False
            self._started_catch_up = False
        self._catch_up_to_s = t
        self._wake.set()
        return backwards

    # -- the playback loop ------------------------------------------------------------------
    def _items_between(self, t_from_s: float, t_to_s: float, *, first: bool) -> list[SourceItem]:
        """Samples with ``t_from < t <= t_to`` (``t_from <= t`` for the first slice) and the
        gaps that start in that interval, in time order; a sensor's slice is cut at its gaps
        so each gap comes after the samples before it and before the ones after it."""

        def starts_in(g: Gap) -> bool:
            lo_ok = t_from_s <= g.t_start_s if first else t_from_s < g.t_start_s
            return lo_ok and g.t_start_s <= t_to_s

        gaps = [g for g in self._gaps if starts_in(g)]
        items: list[tuple[float, int, SourceItem]] = []
        for order, chunk in enumerate(self._chunks.values()):
            i0 = int(np.searchsorted(chunk.t_s, t_from_s, side="left" if first else "right"))
            i1 = int(np.searchsorted(chunk.t_s, t_to_s, side="right"))
            cuts = sorted(
                int(np.searchsorted(chunk.t_s, g.t_start_s, side="right"))
                for g in gaps
                if g.sensor_id == chunk.sensor_id
            )
            for a, b in zip([i0, *cuts], [*cuts, i1]):
                a, b = max(a, i0), min(b, i1)
                if b > a:
                    items.append((float(chunk.t_s[a]), order, chunk.slice(a, b)))
        items += [(g.t_start_s, len(self._chunks), g) for g in gaps]
        items.sort(key=lambda x: (x[0], x[1]))
        return [it for _, _, it in items]

    def _stats(self, t_s: float) -> list[SensorStats]:
        out = []
        for s in self._session.sensors:
            if s.sensor_id not in self._chunks:
                continue
            missing = sum(g.n_missing for g in self._gaps if g.sensor_id == s.sensor_id)
            c = self._chunks[s.sensor_id]
            span = max(float(c.t_s[-1] - c.t_s[0]), 1e-9)
            expected = span * s.sampling_rate_hz + 1
            out.append(
                SensorStats(
                    sensor_id=s.sensor_id,
                    t_s=t_s,
                    effective_rate_hz=float((len(c) - 1) / span) if len(c) > 1 else 0.0,
                    loss_pct=float(100.0 * missing / expected),
                    last_packet_age_s=0.0,
                )
            )
        return out

    async def _run(self) -> AsyncIterator[SourceItem]:
        if self._emit_link:
            for s in self._session.sensors:
                yield LinkStateChanged(
                    sensor_id=s.sensor_id,
                    state=LinkState.STREAMING,
                    t_s=self._t0_s,
                    message=f"{s.sensor_id} is streaming ({s.family}).",
                )
        first = True
        last_wall = self._clock()
        last_stats_s = -1e9
        while not self._closed:
            if self._finished or (self._paused and self._catch_up_to_s is None):
                self._wake.clear()
                await self._wake.wait()
                last_wall = self._clock()
                continue
            generation = self.generation
            rewinds = self.rewinds
            if self._catch_up_to_s is not None:
                # Catch up in steps of CATCH_UP_STEP_S so the consumer (the window) stays
                # responsive and shows progress while a long recording is fed.
                if self._position_s == self._t0_s and not self._started_catch_up:
                    first = True
                self._started_catch_up = True
                target = min(self._catch_up_to_s, self._position_s + CATCH_UP_STEP_S)
                if target >= self._catch_up_to_s:
                    self._catch_up_to_s = None
                    self._started_catch_up = False
            elif self._speed == 0.0:
                target = self._position_s + CATCH_UP_STEP_S
            else:
                await asyncio.sleep(self._tick_s)
                if self._closed or self.generation != generation:
                    continue
                if self._paused:
                    continue
                now = self._clock()
                # Never jump more than 0.5 s of wall time at once (a stalled loop, a debugger).
                target = self._position_s + min(now - last_wall, 0.5) * self._speed
                last_wall = now
            target = min(target, self._t_end_s)
            items = self._items_between(self._position_s, target, first=first)
            first = False
            self._position_s = target
            for item in items:
                # Only a rewind abandons this step: a forward seek meanwhile continues from
                # ``target`` (these items are before it, and dropping them would lose samples).
                if self._closed or self.rewinds != rewinds:
                    break
                yield item
            if target >= self._t_end_s and self.rewinds == rewinds:
                self._finished = True
            if self._emit_link and target - last_stats_s >= 1.0:
                last_stats_s = target
                for st in self._stats(target):
                    yield st
            if self._speed == 0.0:
                await asyncio.sleep(0)
            if self._finished and self._end_when_finished:
                return
