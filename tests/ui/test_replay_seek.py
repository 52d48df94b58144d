"""ReplaySource seeks while a step is being yielded: a forward seek loses no sample, a rewind
restarts from the first one (the window seeks from its own tasks while the consumer iterates)."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.model import ImuChunk, Placement, SensorInfo, Session
from companion.sources.replay import ReplaySource


def _session(n: int = 1200, rate_hz: float = 100.0) -> Session:
    sensors, chunks = [], {}
    for k, seg in enumerate(("shin", "foot")):
        sid = f"{seg}_left"
        place = Placement(segment=seg, side="left")
        sensors.append(
            SensorInfo(sensor_id=sid, family="simulated", placement=place, sampling_rate_hz=rate_hz)
        )
        t = np.arange(n) / rate_hz + 0.004 * k
        rows = np.arange(n, dtype=np.float64)[:, None] * np.ones(3)
        chunks[sid] = ImuChunk(sensor_id=sid, placement=place, t_s=t, acc_m_s2=rows, gyr_dps=rows)
    return Session(sensors=sensors, chunks=chunks)


async def _drive(src: ReplaySource, seeks: dict[int, float]) -> list[ImuChunk]:
    """Iterate ``src``; after the k-th item (a key of ``seeks``) seek to ``seeks[k]`` from
    inside the loop, as the window's Page Down run-on and arrow keys do."""
    items: list[ImuChunk] = []
    k = 0
    async for item in src:
        if isinstance(item, ImuChunk):
            items.append(item)
        k += 1
        if k in seeks:
            src.seek(seeks[k])
    return items


@settings(max_examples=30, deadline=None)
@given(
    seeks=st.dictionaries(st.integers(1, 40), st.floats(0.0, 12.0), min_size=1, max_size=4),
    speed=st.sampled_from([0.0, 16.0]),
)
def test_seeks_mid_step_lose_and_repeat_no_sample(seeks: dict[int, float], speed: float) -> None:
    """After the last rewind every sample follows exactly once and in order, whatever
    forward seeks happened in the middle of a step (they used to drop the step's rest)."""
    session = _session()
    src = ReplaySource(session, speed=speed, tick_s=0.001, end_when_finished=True)
    src.seek(0.0)  # unpaced catch-up to the start, as a replay opened at its start does
    items = asyncio.run(asyncio.wait_for(_drive(src, seeks), 60.0))
    for sid, chunk in session.chunks.items():
        got = [c.t_s for c in items if c.sensor_id == sid]
        t = np.concatenate(got)
        # a rewind restarts at the first sample: keep what came after the last restart
        restarts = np.flatnonzero(np.diff(t) <= 0)
        after = t[restarts[-1] + 1 :] if restarts.size else t
        np.testing.assert_array_equal(after, chunk.t_s[: after.size])
        assert after.size == len(chunk)
