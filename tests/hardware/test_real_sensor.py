"""Tests against a real sensor: ``pytest tests/hardware --sensor-address AA:BB:CC:DD:EE:FF``.

Skipped unless ``--sensor-address`` is given (repeat it for a second sensor). They scan,
connect, stream for a few seconds through the same :class:`BleSource` the product uses and
check the rate and the time line; nothing here is emulated.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from companion.model import Gap, ImuChunk, Placement
from companion.sources.base import LinkState, LinkStateChanged
from companion.sources.ble import BleSource, SensorAssignment, resolve_assignments, scan

pytestmark = pytest.mark.hardware


@pytest.fixture
def addresses(request) -> list[str]:
    addrs = request.config.getoption("--sensor-address")
    if not addrs:
        pytest.skip("needs a real sensor: pass --sensor-address ADDR (repeatable)")
    return list(addrs)


def test_scan_sees_the_sensor(addresses):
    found = asyncio.run(scan(10.0))
    seen = {f.address.upper() for f in found}
    for a in addresses:
        assert a.upper() in seen, f"{a} not among {sorted(seen)}"


def test_stream_ten_seconds(addresses):
    segments = ["shin", "foot"]
    wanted = [
        SensorAssignment(address=a, placement=Placement(segment=segments[i % 2], side="left"))
        for i, a in enumerate(addresses[:2])
    ]

    async def main():
        assignments = await resolve_assignments(wanted)
        source = BleSource(assignments)
        chunks: dict[str, list[ImuChunk]] = {}
        gaps: list[Gap] = []
        states: list[LinkStateChanged] = []
        loop = asyncio.get_running_loop()
        async for item in source:
            if isinstance(item, ImuChunk):
                chunks.setdefault(item.sensor_id, []).append(item)
            elif isinstance(item, Gap):
                gaps.append(item)
            elif isinstance(item, LinkStateChanged):
                states.append(item)
            if loop.time() - source.t0_host_s > 10.0:
                await source.close()
        return source, chunks, gaps, states

    source, chunks, gaps, states = asyncio.run(main())
    assert not [s for s in states if s.state == LinkState.FAILED]
    for info in source.sensors:
        c = ImuChunk.concat(chunks[info.sensor_id])
        dt = np.diff(c.t_s)
        assert np.all(dt > 0)
        rate = 1.0 / np.median(dt)
        assert rate == pytest.approx(info.sampling_rate_hz, rel=0.05)
        # at rest the accelerometer reads about 1 g
        g = np.median(np.linalg.norm(c.acc_m_s2, axis=1))
        assert 8.8 < g < 10.8
        lost = sum(x.n_missing for x in gaps if x.sensor_id == info.sensor_id)
        assert lost < 0.1 * len(c)
