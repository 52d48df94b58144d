"""ReplaySource: every sample exactly once and in order, pacing by speed, seeking, live mode."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import UsageError
from companion.model import Gap, ImuChunk, Placement, SensorInfo, Session
from companion.sources.base import LinkState, LinkStateChanged, SampleSource, SensorStats
from companion.sources.replay import ReplaySource


def _session(n: int = 500, rate_hz: float = 100.0, *, gap: bool = True) -> Session:
    sensors, chunks = [], {}
    for k, seg in enumerate(("shin", "foot")):
        sid = f"{seg}_left"
        sensors.append(
            SensorInfo(
                sensor_id=sid,
                family="simulated",
                placement=Placement(segment=seg, side="left"),
                sampling_rate_hz=rate_hz,
            )
        )
        t = np.arange(n) / rate_hz + 0.003 * k  # the two sensors are not in lockstep
        rows = np.arange(n, dtype=np.float64)[:, None] * np.ones(3)
        chunks[sid] = ImuChunk(
            sensor_id=sid,
            placement=Placement(segment=seg, side="left"),
            t_s=t,
            acc_m_s2=rows,
            gyr_dps=-rows,
            counter=np.arange(n),
        )
    gaps = [Gap(sensor_id="foot_left", t_start_s=1.5, t_end_s=1.6, n_missing=9)] if gap else []
    return Session(sensors=sensors, chunks=chunks, gaps=gaps)


async def _drain(src: ReplaySource) -> list:
    return [item async for item in src]


def _per_sensor(items: list) -> dict[str, np.ndarray]:
    by: dict[str, list[np.ndarray]] = {}
    for it in items:
        if isinstance(it, ImuChunk):
            by.setdefault(it.sensor_id, []).append(it.t_s)
    return {k: np.concatenate(v) for k, v in by.items()}


def test_is_a_sample_source() -> None:
    assert isinstance(ReplaySource(_session()), SampleSource)


@settings(max_examples=25, deadline=None)
@given(tick_s=st.floats(0.001, 0.5), n=st.integers(1, 400))
def test_unpaced_replay_yields_every_sample_once_in_order(tick_s: float, n: int) -> None:
    session = _session(n, gap=False)
    src = ReplaySource(session, speed=0, tick_s=tick_s, end_when_finished=True)
    items = asyncio.run(_drain(src))
    got = _per_sensor(items)
    for sid, chunk in session.chunks.items():
        np.testing.assert_array_equal(got[sid], chunk.t_s)
    # items come in time order across sensors (by each chunk's first sample)
    firsts = [it.t_s[0] for it in items if isinstance(it, ImuChunk)]
    assert firsts == sorted(firsts)


def test_gaps_are_yielded_when_playback_reaches_them() -> None:
    src = ReplaySource(_session(), speed=0, end_when_finished=True)
    items = asyncio.run(_drain(src))
    gaps = [i for i in items if isinstance(i, Gap)]
    assert [g.t_start_s for g in gaps] == [1.5]
    cut = items.index(gaps[0])
    before = [i for i in items[:cut] if isinstance(i, ImuChunk) and i.sensor_id == "foot_left"]
    after = [i for i in items[cut:] if isinstance(i, ImuChunk) and i.sensor_id == "foot_left"]
    assert max(float(c.t_s[-1]) for c in before) <= 1.5
    assert min(float(c.t_s[0]) for c in after) > 1.5


def test_seek_backwards_restarts_and_catches_up_without_pacing() -> None:
    async def go() -> tuple[list, list, int]:
        src = ReplaySource(_session(gap=False), speed=1.0, start_paused=True)
        first, second = [], []
        it = src.__aiter__()

        async def collect_until(out: list, t_s: float) -> None:
            while not any(
                isinstance(i, ImuChunk) and i.sensor_id == "shin_left" and i.t_s[-1] >= t_s
                for i in out
            ):
                out.append(await asyncio.wait_for(it.__anext__(), 1.0))

        assert src.seek(3.0) is False  # forward: catch up at once
        await collect_until(first, 3.0)
        assert src.seek(1.0) is True  # backward: restart from the first sample
        assert src.position_s == src.t_start_s
        await collect_until(second, 1.0)
        await src.close()
        return first, second, src.rewinds

    first, second, rewinds = asyncio.run(go())
    assert rewinds == 1
    t1 = _per_sensor(first)["shin_left"]
    t2 = _per_sensor(second)["shin_left"]
    assert t1[0] == 0.0
    assert t1[-1] == pytest.approx(3.0)
    assert t2[0] == 0.0  # restarted from the first sample
    assert t2[-1] == pytest.approx(1.0)


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("speed", [0.25, 1.0, 4.0, 16.0])
def test_paced_replay_advances_speed_times_wall_time(speed: float) -> None:
    """With a fake wall clock advanced by 1 s in 0.01 s steps, playback moves ``speed`` s."""
    clock = _Clock()

    async def go() -> float:
        src = ReplaySource(_session(5000, gap=False), speed=speed, tick_s=0.001, clock=clock)
        got: list = []

        async def consume() -> None:
            async for item in src:
                got.append(item)

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.01)
        p0 = src.position_s
        for _ in range(100):
            clock.t += 0.01
            await asyncio.sleep(0.003)  # let a tick run
        advanced = src.position_s - p0
        await src.close()
        await asyncio.wait_for(task, 1.0)
        return advanced

    advanced = asyncio.run(go())
    assert advanced == pytest.approx(1.0 * speed, rel=0.02)


def test_pause_stops_and_play_resumes() -> None:
    async def go() -> tuple[float, float, float]:
        src = ReplaySource(_session(gap=False), speed=16.0, tick_s=0.005)

        async def consume() -> None:
            async for _ in src:
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        src.pause()
        await asyncio.sleep(0.02)
        p_paused = src.position_s
        await asyncio.sleep(0.1)
        p_still = src.position_s
        src.play()
        await asyncio.sleep(0.1)
        p_after = src.position_s
        await src.close()
        await asyncio.wait_for(task, 1.0)
        return p_paused, p_still, p_after

    p_paused, p_still, p_after = asyncio.run(go())
    assert p_paused > 0
    assert p_still == p_paused
    assert p_after > p_paused + 0.5  # 0.1 s at 16×, give or take a tick


@pytest.mark.parametrize("bad", [0.1, 20.0, -1.0])
def test_speed_out_of_range_is_one_sentence(bad: float) -> None:
    with pytest.raises(UsageError, match=r"out of range; choose between 0.25× and 16×"):
        ReplaySource(_session(), speed=bad)


def test_empty_session_is_refused() -> None:
    s = _session()
    s.chunks = {}
    with pytest.raises(UsageError, match="no samples"):
        ReplaySource(s)


def test_live_mode_announces_links_reports_stats_and_cannot_seek() -> None:
    src = ReplaySource.live(_session(300), speed=16.0)
    with pytest.raises(UsageError, match="cannot seek"):
        src.seek(1.0)

    async def go() -> list:
        return [item async for item in src]

    items = asyncio.run(go())
    links = [i for i in items if isinstance(i, LinkStateChanged)]
    assert [(i.sensor_id, i.state) for i in links] == [
        ("shin_left", LinkState.STREAMING),
        ("foot_left", LinkState.STREAMING),
    ]
    stats = [i for i in items if isinstance(i, SensorStats)]
    assert stats
    assert all(s.effective_rate_hz == pytest.approx(100.0, rel=0.01) for s in stats)
    foot = [s for s in stats if s.sensor_id == "foot_left"]
    assert foot[-1].loss_pct == pytest.approx(100 * 9 / 300, rel=0.02)
    got = _per_sensor(items)
    assert len(got["shin_left"]) == 300  # the live iteration ends with the session
